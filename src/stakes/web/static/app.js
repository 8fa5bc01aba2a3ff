/* Draws every chart whose figure JSON sits in a data-figure attribute
   (autoescaped by the server), on page load and after each htmx swap. */
(function () {
  function draw(root) {
    var nodes = (root || document).querySelectorAll("[data-figure]:not([data-drawn])");
    nodes.forEach(function (el) {
      var fig = JSON.parse(el.getAttribute("data-figure"));
      el.setAttribute("data-drawn", "1");
      // the report's own size, so that titles and notes sit where the report puts them
      Plotly.newPlot(el, fig.data || [], fig.layout || {},
        {displaylogo: false,
         toImageButtonOptions: {format: "png", scale: 2}});
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { draw(ev.target); });
})();
