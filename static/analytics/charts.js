// Draws the analytics page's charts from the JSON the page embeds (json_script); every
// figure is also in a table on the page, so nothing is lost without this script.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("analytics-data").textContent);
  var colours = ["#2f6fb0", "#b45309", "#047857", "#9333ea", "#be123c", "#0e7490"];

  function draw(canvasId, type, chart, stacked) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !window.Chart) {
      return;
    }
    new window.Chart(canvas, {
      type: type,
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (series, index) {
          var colour = colours[index % colours.length];
          return {
            label: series.label,
            data: series.values,
            borderColor: colour,
            backgroundColor: colour,
            pointRadius: 0,
            borderWidth: type === "line" ? 2 : 0
          };
        })
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true } }
      }
    });
  }

  draw("chart-enrolments", "bar", data.enrolments, false);
  draw("chart-points", "line", data.points, false);
  draw("chart-revenue", "bar", data.revenue, true);
})();
