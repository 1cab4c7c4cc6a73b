/*
 * Helpers shared by the dashboard's scripts (loaded first: Dash serves assets in name order,
 * and sitroom_common.js sorts before sitroom_draw, sitroom_layers, sitroom_live, sitroom_map).
 *
 * Text from the feeds is only ever set with textContent, never as HTML.
 */
(function () {
  "use strict";

  /** A tooltip body: one div per [className, text] line, all text nodes; empty lines skipped. */
  function textBox(lines) {
    var box = document.createElement("div");
    box.className = "sitroom-tip";
    lines.forEach(function (line) {
      if (line[1] === null || line[1] === undefined || line[1] === "") {
        return;
      }
      var row = document.createElement("div");
      row.className = line[0];
      row.textContent = String(line[1]);
      box.appendChild(row);
    });
    return box;
  }

  window.sitroomCommon = { textBox: textBox };
})();
