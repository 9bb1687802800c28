// The live preview of the approval and compose pages (progressive enhancement: without this
// file each page's "Preview" button re-renders the page with the same preview). As the person
// types, the form is sent to POST /preview (debounced; nothing is written there), and the
// answer, rendered by the server, replaces the preview; each slot's problem is put next to it.
"use strict";
(function () {
  var DELAY_MS = 300;

  function enhance(form) {
    var target = document.querySelector('[data-preview-for="' + form.id + '"]');
    // Only the summary ("2 problems to fix") is announced, not the whole preview per key.
    var status = document.querySelector('[data-preview-status="' + form.id + '"]');
    var tokenField = form.querySelector('input[name="csrf_token"]');
    if (!target || !tokenField || !window.fetch) { return; }
    var timer = null;
    var sent = 0;

    function showProblems(problems) {
      form.querySelectorAll("[data-slot]").forEach(function (input) {
        var name = input.getAttribute("data-slot");
        var problem = document.getElementById(input.id + "-problem");
        var message = problems[name] || "";
        if (problem) {
          problem.textContent = message;
          problem.hidden = !message;
        }
        if (message) { input.setAttribute("aria-invalid", "true"); }
        else { input.removeAttribute("aria-invalid"); }
      });
    }

    function refresh() {
      var number = ++sent;
      var body = new URLSearchParams(new FormData(form));
      body.delete("action");
      fetch(form.getAttribute("data-preview"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": tokenField.value, "Accept": "application/json" },
        body: body
      }).then(function (response) {
        if (!response.ok) { throw new Error("preview " + response.status); }
        return response.json();
      }).then(function (answer) {
        if (number !== sent) { return; }  // a newer preview is on its way
        target.innerHTML = answer.html;  // our own server-rendered, escaped partial
        showProblems(answer.problems || {});
        var summary = target.querySelector(".preview-summary");
        if (status && summary) { status.textContent = summary.textContent.trim(); }
        target.removeAttribute("aria-busy");
      }).catch(function () {
        // The page still works: the Preview button re-renders it on the server.
        target.removeAttribute("aria-busy");
      });
    }

    function later() {
      target.setAttribute("aria-busy", "true");
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.setAttribute("data-live", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-preview]").forEach(enhance);
  });
})();
