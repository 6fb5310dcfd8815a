// Small conveniences only: every page works without this file.
(function () {
  "use strict";
  // Phones show each table row as a card (app.css): each cell gets its column's name from
  // the header row, unless the template gave it one (data-label).
  document.querySelectorAll("table.table").forEach(function (table) {
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head) { return; }
    var names = [];
    Array.prototype.forEach.call(head.cells, function (cell) {
      for (var i = 0; i < cell.colSpan; i++) { names.push(cell.textContent.trim()); }
    });
    var rows = [];
    Array.prototype.forEach.call(table.tBodies, function (body) {
      rows = rows.concat(Array.prototype.slice.call(body.rows));
    });
    if (table.tFoot) { rows = rows.concat(Array.prototype.slice.call(table.tFoot.rows)); }
    rows.forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        if (cell.tagName === "TD" && !cell.hasAttribute("data-label") && names[column]) {
          cell.setAttribute("data-label", names[column]);
        }
        column += cell.colSpan;
      });
    });
  });

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

  // After a form error (the `form_error` macro, web/forms.py FormMessage): the input it is
  // about is marked aria-invalid, linked to the message (aria-describedby) and focused; the
  // input is the one named data-field in the form after the message (else the one whose
  // label reads data-label). A message about no one field takes the focus itself.
  var problem = document.getElementById("form-error");
  if (problem) {
    var after = function (el) {
      return problem.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING;
    };
    var usable = function (el) {
      return el.type !== "hidden" && !el.disabled && !el.closest("#search-form");
    };
    var posted = function (el) {  // a form that was sent (POST) before a filter form (GET)
      var form = el.form || el.closest("form");
      return !(form && (form.getAttribute("method") || "get").toLowerCase() === "get");
    };
    var pick = function (list) {
      list = Array.prototype.filter.call(list, usable);
      var pool = list.filter(posted).length ? list.filter(posted) : list;
      return pool.filter(after)[0] || pool[0] || null;
    };
    var field = problem.getAttribute("data-field");
    var label = problem.getAttribute("data-label");
    var input = field ? pick(document.getElementsByName(field)) : null;
    if (!input && label) {
      var wanted = label.toLowerCase();
      input = pick(Array.prototype.filter.call(document.querySelectorAll("label[for]"), function (l) {
        return l.textContent.trim().toLowerCase().indexOf(wanted) === 0;
      }).map(function (l) { return document.getElementById(l.getAttribute("for")); })
        .filter(Boolean));
    }
    if (input) {
      input.setAttribute("aria-invalid", "true");
      var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
      if (described.indexOf("form-error") < 0) { described.unshift("form-error"); }
      input.setAttribute("aria-describedby", described.join(" "));
      input.focus();
    } else {
      problem.focus();
    }
  }
})();
