// Small conveniences only: every page works without this file.
(function () {
  "use strict";
  document.querySelectorAll("[data-select-all]").forEach(function (toggle) {
    var name = toggle.getAttribute("data-select-all");
    var boxes = document.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    if (!boxes.length) { return; }
    toggle.hidden = false;
    toggle.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = toggle.checked; });
    });
  });
})();
