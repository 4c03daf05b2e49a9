// Refreshes every element that names its source in data-src (the dashboard's live entries,
// the guard booth's waiting list) every five seconds from the hub (no libraries).
"use strict";
(function () {
  async function refresh(box) {
    try {
      const response = await fetch(box.dataset.src, { credentials: "same-origin" });
      if (response.ok) box.innerHTML = await response.text();
    } catch (err) {
      // The hub is out of reach for a moment: keep showing what was last shown.
    }
  }
  for (const box of document.querySelectorAll("[data-src]")) {
    setInterval(() => refresh(box), 5000);
  }
})();
