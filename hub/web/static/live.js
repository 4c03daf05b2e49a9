// Refreshes the dashboard's live entries every five seconds from the hub (no libraries).
"use strict";
(function () {
  const box = document.getElementById("live");
  if (!box) return;
  async function refresh() {
    try {
      const response = await fetch(box.dataset.src, { credentials: "same-origin" });
      if (response.ok) box.innerHTML = await response.text();
    } catch (err) {
      // The hub is out of reach for a moment: keep showing the last entries.
    }
  }
  setInterval(refresh, 5000);
})();
