// pgcube dashboard, the databases pages: rows of declared fields and collections added in place.
// The forms work without it (three field rows, one collection); the inputs are named
// c<i>-… and c<i>-f<j>-…, read back by pgcube.dashboard.pages.collection_form.
"use strict";

(() => {
  const renumber = (root, pattern, replacement) => {
    for (const element of root.querySelectorAll("[id], [name], [for], [aria-describedby]")) {
      for (const attribute of ["id", "name", "for", "aria-describedby"]) {
        const value = element.getAttribute(attribute);
        if (value) element.setAttribute(attribute, value.replace(pattern, replacement));
      }
    }
  };

  const clear = (root) => {
    for (const input of root.querySelectorAll("input:not([type=checkbox])")) input.value = "";
    for (const select of root.querySelectorAll("select")) select.selectedIndex = 0;
    for (const box of root.querySelectorAll("input[type=checkbox]")) {
      box.checked = box.name.endsWith("-index");  // a new field is indexed, as the API's default
      box.disabled = false;
    }
  };

  // A field of a type that has no index (object, array, any) cannot be indexed or unique.
  const follow = (row) => {
    const select = row.querySelector("[data-field-type]");
    const unindexable = select.selectedOptions[0]?.hasAttribute("data-unindexable") ?? false;
    for (const box of row.querySelectorAll("[data-scalar-only]")) {
      box.disabled = unindexable;
      if (unindexable) box.checked = false;
    }
  };

  const addField = (fieldset) => {
    const body = fieldset.querySelector(".field-rows tbody");
    const rows = body.querySelectorAll(".field-row");
    const row = rows[rows.length - 1].cloneNode(true);
    const number = rows.length;
    renumber(row, /-f\d+-/, `-f${number}-`);
    for (const label of row.querySelectorAll("[data-row-label]")) {
      label.textContent = label.textContent.replace(/\d+/, String(number + 1));
    }
    clear(row);
    body.append(row);
    row.querySelector("input").focus();
  };

  const addCollection = (button) => {
    const list = button.previousElementSibling;
    const fieldsets = list.querySelectorAll(".collection-rows");
    const fieldset = fieldsets[fieldsets.length - 1].cloneNode(true);
    const number = fieldsets.length;
    renumber(fieldset, /^c\d+-/, `c${number}-`);
    for (const row of [...fieldset.querySelectorAll(".field-row")].slice(1)) row.remove();
    clear(fieldset);
    for (const select of fieldset.querySelectorAll("select:not([data-field-type])")) select.value = "none";
    list.querySelectorAll("[data-collection-legend]").forEach((legend, index) => {
      legend.textContent = `Collection ${index + 1}`;
    });
    fieldset.querySelector("[data-collection-legend]").textContent = `Collection ${number + 1}`;
    list.append(fieldset);
    fieldset.querySelector("input").focus();
  };

  // Shown only where this script runs: without it the buttons would do nothing.
  const reveal = () => {
    for (const button of document.querySelectorAll("[data-add-field], [data-add-collection]")) button.hidden = false;
    for (const row of document.querySelectorAll(".field-row")) follow(row);
  };

  // Loaded once per page load (base.html): the listeners are delegated, and rows swapped in by a
  // boosted navigation are revealed after htmx settles them.
  document.addEventListener("click", (event) => {
    const field = event.target.closest("[data-add-field]");
    if (field) addField(field.closest(".collection-rows"));
    const collection = event.target.closest("[data-add-collection]");
    if (collection) addCollection(collection);
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-field-type]")) follow(event.target.closest(".field-row"));
  });
  document.addEventListener("htmx:afterSettle", reveal);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reveal);
  else reveal();
})();
