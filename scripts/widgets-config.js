// Loaded on pages with Jupyter widgets, after RequireJS and before the widget manager
// (@jupyter-widgets/html-manager's embed-amd.js); copied to _static/vendor/ by
// scripts/install_site_js.py.
(function () {
  "use strict";
  // 1. The widget manager finds its icon fonts next to the URL RequireJS gives its module.
  //    Map that module to the copy this site serves, so nothing is fetched from elsewhere.
  var src = document.currentScript.src.split("?")[0];
  var vendor = src.slice(0, src.lastIndexOf("/") + 1);
  window.require.config({
    paths: { "@jupyter-widgets/html-manager/dist": vendor + "html-manager" },
  });

  // 2. The widget manager typesets labels with MathJax 2's MathJax.Hub.Queue, but the site
  //    uses MathJax 3, which has no Hub. Give MathJax 3 that one entry point.
  function addHub() {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.version || mathjax.Hub) {
      return;
    }
    mathjax.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        mathjax.startup.promise.then(function () {
          return mathjax.typesetPromise(element ? [element] : undefined);
        });
      },
    };
  }
  addHub();
  document.addEventListener("DOMContentLoaded", addHub);
})();
