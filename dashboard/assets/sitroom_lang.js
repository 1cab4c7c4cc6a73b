/*
 * The page's language for what no Python label reaches: the document's `lang` (screen
 * readers and fonts pick their voice and glyphs by it) and the texts Leaflet's own controls
 * carry in English (zoom buttons, the layer switcher). Every page takes its language from
 * ?lang=en in its address (dashboard/i18n.py); anything else is Chinese.
 */
(function () {
  "use strict";

  var EN = /(^|[?&])lang=en/i.test(window.location.search);
  var TEXTS = EN
    ? { zoomIn: "Zoom in", zoomOut: "Zoom out", layers: "Layers" }
    : { zoomIn: "放大", zoomOut: "缩小", layers: "图层" };
  var CONTROLS = [
    [".leaflet-control-zoom-in", TEXTS.zoomIn, true],
    [".leaflet-control-zoom-out", TEXTS.zoomOut, true],
    [".leaflet-control-layers-toggle", TEXTS.layers, true],
  ];

  document.documentElement.lang = EN ? "en" : "zh-CN";

  function localise(root) {
    if (!root || !root.querySelectorAll) { return; }
    CONTROLS.forEach(function (control) {
      root.querySelectorAll(control[0]).forEach(function (el) {
        if (el.title !== control[1]) { el.title = control[1]; }
        if (control[2] && el.getAttribute("aria-label") !== control[1]) {
          el.setAttribute("aria-label", control[1]);
        }
      });
    });
  }

  // Maps are drawn (and re-drawn) by React at any time: localise each control as it comes.
  var pending = false;
  var watcher = new MutationObserver(function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      localise(document);
    });
  });

  function start() {
    localise(document);
    watcher.observe(document.body, { childList: true, subtree: true });
  }

  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
