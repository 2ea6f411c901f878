"use strict";
// The pairing page: the code goes to the server once, the key it answers with is kept in
// this browser's storage, and the counter opens.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("pairing");
  const form = document.getElementById("pair-form");
  const input = document.getElementById("pairing-code");
  const field = document.getElementById("pairing-code-field");
  const error = document.getElementById("pairing-code-error");
  const button = form.querySelector("button[type=submit]");

  const current = Terminal.pairing();
  if (current) {
    document.getElementById("paired-already-text").textContent = Terminal.text("paired", {
      merchant: current.merchant,
      store: current.store_name || current.store,
    });
    document.getElementById("paired-already").hidden = false;
  }

  function showError(sentence) {
    error.textContent = sentence;
    error.hidden = !sentence;
    field.classList.toggle("field--error", Boolean(sentence));
    if (sentence) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    button.disabled = true;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
        },
        body: JSON.stringify({ code: input.value }),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      showError(Terminal.errors.offline);
      button.disabled = false;
      return;
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.status === 201 && body && body.key) {
      Terminal.savePairing(body);
      window.location.assign(root.dataset.counterUrl);
      return;
    }
    if (response.status === 403 && body === null) {
      // Django's CSRF refusal is a page, not JSON: the form was too old.
      showError(Terminal.errors.csrf_failed);
      button.disabled = false;
      return;
    }
    const retryAfter = response.headers.get("Retry-After");
    showError(
      body && body.code === "rate_limited"
        ? Terminal.text("pair_rate_limited", { seconds: retryAfter })
        : Terminal.errorSentence(response.status, body, retryAfter),
    );
    button.disabled = false;
  });
});
