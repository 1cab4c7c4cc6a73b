/*
 * The map's switchable layers (dashboard/map_layers.py), referenced from Python with
 * dash_extensions.javascript.Namespace("sitroom", "layers"). Shipped as a file: nothing is
 * generated at run time.
 *
 * Names and attributes from the layers (imported files) are only ever set with textContent,
 * never as HTML.
 */
(function () {
  "use strict";

  var POINTS_PANE = "sitroomPoints";

  var FACILITY_COLOURS = {
    hospital: "#ff6b81",
    school: "#ffd166",
    shelter: "#06d6a0",
    hazardous_site: "#ff7a00",
    fire_station: "#ef476f",
    hydrant: "#74c0fc",
    reservoir: "#4dabf7",
    camera: "#b197fc",
    river_gauge: "#3bc9db",
  };
  var OTHER_FACILITY = "#adb5bd";

  var textBox = window.sitroomCommon.textBox;  // sitroom_common.js

  // --- switches over the page's live layers ------------------------------------------------
  //
  // The page draws units and incidents itself (sitroom_live.js): circle markers carrying
  // `sitroomId` (and `sitroomLevel` for incidents) in layer groups it owns, on SVG or canvas.
  // A switch is an empty layer "map-filter--<group>--<value>" in the layer control. Turning it
  // off takes that agency's units (or that level's incidents) off the map, now and whenever
  // the page draws one anew (the map's layeradd event); the page's groups keep them, so it
  // goes on moving them. Turning it on puts back those the page still shows.

  function classify(layer) {
    var live = window.sitroomLive;
    if (!live || layer.sitroomId === undefined) {
      return null;
    }
    if (layer.sitroomLevel !== undefined) {
      var incident = live.state().incidents.get(layer.sitroomId);
      var I = live.fields.incident;
      return incident && incident[I.LEVEL] === layer.sitroomLevel
        ? ["incidents", String(layer.sitroomLevel)] : null;
    }
    var unit = live.state().units.get(layer.sitroomId);
    return unit ? ["units", String(unit[live.fields.unit.AGENCY])] : null;
  }

  function isHidden(state, group) {
    return !!(state.hidden[group[0]] && state.hidden[group[0]][group[1]]);
  }

  function hideIfFiltered(map, state, layer) {
    var group = classify(layer);
    if (!group || !isHidden(state, group)) {
      return;
    }
    // Keyed by id: a marker the page made anew replaces the one kept before.
    state.removed[group[0] + ":" + layer.sitroomId] = layer;
    map.removeLayer(layer);
  }

  function filterState(map) {
    if (!map.__sitroomFilters) {
      var state = { hidden: {}, removed: {} };
      map.__sitroomFilters = state;
      map.on("layeradd", function (e) { hideIfFiltered(map, state, e.layer); });
    }
    return map.__sitroomFilters;
  }

  function setFilter(e, ctx, shown) {
    var map = (ctx && ctx.map) || e.target._map;
    var parts = String((ctx && ctx.id) || "").split("--");
    if (!map || parts.length !== 3) {
      return;
    }
    var state = filterState(map);
    state.hidden[parts[1]] = state.hidden[parts[1]] || {};
    state.hidden[parts[1]][parts[2]] = !shown;
    if (!shown) {
      map.eachLayer(function (layer) { hideIfFiltered(map, state, layer); });
      return;
    }
    Object.keys(state.removed).forEach(function (key) {
      var layer = state.removed[key];
      var group = classify(layer);  // null: the page no longer shows it
      if (!group || !isHidden(state, group)) {
        delete state.removed[key];
        if (group) { map.addLayer(layer); }
      }
    });
  }

  function filterOn(e, ctx) { setFilter(e, ctx, true); }
  function filterOff(e, ctx) { setFilter(e, ctx, false); }

  /** A tile base layer is on: fade the district fill so the tiles show through. */
  function tilesOn(e, ctx) {
    var map = (ctx && ctx.map) || e.target._map;
    if (map) { L.DomUtil.addClass(map.getContainer(), "sitroom-has-tiles"); }
  }

  function tilesOff(e, ctx) {
    var map = (ctx && ctx.map) || e.target._map;
    if (map) { L.DomUtil.removeClass(map.getContainer(), "sitroom-has-tiles"); }
  }

  // --- points: facilities, cameras, gauges -------------------------------------------------

  function facilityToLayer(feature, latlng) {
    var p = feature.properties || {};
    var kind = String(p.kind || "other");
    var major = kind === "hazardous_site" || kind === "hospital";
    return L.circleMarker(latlng, {
      pane: POINTS_PANE,
      radius: major ? 7 : kind === "hydrant" ? 3.5 : 5,
      color: "#0a0f16",
      weight: 1,
      fillColor: FACILITY_COLOURS[kind] || OTHER_FACILITY,
      fillOpacity: 0.95,
      className: "sitroom-facility sitroom-facility-" + kind.replace(/[^a-z0-9_]/gi, ""),
    });
  }

  function clusterToLayer(feature, latlng) {
    var count = (feature.properties || {}).point_count || 0;
    var size = count < 10 ? 26 : count < 100 ? 32 : 40;
    var body = document.createElement("div");
    var label = document.createElement("span");
    label.textContent = String(count);
    body.appendChild(label);
    return L.marker(latlng, {
      pane: POINTS_PANE,
      keyboard: false,
      icon: L.divIcon({ className: "sitroom-cluster", html: body, iconSize: L.point(size, size) }),
    });
  }

  /** Tooltip of any stored feature (or of a cluster): its name, kind and main figures. */
  function featureTooltip(feature, layer) {
    var p = feature.properties || {};
    if (p.cluster) {
      layer.bindTooltip(textBox([["tip-title", String(p.point_count) + " ×"]]),
                        { direction: "top", className: "sitroom-tooltip" });
      return;
    }
    var lines = [["tip-title", p.name], ["tip-line", p.name_en]];
    if (typeof p.population === "number") {
      lines.push(["tip-line", "人口 population " + Math.round(p.population).toLocaleString("zh-CN")]);
    }
    if (typeof p.count === "number") {
      lines.push(["tip-title", p.count + " 起事件 incidents"]);
    }
    if (p.kind && !p.name) {
      lines.push(["tip-line", p.kind]);
    }
    if (lines.every(function (line) { return !line[1]; })) {
      return;
    }
    layer.bindTooltip(textBox(lines), { direction: "top", sticky: !p.name,
                                        className: "sitroom-tooltip" });
  }

  // --- lines and areas ---------------------------------------------------------------------

  function riverStyle(feature) {
    var area = feature.geometry && /Polygon/.test(feature.geometry.type);
    return { color: "#3a8ee6", weight: 2.2, opacity: 0.85, fill: area, fillColor: "#1c5f9e",
             fillOpacity: 0.5 };
  }

  function roadStyle(feature) {
    var kind = (feature.properties || {}).kind;
    var major = kind === "ring_road" || kind === "arterial" || kind === "expressway";
    return { color: major ? "#c9a45c" : "#7d7566", weight: major ? 2.6 : 1.4, opacity: 0.8 };
  }

  function sensitiveStyle() {
    return { color: "#ff4d4f", weight: 1.6, dashArray: "5 4", opacity: 0.9, fillColor: "#ff4d4f",
             fillOpacity: 0.12 };
  }

  // People per cell of the population grid: six classes, light to dark.
  var POPULATION_CLASSES = [[25000, "#a50f15"], [12000, "#de2d26"], [6000, "#fb6a4a"],
                            [3000, "#fc9272"], [1000, "#fcbba1"], [0, "#fee5d9"]];

  function populationStyle(feature) {
    var people = (feature.properties || {}).population || 0;
    var colour = POPULATION_CLASSES[POPULATION_CLASSES.length - 1][1];
    for (var i = 0; i < POPULATION_CLASSES.length; i++) {
      if (people >= POPULATION_CLASSES[i][0]) { colour = POPULATION_CLASSES[i][1]; break; }
    }
    return { color: "#05080d", weight: 0.4, opacity: 0.6, fillColor: colour, fillOpacity: 0.55 };
  }

  /** Hotspot hexagons: yellow for few incidents, deep red for the busiest hexagon. */
  function hotspotStyle(feature) {
    var k = Math.max(0, Math.min(1, (feature.properties || {}).intensity || 0));
    var hue = Math.round(50 - 50 * k);
    return { color: "hsl(" + hue + ",100%,45%)", weight: 1, opacity: 0.9,
             fillColor: "hsl(" + hue + ",100%,50%)", fillOpacity: 0.25 + 0.45 * k };
  }

  window.sitroom = Object.assign({}, window.sitroom, {
    layers: {
      filterOn: filterOn,
      filterOff: filterOff,
      tilesOn: tilesOn,
      tilesOff: tilesOff,
      facilityToLayer: facilityToLayer,
      clusterToLayer: clusterToLayer,
      featureTooltip: featureTooltip,
      riverStyle: riverStyle,
      roadStyle: roadStyle,
      sensitiveStyle: sensitiveStyle,
      populationStyle: populationStyle,
      hotspotStyle: hotspotStyle,
    },
  });
})();
