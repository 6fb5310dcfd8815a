// The dashboard's charts (Chart.js, served from /static/vendor): paid per month and the
// overdue aging bar. The figures are on the page without this file (the tables, the
// aging line); the charts only draw them.
(function () {
  "use strict";
  if (!window.Chart) { return; }
  var style = getComputedStyle(document.documentElement);
  var color = function (name, fallback) { return style.getPropertyValue(name).trim() || fallback; };
  var accent = color("--accent", "#1f5fbf");
  var muted = color("--muted", "#5d6b7d");
  // Aging: from "late" to "very late", in the page's own warning colours.
  var aging = ["#e0a526", "#d9782b", "#c4492c", color("--danger", "#b4232c")];
  Chart.defaults.color = muted;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var currency = canvas.getAttribute("data-currency");
    var labels = canvas.getAttribute("data-labels").split("|");
    var values = canvas.getAttribute("data-values").split("|").map(Number);
    var money = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
    var tooltip = { callbacks: { label: function (item) {
      return (item.dataset.label ? item.dataset.label + ": " : "") + money.format(item.raw);
    } } };
    var config;
    if (canvas.getAttribute("data-chart") === "paid") {
      config = {
        type: "bar",
        data: { labels: labels, datasets: [{ label: "Paid", data: values, backgroundColor: accent }] },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: false }, tooltip: tooltip },
          scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } } }
        }
      };
    } else {
      config = {
        type: "bar",
        data: {
          labels: [currency],
          datasets: labels.map(function (bucket, i) {
            return { label: bucket + " days", data: [values[i]], backgroundColor: aging[i] };
          })
        },
        options: {
          indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { tooltip: tooltip, legend: { position: "bottom" } },
          scales: { x: { stacked: true, beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } },
                    y: { stacked: true, display: false } }
        }
      };
    }
    new Chart(canvas, config);
  });
})();
