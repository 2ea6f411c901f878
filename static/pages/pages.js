// After a form comes back with errors, move the focus to its error summary, so that screen
// readers read it out and keyboard users start from it (the GOV.UK pattern).
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-focus-on-load]");
  if (summary) {
    summary.focus();
  }
});
