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

  // Copy buttons (a webhook URL, a payment link): shown only when JavaScript runs; without
  // it the text stays selectable.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var done = document.getElementById(button.id + "-done");
    if (!source) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var value = source.textContent.trim();
      var say = function (message) { if (done) { done.textContent = message; } };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try {
          say(document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C to copy.");
        } catch (e) {
          say("Selected: press Ctrl+C to copy.");
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(function () { say("Copied."); }, fallback);
      } else {
        fallback();
      }
    });
  });
})();
