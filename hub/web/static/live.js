// Refreshes every element that names its source in data-src (the dashboard's live entries,
// the guard booth's waiting list and temporary vehicles) from the hub, every data-poll-ms of
// this script's tag (the hub's ui_poll_s; five seconds unless configured). No libraries.
"use strict";
(function () {
  const STALE_AFTER = 2; // failed refreshes in a row before the list is marked out of date
  const POLL_MS = Number(document.currentScript && document.currentScript.dataset.pollMs) || 5000;

  function mark(box, stale) {
    box.classList.toggle("stale", stale);
    const note = box.dataset.stale && document.getElementById(box.dataset.stale);
    if (note) note.hidden = !stale;
  }

  async function refresh(box, state) {
    try {
      const response = await fetch(box.dataset.src, { credentials: "same-origin" });
      if (response.redirected) {
        // The session has ended: show the login page, not inside the list but instead of it.
        window.location.reload();
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      box.innerHTML = await response.text();
      state.failures = 0;
    } catch (err) {
      // The hub is out of reach: keep the last list, and say it may be out of date.
      state.failures += 1;
    }
    mark(box, state.failures >= STALE_AFTER);
  }

  for (const box of document.querySelectorAll("[data-src]")) {
    const state = { failures: 0 };
    setInterval(() => refresh(box, state), POLL_MS);
  }
})();
