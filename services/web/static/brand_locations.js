// Brand locations (issue #16): a "choose all on this page" box above the list's checkboxes.
// Without script each location is ticked on its own; the form works the same.
(function () {
  "use strict";
  document.querySelectorAll("th.loc-pick-all").forEach(function (cell) {
    var table = cell.closest("table");
    if (!table) { return; }
    var boxes = table.querySelectorAll("tbody input[type=checkbox][name=location_id]");
    if (!boxes.length) { return; }
    var all = document.createElement("input");
    all.type = "checkbox";
    all.setAttribute("aria-label", cell.getAttribute("data-label") || "");
    cell.textContent = "";
    cell.appendChild(all);
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    table.addEventListener("change", function (event) {
      if (event.target === all) { return; }
      var ticked = Array.prototype.filter.call(boxes, function (box) { return box.checked; });
      all.checked = ticked.length === boxes.length;
      all.indeterminate = ticked.length > 0 && ticked.length < boxes.length;
    });
  });
})();
