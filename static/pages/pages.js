// After a form comes back with errors, move the focus to its error summary, so that screen
// readers read it out and keyboard users start from it (the GOV.UK pattern).
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-focus-on-load]");
  if (summary) {
    summary.focus();
  }
});

// The enrolment funnel: tell the server once, with a same-origin beacon, that the visitor
// started filling in the form (its first focus on a field).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-started-beacon]");
  if (form) {
    form.addEventListener(
      "focusin",
      () => navigator.sendBeacon(form.dataset.startedBeacon),
      { once: true },
    );
  }
});
