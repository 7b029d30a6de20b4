// Frontdesk dashboard: progressive enhancement only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Tenant switcher and filters submit on change.
  for (const el of document.querySelectorAll("select[data-autosubmit]")) {
    el.addEventListener("change", () => el.form && el.form.submit());
  }
  // Destructive buttons ask first.
  for (const el of document.querySelectorAll("[data-confirm]")) {
    el.addEventListener("click", (ev) => {
      if (!window.confirm(el.getAttribute("data-confirm"))) ev.preventDefault();
    });
  }
  // Copy buttons for secrets shown once.
  for (const el of document.querySelectorAll("[data-copy]")) {
    el.addEventListener("click", async () => {
      const target = document.getElementById(el.getAttribute("data-copy"));
      if (!target) return;
      try {
        await navigator.clipboard.writeText(target.textContent.trim());
        el.textContent = el.getAttribute("data-copied") || "✓";
      } catch (_) {
        window.getSelection().selectAllChildren(target);
      }
    });
  }
});
