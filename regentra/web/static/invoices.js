// The invoice page: small improvements only; the page works without this file.
(function () {
  "use strict";

  // A sent invoice: ask the server now and then whether it changed (paid through the
  // webhook, bank payment processing, overdue) and reload the page when it did. Quick at
  // first (the client may be paying right now), slower later, paused in hidden tabs.
  var invoice = document.getElementById("invoice");
  var url = invoice && invoice.getAttribute("data-poll-url");
  if (!url || !window.fetch) { return; }
  var status = invoice.getAttribute("data-status");
  var processing = invoice.getAttribute("data-processing") === "true";
  var delay = 3000;
  var started = Date.now();
  var check = function () {
    if (document.hidden) { return schedule(); }
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (now) {
      if (now.status !== status || now.processing !== processing) {
        window.location.reload();
        return;
      }
      schedule();
    }).catch(function () {
      delay = Math.min(delay * 2, 60000);
      schedule();
    });
  };
  var schedule = function () {
    if (Date.now() - started > 10 * 60 * 1000) { delay = Math.max(delay, 30000); }
    window.setTimeout(check, delay);
  };
  schedule();
})();
