// Progressive enhancement of the campaign builder: when the template, the audience or the
// schedule changes, the page asks the server to check the form ("Check", nothing saved) and
// shows the locations the audience reaches, the spread of the schedule and the values the
// template uses. Without this file the Check button does the same.
"use strict";
(function () {
  var WAIT_MS = 400;
  var PARTS = ["reach", "spread"];
  function check(form) {
    var data = new FormData(form);
    data.set("action", "check");
    fetch(form.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": data.get("csrf_token") || "" }
    })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var parsed = new DOMParser().parseFromString(html, "text/html");
        PARTS.forEach(function (id) {
          var now = document.getElementById(id), fresh = parsed.getElementById(id);
          if (now && fresh && now.textContent !== fresh.textContent) {
            now.textContent = fresh.textContent;
          }
        });
        var values = document.getElementById("campaign-values");
        var freshValues = parsed.getElementById("campaign-values");
        if (values && freshValues && form.dataset.template !== data.get("template")) {
          form.dataset.template = data.get("template") || "";
          values.replaceChildren.apply(values, Array.from(freshValues.childNodes));
        }
      })
      .catch(function () { /* the Check button still works */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("campaign-builder");
    if (!form) { return; }
    form.dataset.template = new FormData(form).get("template") || "";
    var timer = null;
    form.addEventListener("change", function (event) {
      var values = document.getElementById("campaign-values");
      if (values && values.contains(event.target)) { return; }  // typing a value: keep it
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { check(form); }, WAIT_MS);
    });
  });
})();
