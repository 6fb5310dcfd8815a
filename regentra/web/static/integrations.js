// Settings → Integrations: small improvements only; the page works without this file.
(function () {
  "use strict";

  // Test connection without reloading the page, so typed keys stay in their fields.
  var form = document.getElementById("stripe-form");
  var testButton = document.getElementById("stripe-test");
  if (!form || !testButton || !window.fetch || !window.DOMParser) { return; }
  testButton.addEventListener("click", function (event) {
    event.preventDefault();
    var current = document.getElementById("stripe-test-result");
    testButton.disabled = true;
    if (current) {
      current.hidden = false;
      current.className = "flash";
      current.removeAttribute("data-ok");
      current.textContent = "Testing the connection with Stripe…";
    }
    fetch(testButton.getAttribute("formaction"), {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var result = page.getElementById("stripe-test-result");
      var error = page.getElementById("form-error");
      var target = document.getElementById("stripe-test-result");
      if (!target) { return; }
      if (result && !result.hidden) {
        target.replaceWith(document.importNode(result, true));
      } else {
        target.hidden = false;
        target.className = "flash flash-error";
        target.setAttribute("role", "alert");
        target.setAttribute("data-ok", "false");
        target.textContent = error ? error.textContent : "The test could not run; try again.";
      }
      var lastTest = page.getElementById("stripe-last-test");
      var here = document.getElementById("stripe-last-test");
      if (lastTest && here) { here.textContent = lastTest.textContent; }
    }).catch(function () {
      form.action = testButton.getAttribute("formaction");
      form.submit();
    }).finally(function () {
      testButton.disabled = false;
    });
  });
})();
