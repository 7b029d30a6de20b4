// Frontdesk knowledge base: uploads the chosen files to the upload API, one request per file,
// with the session's CSRF token, then reloads the page. Served at /app/knowledge/upload.js.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-upload]");
  if (!form) return;
  const error = form.querySelector("[data-upload-error]");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = form.querySelector("input[type=file]").files;
    const csrf = form.querySelector("input[name=_csrf]").value;
    const tags = (form.querySelector("input[name=upload_tags]") || { value: "" }).value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    error.textContent = "";
    try {
      for (const file of files) {
        const url = form.getAttribute("data-upload") + "?filename=" + encodeURIComponent(file.name) +
          (tags ? "&tags=" + encodeURIComponent(tags) : "");
        const res = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": file.type || "application/octet-stream", "x-csrf-token": csrf },
          body: file,
        });
        if (!res.ok) {
          let detail = res.status + " " + res.statusText;
          try {
            const problem = await res.json();
            detail = problem.detail || (problem.errors && problem.errors[0] && problem.errors[0].message) || problem.title;
          } catch (_) { /* not problem+json */ }
          throw new Error(file.name + ": " + detail);
        }
      }
      window.location.assign("/app/knowledge?notice=uploaded");
    } catch (e) {
      error.textContent = e.message;
      button.disabled = false;
    }
  });
});
