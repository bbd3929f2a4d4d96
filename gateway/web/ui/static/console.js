// Times arrive in UTC (kept as the hover title); show them in the viewer's time zone.
(function () {
  "use strict";
  var full = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" };
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) { el.textContent = at.toLocaleString(undefined, full); }
    });
    root.querySelectorAll("text[data-ts]").forEach(function (el) {
      var at = new Date(Number(el.getAttribute("data-ts")) * 1000);
      el.textContent = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSettle", function () { localize(document); });
  // Back to a page kept whole in the back/forward cache: it is stale, and a form already sent would still
  // hold what was typed, one click from being sent twice. Ask the gateway again (forms that send something
  // are autocomplete="off", so they come back empty).
  window.addEventListener("pageshow", function (event) { if (event.persisted) { location.reload(); } });
})();
