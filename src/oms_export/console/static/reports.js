// Draws each report's chart from the numbers its page carries in a
// <script type="application/json"> block (no inline script runs: the page's CSP allows
// scripts from /console/static only). Without JavaScript the tables show the same numbers.
(function () {
  "use strict";
  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof Chart === "undefined") return;
    var spec = JSON.parse(source.textContent);
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: [{ label: spec.label, data: spec.values, backgroundColor: "#3a6ea5" }]
      },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { [spec.horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  }
  function start() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
