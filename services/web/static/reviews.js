// Reviews: choosing a reply template fills the reply box at once (without this file, the
// chooser's own button reloads the page with the box filled).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-fills]").forEach(function (select) {
    var box = document.getElementById(select.getAttribute("data-fills"));
    if (!box) { return; }
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (option && option.hasAttribute("data-text")) {
        box.value = option.getAttribute("data-text");
        box.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
  });
});
