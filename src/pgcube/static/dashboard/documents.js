// pgcube dashboard, the collection pages: the import form uploads with XMLHttpRequest, so the page
// can show the upload's progress, then shows the API's answer. Without this script the form is
// posted by htmx (hx-boost), which carries the CSRF header too.
"use strict";

function importToken(form) {
  const field = form.querySelector('input[name="_csrf"]');
  return field ? field.value : "";
}

function showImportAnswer(html, status) {
  const current = document.getElementById("import-result");
  const answer = new DOMParser().parseFromString(html, "text/html");
  const result = answer.getElementById("import-result");
  if (result && current) {
    current.replaceWith(document.importNode(result, true));
    return;
  }
  // Not the import's own answer (a refusal page): show its message.
  const message = answer.querySelector("[role=alert]");
  if (current) {
    const paragraph = document.createElement("p");
    paragraph.className = "error";
    paragraph.setAttribute("role", "alert");
    paragraph.textContent = message ? message.textContent : `The upload failed (HTTP ${status}).`;
    current.replaceChildren(paragraph);
  }
}

// Capture phase on the document: runs before htmx's own submit handler on the form, which then
// never sees the event.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-import")) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  const progress = document.getElementById("import-progress");
  const status = document.getElementById("import-status");
  const button = form.querySelector('button[type="submit"]');
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-CSRF-Token", importToken(form));
  xhr.setRequestHeader("HX-Request", "true");
  xhr.setRequestHeader("HX-Target", "import-result");
  xhr.upload.addEventListener("progress", (progressEvent) => {
    if (!progressEvent.lengthComputable) return;
    const percent = Math.round((progressEvent.loaded / progressEvent.total) * 100);
    progress.value = percent;
    status.textContent = `Uploading: ${percent}%`;
  });
  xhr.upload.addEventListener("load", () => {
    progress.removeAttribute("value"); // indeterminate while the server writes the documents
    status.textContent = "Uploaded; importing…";
  });
  xhr.addEventListener("load", () => {
    const redirect = xhr.getResponseHeader("HX-Redirect"); // signed out meanwhile: to the sign-in page
    if (redirect) {
      window.location.assign(redirect);
      return;
    }
    progress.hidden = true;
    status.textContent = "";
    button.disabled = false;
    showImportAnswer(xhr.responseText, xhr.status);
  });
  xhr.addEventListener("error", () => {
    progress.hidden = true;
    button.disabled = false;
    status.textContent = "The upload failed: the connection was lost.";
  });
  progress.value = 0;
  progress.hidden = false;
  button.disabled = true;
  status.textContent = "Uploading…";
  xhr.send(new FormData(form));
}, true);
