// pgcube dashboard: the little behaviour htmx does not give (no inline handlers: the page's CSP forbids them).
"use strict";

// A button with data-copy="<selector>" copies that field's value.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select();
    document.execCommand("copy");
  }
  button.textContent = "Copied";
});

// A form with data-confirm="…" asks first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// A request for a part of a page (a table's next page, the editor, the query's plan) is answered
// with that part, or, when the page cannot be shown at all (its database is gone, the session is
// refused), with the whole error page: that replaces the page instead of going inside the part.
document.addEventListener("htmx:beforeSwap", (event) => {
  const detail = event.detail;
  const wholePage = /^\s*<!doctype html>/i.test(detail.serverResponse);
  if (detail.xhr.status < 400 || !wholePage || detail.target === document.body) return;
  detail.target = document.body;
  detail.swapOverride = "innerHTML";
  detail.selectOverride = "unset";  // an hx-select names a part of the page this is not
});
