"use strict";
// What the counter's pages share: the tablet's pairing kept on the device, and the sentences
// the server translated for the page (the JSON block #counter-texts).
window.Terminal = (() => {
  const PAIRING = "loyalty.counter.pairing";
  const data = JSON.parse(document.getElementById("counter-texts").textContent);

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, name) =>
      name in values ? String(values[name]) : match,
    );
  }

  function text(name, values = {}) {
    return format(data.texts[name], values);
  }

  // One sentence in the staff member's language for an answer of the server: by its stable
  // `code`, the fields of invalid input added; never the raw body.
  function errorSentence(status, body, retryAfter) {
    const code = body && typeof body.code === "string" ? body.code : "";
    const sentence = Object.hasOwn(data.errors, code)
      ? data.errors[code]
      : data.errors.unexpected;
    const parts = [format(sentence, { seconds: retryAfter || 1, status })];
    if (code === "invalid" && body.fields && typeof body.fields === "object") {
      for (const field of Object.keys(body.fields)) {
        if (Object.hasOwn(data.fields, field)) parts.push(data.fields[field]);
      }
    }
    return parts.join(" ");
  }

  function pairing() {
    try {
      const saved = JSON.parse(localStorage.getItem(PAIRING));
      return saved && typeof saved.key === "string" ? saved : null;
    } catch {
      return null;
    }
  }

  function savePairing(value) {
    localStorage.setItem(PAIRING, JSON.stringify(value));
  }

  function forgetPairing() {
    localStorage.removeItem(PAIRING);
  }

  return {
    activity: data.activity,
    errors: data.errors,
    errorSentence,
    fields: data.fields,
    forgetPairing,
    format,
    pairing,
    savePairing,
    text,
  };
})();
