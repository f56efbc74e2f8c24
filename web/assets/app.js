// The dashboard's only script of its own. Pages work without it; with it:
// - times show in the browser's zone (the server writes UTC into <time datetime>);
// - a button with data-confirm asks before its form is sent.
(function () {
  "use strict";
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
        el.title = el.getAttribute("datetime");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSettle", function (e) { localTimes(e.target); });
  document.addEventListener("submit", function (e) {
    var button = e.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { e.preventDefault(); }
  }, true);
})();
