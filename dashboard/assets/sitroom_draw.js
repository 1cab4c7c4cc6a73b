/*
 * Draw-to-query (dashboard/map_layers.py draw_control): a polygon, rectangle or circle drawn
 * with the leaflet-draw toolbar (dash-leaflet's EditControl, served by the dashboard itself) is
 * sent to POST /api/analysis/inside, and the answer is written into the #map-inside panel.
 * Referenced from Python with Namespace("sitroom", "draw"). `sitroom.draw.query(body)` runs the
 * same query for a geometry given by hand (tests, other tools).
 *
 * Every text from the answer (facility names, unit ids, incident titles) is set with
 * textContent, never as HTML. The panel's own labels come from its data-labels attribute.
 */
(function () {
  "use strict";

  var API = "/api/analysis/inside";
  var PANEL_ID = "map-inside";
  var LISTED = 8;

  function panel() { return document.getElementById(PANEL_ID); }

  function labelsOf(el) {
    try {
      return JSON.parse(el.getAttribute("data-labels") || "{}");
    } catch (err) {
      return {};
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function number(value) { return Number(value).toLocaleString("zh-CN"); }

  function distance(metres) {
    return metres >= 1000 ? (metres / 1000).toFixed(1) + " km" : Math.round(metres) + " m";
  }

  /** The request body for a drawn layer: a circle as centre and radius, else its polygon. */
  function requestFor(layer) {
    if (layer instanceof L.Circle) {
      var centre = layer.getLatLng().wrap();
      return { geometry: { center: { lat: centre.lat, lon: centre.lng },
                           radius_m: layer.getRadius() } };
    }
    return { geometry: layer.toGeoJSON().geometry };
  }

  function header(box, t, title) {
    var top = el("div", "inside-head");
    top.appendChild(el("span", "inside-title", title));
    var close = el("button", "inside-close", "×");
    close.type = "button";
    close.title = t.inside_close || "";
    close.addEventListener("click", function () { box.hidden = true; });
    top.appendChild(close);
    box.appendChild(top);
  }

  function section(box, className, label, count) {
    var row = el("div", "inside-row " + className);
    row.appendChild(el("span", "inside-label", label));
    var value = el("span", "inside-value", count);
    row.appendChild(value);
    box.appendChild(row);
    return row;
  }

  function list(box, className, items, line) {
    var ul = el("ul", "inside-list " + className);
    items.slice(0, LISTED).forEach(function (item) { ul.appendChild(line(item)); });
    box.appendChild(ul);
  }

  function render(box, t, result) {
    box.textContent = "";
    var shape = result.radius_m ? t.inside_radius + " " + distance(result.radius_m) + " · " : "";
    header(box, t, t.inside_title + " · " + shape + t.inside_area + " " +
           result.area_km2.toFixed(2) + " km²");

    var people = section(box, "inside-population", t.inside_population,
                         number(result.population));
    people.setAttribute("data-value", String(result.population));

    var facilities = section(box, "inside-facilities", t.inside_facilities,
                             number(result.facilities_total));
    facilities.setAttribute("data-value", String(result.facilities_total));
    var kinds = el("div", "inside-kinds");
    Object.keys(result.facility_counts).forEach(function (kind) {
      var chip = el("span", "inside-kind",
                    (t["kind_" + kind] || kind) + " " + result.facility_counts[kind]);
      chip.setAttribute("data-kind", kind);
      chip.setAttribute("data-count", String(result.facility_counts[kind]));
      kinds.appendChild(chip);
    });
    box.appendChild(kinds);
    list(box, "inside-facility-list", result.facilities, function (f) {
      var li = el("li", "inside-facility", f.name + " · " + (t["kind_" + f.kind] || f.kind) +
                  " · " + distance(f.distance_m));
      li.setAttribute("data-id", f.id);
      return li;
    });

    if (!result.live) {
      box.appendChild(el("div", "inside-row inside-live-down", t.inside_live_down));
      return;
    }
    var units = section(box, "inside-units", t.inside_units, number(result.units.length));
    units.setAttribute("data-value", String(result.units.length));
    list(box, "inside-unit-list", result.units, function (u) {
      var li = el("li", "inside-unit", u.unit + " · " + (t["agency_" + u.agency] || u.agency) +
                  " · " + distance(u.distance_m));
      li.setAttribute("data-unit", u.unit);
      return li;
    });
    var incidents = section(box, "inside-incidents", t.inside_incidents,
                            number(result.incidents.length));
    incidents.setAttribute("data-value", String(result.incidents.length));
    list(box, "inside-incident-list", result.incidents, function (i) {
      var li = el("li", "inside-incident inside-level-" + String(i.level).toLowerCase(),
                  i.level + " · " + i.title);
      li.setAttribute("data-incident", i.id);
      return li;
    });
  }

  function showMessage(box, t, text, className) {
    box.textContent = "";
    header(box, t, t.inside_title);
    box.appendChild(el("div", "inside-row " + className, text));
  }

  function prepare(box) {
    if (!box.__sitroomReady && window.L) {
      // Clicks and wheel turns on the panel must not pan, zoom or draw on the map under it.
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      box.__sitroomReady = true;
    }
  }

  /** Ask what is inside `body.geometry` and show it; resolves to the answer (or null). */
  function query(body) {
    var box = panel();
    if (!box) { return Promise.resolve(null); }
    var t = labelsOf(box);
    prepare(box);
    box.hidden = false;
    box.setAttribute("data-state", "loading");
    showMessage(box, t, t.inside_loading, "inside-loading");
    return fetch(API, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (doc) {
        if (!response.ok) {
          var reason = box.getAttribute("data-lang") === "en" ? doc.error : doc.error_zh;
          showMessage(box, t, t.inside_failed + ": " + (reason || doc.error || response.status),
                      "inside-error");
          box.setAttribute("data-state", "error");
          return null;
        }
        render(box, t, doc);
        box.setAttribute("data-state", "done");
        return doc;
      });
    }).catch(function (err) {
      showMessage(box, t, t.inside_failed + ": " + err, "inside-error");
      box.setAttribute("data-state", "error");
      return null;
    });
  }

  /** The drawing groups a layer belongs to (the EditControl's FeatureGroup). */
  function groupsOf(layer) {
    var parents = layer._eventParents || {};
    return Object.keys(parents).map(function (key) { return parents[key]; });
  }

  function created(e) {
    // One zone at a time: the panel describes the latest shape, so earlier ones go.
    groupsOf(e.layer).forEach(function (group) {
      group.eachLayer(function (other) {
        if (other !== e.layer) { group.removeLayer(other); }
      });
    });
    query(requestFor(e.layer));
  }

  function edited(e) {
    var last = null;
    e.layers.eachLayer(function (layer) { last = layer; });
    if (last) { query(requestFor(last)); }
  }

  function deleted() {
    var box = panel();
    if (box) { box.hidden = true; }
  }

  /** The toolbar's titles and the hints shown while drawing, per language: leaflet-draw
   * reads L.drawLocal whenever it builds a button or a hint, so setting it before the toolbar
   * is built (and again on every page) keeps a rebuilt toolbar in the page's language too. */
  var TEXTS = {
    zh: {
      polygon: "画多边形", rectangle: "画矩形", circle: "画圆",
      edit: "编辑图形", editDisabled: "没有可编辑的图形",
      remove: "删除图形", removeDisabled: "没有可删除的图形",
      cancel: "取消", cancelTitle: "取消绘制", finish: "完成", finishTitle: "完成绘制",
      undo: "撤销", undoTitle: "删除最后一个点",
      save: "保存", saveTitle: "保存修改", cancelEdit: "取消", cancelEditTitle: "取消编辑，放弃全部修改",
      clearAll: "全部清除", clearAllTitle: "清除全部图形",
      polyStart: "点击开始画多边形", polyCont: "点击继续", polyEnd: "点击第一个点结束",
      drag: "按住并拖动", radius: "半径", release: "松开鼠标完成",
      editText: "拖动控制点以修改图形", editSub: "点击“取消”撤销修改",
      removeText: "点击图形将其删除",
    },
    en: {
      polygon: "Draw a polygon", rectangle: "Draw a rectangle", circle: "Draw a circle",
      edit: "Edit shapes", editDisabled: "No shapes to edit",
      remove: "Delete shapes", removeDisabled: "No shapes to delete",
      cancel: "Cancel", cancelTitle: "Cancel drawing", finish: "Finish",
      finishTitle: "Finish drawing", undo: "Undo", undoTitle: "Delete the last point",
      save: "Save", saveTitle: "Save the changes", cancelEdit: "Cancel",
      cancelEditTitle: "Cancel editing and discard the changes",
      clearAll: "Clear all", clearAllTitle: "Clear every shape",
      polyStart: "Click to start a polygon", polyCont: "Click to continue",
      polyEnd: "Click the first point to close", drag: "Press and drag", radius: "Radius",
      release: "Release to finish", editText: "Drag the handles to change the shapes",
      editSub: "Click Cancel to undo the changes", removeText: "Click a shape to delete it",
    },
  };

  /** The icon sprite of leaflet-draw's stylesheet (injected with its script). */
  function spriteImage() {
    for (var i = 0; i < document.styleSheets.length; i++) {
      var rules;
      try {
        rules = document.styleSheets[i].cssRules;
      } catch (err) {
        continue;  // a stylesheet of another origin: not leaflet-draw's
      }
      for (var j = 0; j < rules.length; j++) {
        if (rules[j].selectorText === ".leaflet-draw-toolbar a" && rules[j].style.backgroundImage) {
          return rules[j].style.backgroundImage;
        }
      }
    }
    return "";
  }

  /** The page's dark theme sets `background` on every `.leaflet-bar a`, which drops the
   * toolbar's icon sprite: put it back on the buttons themselves. */
  function restoreIcons(container) {
    var image = spriteImage();
    if (!image) { return; }
    container.querySelectorAll(".leaflet-draw-toolbar a").forEach(function (button) {
      button.style.backgroundImage = image;
    });
  }

  function texts() {
    var box = panel();
    var en = box ? box.getAttribute("data-lang") === "en"
      : /(^|[?&])lang=en/i.test(window.location.search);
    return TEXTS[en ? "en" : "zh"];
  }

  /** L.drawLocal in the page's language (read by leaflet-draw as it builds and draws). */
  function localise() {
    if (!window.L || !L.drawLocal) { return; }
    var t = texts(), draw = L.drawLocal.draw, edit = L.drawLocal.edit;
    draw.toolbar.buttons.polygon = t.polygon;
    draw.toolbar.buttons.rectangle = t.rectangle;
    draw.toolbar.buttons.circle = t.circle;
    draw.toolbar.actions = { title: t.cancelTitle, text: t.cancel };
    draw.toolbar.finish = { title: t.finishTitle, text: t.finish };
    draw.toolbar.undo = { title: t.undoTitle, text: t.undo };
    draw.handlers.polygon.tooltip.start = t.polyStart;
    draw.handlers.polygon.tooltip.cont = t.polyCont;
    draw.handlers.polygon.tooltip.end = t.polyEnd;
    draw.handlers.rectangle.tooltip.start = t.drag;
    draw.handlers.circle.tooltip.start = t.drag;
    draw.handlers.circle.radius = t.radius;
    draw.handlers.simpleshape.tooltip.end = t.release;
    edit.toolbar.buttons = { edit: t.edit, editDisabled: t.editDisabled, remove: t.remove,
                             removeDisabled: t.removeDisabled };
    edit.toolbar.actions.save = { title: t.saveTitle, text: t.save };
    edit.toolbar.actions.cancel = { title: t.cancelEditTitle, text: t.cancelEdit };
    edit.toolbar.actions.clearAll = { title: t.clearAllTitle, text: t.clearAll };
    edit.handlers.edit.tooltip = { text: t.editText, subtext: t.editSub };
    edit.handlers.remove.tooltip = { text: t.removeText };
  }

  /** Icons back on the toolbar's buttons, and their titles in the page's language (set
   * again here: dash-leaflet may have built the toolbar before localise ran). */
  function dress(container) {
    restoreIcons(container);
    var t = texts();
    [["polygon", ".leaflet-draw-draw-polygon"], ["rectangle", ".leaflet-draw-draw-rectangle"],
     ["circle", ".leaflet-draw-draw-circle"], ["edit", ".leaflet-draw-edit-edit"],
     ["remove", ".leaflet-draw-edit-remove"]].forEach(function (pair) {
      var button = container.querySelector(pair[1]);
      if (button) { button.title = t[pair[0]]; }
    });
  }

  function mounted(element) {
    // dash-leaflet hands over its react-leaflet element (the L.Control.Draw is its instance),
    // before the control is on the map: its buttons come a moment later.
    var control = element && element.instance ? element.instance : element;
    localise();
    var tries = 0;
    (function whenAdded() {
      var container = control && control.getContainer && control.getContainer();
      if (container) {
        dress(container);
      } else if (tries++ < 100) {
        setTimeout(whenAdded, 20);
      }
    })();
  }

  window.sitroom = Object.assign({}, window.sitroom, {
    draw: {
      created: created,
      edited: edited,
      deleted: deleted,
      mounted: mounted,
      query: query,
      requestFor: requestFor,
    },
  });
})();
