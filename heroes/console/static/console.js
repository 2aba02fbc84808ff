// The console's only script, served by the console itself (the CSP allows nothing else).
// Progressive: every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy the shareable link of a search.
  for (const button of document.querySelectorAll("button.copy-link")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      const url = new URL(button.dataset.href, window.location.href).href;
      navigator.clipboard.writeText(url).then(() => { button.textContent = "copied"; });
    });
  }
  // Changing an alert filter applies it.
  for (const select of document.querySelectorAll("form.filters select")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Acknowledging needs a confirmation, since it changes what others see.
  for (const form of document.querySelectorAll("form.ack-form")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.confirmed === "1") return;
      event.preventDefault();
      form.dataset.confirmed = "1";
      form.querySelector("button").textContent = "Confirm acknowledgement";
    });
  }
});
