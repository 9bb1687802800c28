// Progressive enhancement: the campaign page's progress refreshes itself every few seconds
// while the campaign is under way; when its status changes (launching → running, …) the
// whole page is read again, for the actions that status allows. Without this file a reload
// shows the same.
"use strict";
(function () {
  var PERIOD_MS = 5000;
  function statusOf(root) {
    var found = root.querySelector("[data-campaign-status]");
    return found ? found.getAttribute("data-campaign-status") : null;
  }
  function reloadWithoutNotice() {
    var url = new URL(window.location.href);
    url.searchParams.delete("done");  // the notice of the action that was done before
    window.location.replace(url.toString());
  }
  function refresh(box) {
    var url = box.getAttribute("data-refresh");
    if (!url || document.hidden) { return; }
    // Not under the keyboard's feet: a focused link or button (Remind them) would be lost.
    if (box.contains(document.activeElement)) { return; }
    url += window.location.search;  // the same page of locations, the same status
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var parsed = new DOMParser().parseFromString(html, "text/html");
        if (statusOf(parsed) !== statusOf(box)) { reloadWithoutNotice(); return; }
        box.replaceChildren.apply(box, Array.from(parsed.body.childNodes));
      })
      .catch(function () { /* the next round tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("campaign-progress");
    if (!box || !box.hasAttribute("data-refresh")) { return; }
    window.setInterval(function () { refresh(box); }, PERIOD_MS);
  });
})();
