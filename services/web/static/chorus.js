// Progressive enhancement only: every page and form works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // A form marked data-confirm asks before it is sent ("Sign out this session?").
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
});
