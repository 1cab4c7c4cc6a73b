/*
 * The desk's windowed lists: incidents (#desk-list), units and alarms (#desk-other).
 *
 * The server sends each list as plain data (dashboard/desk_list.py: {kind, rows, empty,
 * label?, head?}, every row a flat array whose first item is its key). This file keeps one
 * fixed-height scroll container per list and draws only the rows in view plus OVERSCAN on
 * each side; the DOM nodes stay bound to their key, so a row whose data did not change is
 * not touched, a changed row is rewritten in place, and the container itself is never
 * replaced: scroll position, focus and selection survive every refresh. Nothing is drawn
 * for the thousand rows out of view.
 *
 * A click, Enter or Space on an incident row selects it (desk-selected, which the panel and
 * the map follow); the arrow keys move between rows. Text from the feeds is only ever set
 * with textContent.
 */
(function () {
  "use strict";

  var OVERSCAN = 6; // rows drawn beyond each edge of the view: a fast scroll shows no gap
  var KINDS = {
    incidents: { height: 76, gap: 6, grid: false },
    units: { height: 28, gap: 0, grid: true },
    alarms: { height: 28, gap: 0, grid: true },
  };
  var CELLS = 5; // columns of the unit and alarm grids
  var lists = {};

  function none() {
    return window.dash_clientside ? window.dash_clientside.no_update : null;
  }

  function element(tag, css, role) {
    var el = document.createElement(tag);
    if (css) { el.className = css; }
    if (role) { el.setAttribute("role", role); }
    return el;
  }

  /** The list drawn into the element `id`, set up at its first use (again if Dash replaced
   * the element, e.g. after leaving the page and coming back). */
  function listOf(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var list = lists[id];
    if (list && list.el === el) { return list; }
    el.textContent = "";
    list = {
      el: el, head: element("div", "desk-vhead", "row"), empty: element("div", "desk-empty"),
      spacer: element("div", "desk-vspacer", "presentation"), kind: null, cfg: KINDS.incidents,
      rows: [], index: new Map(), nodes: new Map(), free: [], selected: null, frame: 0,
      hover: false,
    };
    list.head.hidden = true;
    list.empty.hidden = true;
    el.appendChild(list.head);
    el.appendChild(list.empty);
    el.appendChild(list.spacer);
    el.addEventListener("scroll", function () { later(list); }, { passive: true });
    if (window.ResizeObserver) { new ResizeObserver(function () { later(list); }).observe(el); }
    // While the pointer is over the list, rows do not move under it (see setData).
    el.addEventListener("pointerenter", function () { list.hover = true; });
    el.addEventListener("pointerleave", function () { list.hover = false; });
    el.addEventListener("click", function (event) { onClick(list, event); });
    el.addEventListener("keydown", function (event) { onKey(list, event); });
    lists[id] = list;
    return list;
  }

  function later(list) {
    if (list.frame) { return; }
    list.frame = window.requestAnimationFrame(function () {
      list.frame = 0;
      draw(list);
    });
  }

  function step(list) { return list.cfg.height + list.cfg.gap; }

  /** Pixels of the list scrolled past the top of its first row. */
  function scrolled(list) { return Math.max(0, list.el.scrollTop - list.spacer.offsetTop); }

  function focusedKey(list) {
    var active = document.activeElement;
    if (!active || active === list.el || !list.el.contains(active)) { return null; }
    var row = active.closest(".desk-vrow");
    return row ? row.getAttribute("data-key") : null;
  }

  /** Take a new list: keep the row at the top of the view where it is (scrolled down, or
   * while the pointer or the focus is in the list: a new incident arriving at the top must
   * not slide another row under the leader's click), drop the nodes of rows that left, and
   * draw. */
  function setData(list, data) {
    var kind = data.kind || "incidents";
    var rows = data.rows || [];
    var anchor = null;
    var held = list.el.scrollTop > 0 || list.hover || focusedKey(list) !== null;
    if (list.rows.length && held && kind === list.kind) {
      var top = list.el.scrollTop - list.spacer.offsetTop; // < 0 above the first row
      var at = Math.max(0, Math.min(list.rows.length - 1, Math.floor(top / step(list))));
      anchor = { key: list.rows[at][0], offset: top - at * step(list) };
    }
    if (kind !== list.kind) {
      list.nodes.forEach(function (node) { node.remove(); });
      list.nodes.clear();
      list.free = [];
      list.kind = kind;
      list.cfg = KINDS[kind] || KINDS.incidents;
    }
    list.rows = rows;
    list.index = new Map();
    for (var i = 0; i < rows.length; i += 1) { list.index.set(String(rows[i][0]), i); }
    if (data.label) { list.el.setAttribute("aria-label", data.label); }
    drawHead(list, list.cfg.grid ? (data.head || []) : null);
    list.empty.textContent = data.empty || "";
    list.empty.hidden = rows.length > 0 || !data.empty;
    list.spacer.style.height = rows.length * step(list) + "px";
    if (list.cfg.grid) { list.el.setAttribute("aria-rowcount", String(rows.length + 1)); }
    var lost = false;
    list.nodes.forEach(function (node, key) {
      if (!list.index.has(key)) {
        lost = lost || node.contains(document.activeElement);
        release(list, key, node);
      }
    });
    if (lost) { list.el.focus({ preventScroll: true }); } // not to the page's body
    if (anchor && list.index.has(String(anchor.key))) {
      var row = list.index.get(String(anchor.key));
      list.el.scrollTop = list.spacer.offsetTop + row * step(list) + anchor.offset;
    }
    draw(list);
  }

  function drawHead(list, head) {
    list.head.hidden = !head;
    if (!head) { return; }
    var text = head.join("\u0001");
    if (list.head.getAttribute("data-sig") === text) { return; }
    list.head.setAttribute("data-sig", text);
    list.head.textContent = "";
    head.forEach(function (label) {
      var cell = element("div", "desk-vcell", "columnheader");
      cell.textContent = label;
      list.head.appendChild(cell);
    });
  }

  function release(list, key, node) {
    list.nodes.delete(key);
    node.remove();
    node.removeAttribute("data-sig");
    list.free.push(node);
  }

  /** Draw the rows in view (and the focused row wherever it is), reusing nodes. */
  function draw(list) {
    // A hidden list (its tab not chosen) draws nothing: its scroll offset reads 0 then, and
    // drawing would swap the rows in view for the top ones; it draws when shown again.
    if (list.el.offsetParent === null) { return; }
    var rows = list.rows, size = step(list);
    var top = scrolled(list), height = list.el.clientHeight;
    var first = Math.max(0, Math.floor(top / size) - OVERSCAN);
    var last = Math.min(rows.length, Math.ceil((top + height) / size) + OVERSCAN);
    var focused = focusedKey(list);
    var wanted = new Set();
    for (var i = first; i < last; i += 1) { wanted.add(String(rows[i][0])); }
    if (focused !== null && list.index.has(focused)) { wanted.add(focused); }
    list.nodes.forEach(function (node, key) {
      if (!wanted.has(key)) { release(list, key, node); }
    });
    var tabbable = list.selected !== null && wanted.has(list.selected) ? list.selected
      : focused !== null && wanted.has(focused) ? focused
        : rows.length ? String(rows[Math.min(rows.length - 1,
          Math.floor(top / size))][0]) : null;
    wanted.forEach(function (key) {
      var at = list.index.get(key);
      var node = list.nodes.get(key);
      if (!node) {
        node = list.free.pop() || null;
        list.nodes.set(key, node = fill(list, node, rows[at]));
        list.spacer.appendChild(node);
      } else {
        fill(list, node, rows[at]);
      }
      place(list, node, key, at, tabbable);
    });
  }

  function place(list, node, key, at, tabbable) {
    var size = step(list);
    var y = at * size + "px";
    if (node.style.top !== y) { node.style.top = y; }
    node.style.height = list.cfg.height + "px";
    if (list.cfg.grid) {
      node.setAttribute("aria-rowindex", String(at + 2));
      return;
    }
    var selected = key === list.selected;
    node.classList.toggle("desk-row-selected", selected);
    node.setAttribute("aria-selected", selected ? "true" : "false");
    node.setAttribute("aria-posinset", String(at + 1));
    node.setAttribute("aria-setsize", String(list.rows.length));
    node.tabIndex = key === tabbable ? 0 : -1;
  }

  /** Write a row's data into a node (a new one when null); untouched if it already shows
   * exactly this row. */
  function fill(list, node, row) {
    var sig = row.join("\u0001");
    if (node && node.getAttribute("data-sig") === sig) { return node; }
    if (list.cfg.grid) {
      node = node || gridNode();
      fillGrid(node, row);
    } else {
      node = node || incidentNode();
      fillIncident(node, row);
    }
    node.setAttribute("data-key", String(row[0]));
    node.setAttribute("data-sig", sig);
    return node;
  }

  function incidentNode() {
    var node = element("div", "desk-row desk-vrow", "option");
    var top = element("div", "desk-row-top");
    top.appendChild(element("span", "desk-level-badge"));
    top.appendChild(element("span", "desk-row-type"));
    top.appendChild(element("span", "desk-status"));
    var meta = element("div", "desk-row-meta");
    meta.appendChild(element("span"));
    meta.appendChild(element("span"));
    node.appendChild(top);
    node.appendChild(element("div", "desk-row-title"));
    node.appendChild(meta);
    return node;
  }

  // [id, level, status, level colour, level text, type, status text, title, place, when]
  function fillIncident(node, row) {
    node.setAttribute("data-incident", row[0]);
    node.setAttribute("data-level", row[1]);
    node.setAttribute("data-status", row[2]);
    node.style.setProperty("--level-colour", row[3]);
    var top = node.children[0], meta = node.children[2];
    top.children[0].textContent = row[4];
    top.children[1].textContent = row[5];
    top.children[2].textContent = row[6];
    top.children[2].className = "desk-status desk-status-" + row[2];
    node.children[1].textContent = row[7];
    meta.children[0].textContent = row[8];
    meta.children[1].textContent = row[9];
  }

  function gridNode() {
    var node = element("div", "desk-vrow desk-vgrid-row", "row");
    for (var i = 0; i < CELLS; i += 1) { node.appendChild(element("div", "desk-vcell", "gridcell")); }
    return node;
  }

  // [key, row class, tooltip, dot colour, cell 1 … cell 5]
  function fillGrid(node, row) {
    node.className = "desk-vrow desk-vgrid-row" + (row[1] ? " " + row[1] : "");
    if (row[2]) { node.title = row[2]; } else { node.removeAttribute("title"); }
    for (var i = 0; i < CELLS; i += 1) {
      var cell = node.children[i];
      cell.textContent = row[4 + i] == null ? "" : String(row[4 + i]);
      if (i === 0 && row[3]) {
        var dot = element("span", "desk-dot");
        dot.style.background = row[3];
        cell.insertBefore(dot, cell.firstChild);
      }
    }
  }

  function select(list, key) {
    list.selected = key;
    draw(list);
    var clientside = window.dash_clientside;
    if (clientside && clientside.set_props) {
      clientside.set_props("desk-selected", { data: key });
    }
  }

  function onClick(list, event) {
    if (list.cfg.grid) { return; }
    var row = event.target.closest && event.target.closest(".desk-vrow");
    if (row && list.el.contains(row)) { select(list, row.getAttribute("data-key")); }
  }

  /** Enter or Space selects the focused incident; up and down move between rows. */
  function onKey(list, event) {
    var row = event.target.closest && event.target.closest(".desk-vrow");
    if (!row || list.cfg.grid) { return; }
    var key = row.getAttribute("data-key");
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select(list, key);
      return;
    }
    var move = event.key === "ArrowDown" ? 1 : event.key === "ArrowUp" ? -1 : 0;
    if (!move) { return; }
    event.preventDefault();
    var at = list.index.get(key) + move;
    if (at < 0 || at >= list.rows.length) { return; }
    var size = step(list), top = list.spacer.offsetTop + at * size;
    if (top < list.el.scrollTop) { list.el.scrollTop = top; }
    if (top + size > list.el.scrollTop + list.el.clientHeight) {
      list.el.scrollTop = top + size - list.el.clientHeight;
    }
    draw(list);
    var next = list.nodes.get(String(list.rows[at][0]));
    if (next) { next.focus({ preventScroll: true }); }
  }

  /** Dash clientside callback: the incident list's data or the selection changed. */
  function incidents(data, selected) {
    var list = listOf("desk-list");
    if (!list) { return none(); }
    list.selected = selected == null ? null : String(selected);
    if (data && data !== list.data) {
      list.data = data;
      setData(list, data);
    } else {
      draw(list);
    }
    return none();
  }

  /** Dash clientside callback: the units or alarms list now shown ([] clears it). */
  function other(shown) {
    var list = listOf("desk-other");
    if (!list) { return none(); }
    var data = shown && shown.kind ? shown : { kind: list.kind || "units", rows: [] };
    if (data !== list.data) {
      list.data = data;
      setData(list, data);
    }
    return none();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    sitroomDeskList: { incidents: incidents, other: other },
  });
})();
