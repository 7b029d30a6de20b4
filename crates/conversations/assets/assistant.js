// Frontdesk assistant settings: add and remove FAQ rows in place. Progressive enhancement only:
// without this file the form always offers one blank row and a "remove" checkbox per entry.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const rows = document.getElementById("faq-rows");
  const add = document.querySelector("[data-faq-add]");
  if (!rows || !add) return;
  let next = Number(rows.getAttribute("data-next")) || rows.children.length + 1;
  // The server always ends the list with a blank row: the model for new ones.
  const last = rows.querySelector("[data-faq-row]:last-of-type");
  const blank = last ? last.cloneNode(true) : null;

  const enhance = (row) => {
    for (const el of row.querySelectorAll("[data-nojs]")) el.hidden = true;
    const remove = row.querySelector("[data-faq-remove]");
    if (!remove) return;
    remove.hidden = false;
    remove.addEventListener("click", () => {
      const focusNext = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      if (!rows.querySelector("[data-faq-row]")) addRow();
      const target = focusNext && focusNext.isConnected ? focusNext.querySelector("input") : null;
      if (target) target.focus();
    });
  };

  /** A blank row with fresh names and ids (the server reads any numbers, in order). */
  const addRow = () => {
    if (!blank) return null;
    const row = blank.cloneNode(true);
    const n = next++;
    for (const el of row.querySelectorAll("[id], [name], [for]")) {
      for (const attr of ["id", "name", "for"]) {
        const v = el.getAttribute(attr);
        if (v) el.setAttribute(attr, v.replace(/faq-\d+-/, "faq-" + n + "-"));
      }
    }
    for (const el of row.querySelectorAll("input, textarea")) {
      if (el.type === "checkbox") el.checked = false;
      else el.value = "";
    }
    for (const el of row.querySelectorAll(".error")) el.remove();
    for (const el of row.querySelectorAll(".invalid")) el.classList.remove("invalid");
    rows.append(row);
    enhance(row);
    return row;
  };

  for (const row of rows.querySelectorAll("[data-faq-row]")) enhance(row);
  add.hidden = false;
  add.addEventListener("click", () => {
    const row = addRow();
    const input = row && row.querySelector("input");
    if (input) input.focus();
  });
});
