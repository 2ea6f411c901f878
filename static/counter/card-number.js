"use strict";
// Card numbers as loyalty/card_numbers.py makes them: 12 digits, the last a Luhn check digit.
// Checked here so that a mistyped number is caught before any request.
window.CardNumber = (() => {
  const LENGTH = 12;

  function checkDigit(payload) {
    let total = 0;
    [...payload].reverse().forEach((char, index) => {
      let digit = Number(char);
      if (index % 2 === 0) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      total += digit;
    });
    return String((10 - (total % 10)) % 10);
  }

  // The canonical number for what was typed or scanned, or null if it cannot be one.
  function normalize(raw) {
    const number = String(raw || "").replace(/[\s-]/g, "");
    if (number.length !== LENGTH || !/^[0-9]+$/.test(number)) return null;
    return checkDigit(number.slice(0, -1)) === number.slice(-1) ? number : null;
  }

  function display(number) {
    return number.match(/.{1,4}/g).join(" ");
  }

  return { checkDigit, normalize, display };
})();
