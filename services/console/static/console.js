// The console's only script (served by the console itself: CSP default-src 'self').
// Pages work without it; it adds the page's select-all box and auto-refresh that keeps
// the filters (they are in the URL) and the selection (kept in sessionStorage).
(function () {
  "use strict";
  var selectionKey = "mpwh-selection:" + location.pathname + location.search;

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[name="event_id"][type="checkbox"]'));
  }

  function saveSelection() {
    var chosen = boxes().filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    sessionStorage.setItem(selectionKey, JSON.stringify(chosen));
  }

  function restoreSelection() {
    var saved = JSON.parse(sessionStorage.getItem(selectionKey) || "[]");
    boxes().forEach(function (b) { if (saved.indexOf(b.value) >= 0) { b.checked = true; } });
  }

  document.addEventListener("DOMContentLoaded", function () {
    restoreSelection();
    var all = document.getElementById("select-page");
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        saveSelection();
      });
    }
    boxes().forEach(function (b) { b.addEventListener("change", saveSelection); });
    var selection = document.getElementById("selection");
    if (selection) {
      selection.addEventListener("submit", function () { sessionStorage.removeItem(selectionKey); });
    }
    var refresh = document.getElementById("f-refresh");
    if (refresh) {
      refresh.addEventListener("change", function () { document.getElementById("filters").submit(); });
      var seconds = parseInt(refresh.getAttribute("data-refresh"), 10);
      if (seconds > 0) {
        setTimeout(function () { saveSelection(); location.reload(); }, seconds * 1000);
      }
    }
  });
})();
