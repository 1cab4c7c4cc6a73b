/*
 * Live push client of the sitroom dashboard (server side: dashboard/live_push.py).
 *
 * A page that wants live data carries a hidden `.sitroom-live-config` element whose
 * `data-config` JSON says where to draw. This script then opens ONE EventSource on
 * /live/stream, keeps units and incidents in Maps, and draws them on the page's Leaflet map
 * directly — no Dash round trip per update — batching redraws per animation frame. Up to
 * `svg_max` units are SVG circles; above that they share one canvas, which stays smooth with
 * 10,000 moving units. KPI tiles and the LIVE badge named in the config are kept current.
 * LIVE means the stream is live AND every watched agency's feed arrives: the heartbeat names
 * the silent ones (dashboard/feed_watch.py), the badge says so and the config's `feeds`
 * element names them (Chinese names, English on ?lang=en).
 *
 * The map object comes from a Leaflet init hook (every L.Map registers itself by its
 * container's id, which is the dash-leaflet component id), so nothing reaches into React.
 *
 * Other scripts use window.sitroomLive: on(event, fn) with events "snapshot", "units",
 * "incidents" ({changed: [[row, previousRow|null]], removed: [row]}), "heartbeat", "status"
 * ({status: "connecting"|"live"|"silent"|"stale", lastLiveAt}) and "drawn" ({units: [row],
 * at}); and
 * state(), serverNow(), map(), isOnline(row), kpis(), pulse(id, ms).
 *
 * Feed text (unit ids, titles) only ever goes into textContent, never into HTML.
 */
(function () {
  "use strict";

  var U = { ID: 0, AGENCY: 1, KIND: 2, LAT: 3, LON: 4, HEADING: 5, TS: 6, SPEED: 7 };
  var I = { ID: 0, TYPE: 1, LEVEL: 2, STATUS: 3, TITLE: 4, LAT: 5, LON: 6, REPORTED: 7,
            UPDATED: 8, AGENCY: 9 };
  var LEVEL_RANK = { I: 0, II: 1, III: 2, IV: 3 };
  var UNIT_RADIUS = 6;
  var INCIDENT_RADIUS = 11;
  var KPI_EVERY_MS = 250;
  var ONLINE_CHECK_MS = 5000;

  var config = null;
  var configEl = null;
  var listeners = {};
  var maps = {};
  var view = null;
  var source = null;
  var reconnectTimer = null;
  var attempts = 0;
  var frameRequested = false;
  var kpiDue = 0;
  var startedAt = Date.now();
  var lastStatus = null;
  var state = {
    units: new Map(),
    incidents: new Map(),
    version: 0,
    worker: null,
    onlineS: 300,
    offsetMs: 0,
    live: false,
    lastLiveBeat: 0,     // client clock: last heartbeat (or snapshot) that said "live"
    lastLiveAt: null,    // server clock of that heartbeat, epoch ms
    feeds: null,         // the last heartbeat's: {stale_s, ingest, silent: [{a, zh, en, age}]}
    firstDrawnAt: null,  // performance.now() when units (or an empty snapshot) were first drawn
    snapshots: 0,
  };

  // --- events ------------------------------------------------------------------------------

  function on(name, fn) {
    (listeners[name] = listeners[name] || []).push(fn);
  }

  function off(name, fn) {
    listeners[name] = (listeners[name] || []).filter(function (f) { return f !== fn; });
  }

  function emit(name, payload) {
    (listeners[name] || []).forEach(function (fn) {
      try {
        fn(payload);
      } catch (err) {
        console.error("sitroomLive listener of " + name + " failed", err);
      }
    });
  }

  // --- time and status ---------------------------------------------------------------------

  function serverNow() {
    return Date.now() + state.offsetMs;
  }

  function isOnline(row, now) {
    return (now === undefined ? serverNow() : now) - row[U.TS] <= state.onlineS * 1000;
  }

  function silentFeeds() {
    return (state.feeds && state.feeds.silent) || [];
  }

  function currentStatus() {
    var staleMs = (config ? config.stale_s : 10) * 1000;
    if (state.lastLiveBeat && state.live && Date.now() - state.lastLiveBeat <= staleMs) {
      // The stream is live; the data is only if the agencies' feeds arrive too.
      return silentFeeds().length ? "silent" : "live";
    }
    if (!state.lastLiveBeat && Date.now() - startedAt <= staleMs) {
      return "connecting";
    }
    return "stale";
  }

  function hhmmss(epochMs) {
    if (!epochMs) { return "--:--:--"; }
    return new Date(epochMs).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai",
                                                            hour12: false });
  }

  // [zh, en, class]: the wall shows both (it is read by the whole room), other pages the
  // page's language only.
  var BADGES = {
    live: ["● 实时", "● LIVE", "shell-live live-ok"],
    silent: ["● 数据源中断", "● FEEDS SILENT", "shell-live live-down"],
    stale: ["● 数据中断", "● OFFLINE", "shell-live live-down"],
    connecting: ["● 连接中", "● CONNECTING", "shell-live live-wait"],
  };

  function bilingual() { return Boolean(config) && config.page === "wall"; }

  /** A text in the page's language, or both (Chinese first) on the wall. */
  function says(zh, en) {
    if (bilingual()) { return zh + " " + en; }
    return english() ? en : zh;
  }

  function checkStatus() {
    var status = currentStatus();
    var badge = config && config.ids.badge && document.getElementById(config.ids.badge);
    if (badge) {
      var look = BADGES[status];
      var text = bilingual() ? look[0] + " " + look[1].slice(2) : english() ? look[1] : look[0];
      if (badge.textContent !== text) { badge.textContent = text; }
      if (badge.className !== look[2]) { badge.className = look[2]; }
      badge.title = says("最后更新", "last update") + " " + hhmmss(state.lastLiveAt);
    }
    showFeeds(status);
    if (status !== lastStatus) {
      lastStatus = status;
      emit("status", { status: status, lastLiveAt: state.lastLiveAt });
    }
    var staleMs = (config ? config.stale_s : 10) * 1000;
    // An EventSource that says OPEN but brings nothing (a half-open connection): start over.
    if (source && source.readyState === 1 && state.lastBeatAny &&
        Date.now() - state.lastBeatAny > 2 * staleMs) {
      reconnect("silent stream");
    }
  }

  function english() {
    return /(^|[?&])lang=en/i.test(window.location.search);
  }

  /** "消防救援（73 秒）" or "Fire and rescue (73 s)": a silent agency in the page's language. */
  function feedText(feed, en) {
    if (en) {
      return feed.en + (feed.age === null ? " (never heard)" : " (" + feed.age + " s)");
    }
    return feed.zh + (feed.age === null ? "（从未收到）" : "（" + feed.age + " 秒）");
  }

  /** The config's `feeds` element names the silent agencies while the stream is live (when
   * it is not, the page says the whole picture is stale, and nobody knows about the feeds). */
  function showFeeds(status) {
    var box = config && config.ids.feeds && document.getElementById(config.ids.feeds);
    if (!box) { return; }
    var quiet = status === "silent" ? silentFeeds() : [];
    var hide = quiet.length === 0;
    if (box.hidden !== hide) { box.hidden = hide; }
    if (hide) { return; }
    var en = english();
    var names = quiet.map(function (f) { return feedText(f, en); }).join(en ? ", " : "、");
    if (!state.feeds.ingest) {
      names += en ? " · ingest is not reporting" : " · 接入服务无心跳";
    }
    var text = says("数据源中断", "FEEDS SILENT") + (en ? ": " : "：") + names;
    if (box.textContent !== text) {
      box.textContent = text;
      box.setAttribute("data-silent", quiet.map(function (f) { return f.a; }).join(" "));
      // The desk's header may cut the text short: the tooltip has all of it.
      box.title = text + " — " + says("超过 " + state.feeds.stale_s + " 秒无消息",
                                      "silent for over " + state.feeds.stale_s + " s");
    }
  }

  // --- the stream --------------------------------------------------------------------------

  function connect() {
    if (!config || source) { return; }
    source = new EventSource(config.stream);
    source.addEventListener("snapshot", function (e) { onSnapshot(JSON.parse(e.data)); });
    source.addEventListener("units", function (e) { onUnits(JSON.parse(e.data)); });
    source.addEventListener("incidents", function (e) { onIncidents(JSON.parse(e.data)); });
    source.addEventListener("heartbeat", function (e) { onHeartbeat(JSON.parse(e.data)); });
    source.addEventListener("signedout", function () {
      window.location.assign("/login?next=" +
        encodeURIComponent(window.location.pathname + window.location.search));
    });
    source.onopen = function () { attempts = 0; };
    source.onerror = function () {
      // EventSource retries network errors by itself; an HTTP error (503 busy, a sign-in
      // redirect) closes it for good, so this script tries again, backing off.
      if (source && source.readyState === 2) { reconnect("closed"); }
    };
  }

  function reconnect(why) {
    if (source) { source.close(); source = null; }
    if (reconnectTimer) { return; }
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts += 1;
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay);
    console.info("sitroomLive: reconnecting in " + Math.round(delay) + " ms (" + why + ")");
  }

  function markLive() {
    state.live = true;
    state.lastLiveBeat = Date.now();
    state.lastBeatAny = Date.now();
  }

  function onSnapshot(msg) {
    var previous = state.incidents;
    state.units = new Map(msg.u.map(function (row) { return [row[U.ID], row]; }));
    state.incidents = new Map(msg.i.map(function (row) { return [row[I.ID], row]; }));
    state.version = msg.v;
    state.worker = msg.w;
    state.onlineS = msg.online_s;
    state.snapshots += 1;
    markLive();
    if (state.lastLiveAt === null) { state.lastLiveAt = Date.now(); }
    if (view) { view.full = true; }
    kpiDue = 0;
    schedule();
    emit("snapshot", { state: state, previous: previous });
  }

  function onUnits(msg) {
    state.version = msg.v;
    msg.u.forEach(function (row) {
      state.units.set(row[U.ID], row);
      if (view) { view.pendingUnits.add(row[U.ID]); }
    });
    schedule();
    emit("units", msg.u);
  }

  function onIncidents(msg) {
    state.version = msg.v;
    var changed = msg.i.map(function (row) {
      var before = state.incidents.get(row[I.ID]) || null;
      state.incidents.set(row[I.ID], row);
      if (view) { view.pendingIncidents.add(row[I.ID]); }
      return [row, before];
    });
    var removed = [];
    msg.r.forEach(function (id) {
      var before = state.incidents.get(id);
      if (before) { removed.push(before); }
      state.incidents.delete(id);
      if (view) { view.pendingIncidents.add(id); }
    });
    changed.forEach(function (pair) {
      var row = pair[0];
      var before = pair[1];
      if (!before || LEVEL_RANK[row[I.LEVEL]] < LEVEL_RANK[before[I.LEVEL]]) {
        pulse(row[I.ID], 60000);  // new or escalated: draw the eye for a minute
      }
    });
    kpiDue = 0;
    schedule();
    emit("incidents", { changed: changed, removed: removed });
  }

  function onHeartbeat(msg) {
    state.offsetMs = msg.t - Date.now();
    state.lastBeatAny = Date.now();
    state.feeds = msg.feeds || null;
    if (msg.live) {
      markLive();
      state.lastLiveAt = msg.t;
    } else {
      state.live = false;  // the worker says it cannot follow Redis: stale right away
    }
    checkStatus();
    emit("heartbeat", msg);
  }

  // --- drawing -----------------------------------------------------------------------------

  function schedule() {
    if (!frameRequested) {
      frameRequested = true;
      window.requestAnimationFrame(flush);
    }
  }

  function unitColour(row) {
    var kind = (row[U.KIND] || "").toLowerCase();
    if (config.unit_types[kind]) { return config.unit_types[kind]; }
    return config.agencies[(row[U.AGENCY] || "").toLowerCase()] || config.other;
  }

  function unitStyle(row, online) {
    var colour = unitColour(row);
    return {
      radius: UNIT_RADIUS, color: online ? "#0a0f16" : colour, weight: 1.5,
      opacity: online ? 1 : 0.8, fillColor: colour, fillOpacity: online ? 0.95 : 0.15,
      dashArray: online ? null : "2 2",
    };
  }

  var textBox = window.sitroomCommon.textBox;  // sitroom_common.js

  function timeOf(epochMs) {
    return new Date(epochMs).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai",
                                                       hour12: false });
  }

  function unitTip(layer) {
    var row = state.units.get(layer.sitroomId);
    if (!row) { return textBox([["tip-title", layer.sitroomId]]); }
    var online = isOnline(row);
    var speed = typeof row[U.SPEED] === "number" ? (row[U.SPEED] * 3.6).toFixed(0) + " km/h" : "";
    return textBox([
      ["tip-title", row[U.ID]],
      ["tip-line", [row[U.AGENCY], row[U.KIND]].filter(Boolean).join(" · ")],
      ["tip-line", online ? speed : "离线 offline"],
      ["tip-time", timeOf(row[U.TS])],
    ]);
  }

  function incidentTip(layer) {
    var row = state.incidents.get(layer.sitroomId);
    if (!row) { return textBox([["tip-title", layer.sitroomId]]); }
    var level = config.levels[row[I.LEVEL]] || {};
    return textBox([
      ["tip-level", row[I.LEVEL] + "级 " + (level.zh || "") + " · " + row[I.TYPE]],
      ["tip-title", row[I.TITLE]],
      ["tip-line", [row[I.AGENCY], row[I.STATUS]].filter(Boolean).join(" · ")],
      ["tip-time", timeOf(row[I.REPORTED])],
    ]);
  }

  /** Tag an SVG marker's element, so tests and operators' tools can find it. */
  function tag(layer, name, value) {
    layer.on("add", function () {
      var el = layer.getElement && layer.getElement();
      if (el) { el.setAttribute(name, value); }
    });
  }

  function pane(map, name, z) {
    var el = map.getPane(name) || map.createPane(name);
    el.style.zIndex = String(z);
    return name;
  }

  function bindMap(map) {
    if (view && view.map === map) { return; }
    var unitsPane = pane(map, "sitroomUnits", 410);
    var incidentsPane = pane(map, "sitroomIncidents", 420);
    // The pulsing rings get an SVG of their own: animated inside the incidents' SVG, every
    // frame repainted all the incident markers (≈ 8 s of main thread in 30 s with 1,000).
    var pulsesPane = pane(map, "sitroomPulses", 425);
    map.getPane(pulsesPane).style.pointerEvents = "none";
    view = {
      map: map,
      units: L.layerGroup().addTo(map),
      incidents: L.layerGroup().addTo(map),
      unitMarkers: new Map(),
      incidentMarkers: new Map(),
      pulses: new Map(),
      pendingUnits: new Set(),
      pendingIncidents: new Set(),
      canvas: false,
      full: true,
      svg: L.svg({ pane: unitsPane }),
      canvasRenderer: L.canvas({ pane: unitsPane, padding: 0.3 }),
      incidentRenderer: L.svg({ pane: incidentsPane }),
      pulseRenderer: L.svg({ pane: pulsesPane }),
    };
    map.on("unload", function () { if (view && view.map === map) { view = null; } });
    schedule();
    emit("map", map);
  }

  function drawUnit(id, now, drawn) {
    var row = state.units.get(id);
    var marker = view.unitMarkers.get(id);
    if (!row) {
      if (marker) { view.units.removeLayer(marker); view.unitMarkers.delete(id); }
      return;
    }
    var online = isOnline(row, now);
    var colour = unitColour(row);
    if (!marker) {
      var options = unitStyle(row, online);
      options.renderer = view.canvas ? view.canvasRenderer : view.svg;
      options.className = online ? "sitroom-unit" : "sitroom-unit sitroom-unit-offline";
      marker = L.circleMarker([row[U.LAT], row[U.LON]], options);
      marker.sitroomId = id;
      marker.sitroomOnline = online;
      marker.sitroomColour = colour;
      tag(marker, "data-unit", id);
      marker.bindTooltip(unitTip, { direction: "top", offset: [0, -UNIT_RADIUS],
                                    className: "sitroom-tooltip" });
      view.unitMarkers.set(id, marker);
      view.units.addLayer(marker);
    } else {
      marker.setLatLng([row[U.LAT], row[U.LON]]);
      if (marker.sitroomOnline !== online || marker.sitroomColour !== colour) {
        marker.sitroomOnline = online;
        marker.sitroomColour = colour;
        marker.setStyle(unitStyle(row, online));
        var el = marker.getElement && marker.getElement();
        if (el) { el.classList.toggle("sitroom-unit-offline", !online); }
      }
    }
    drawn.push(row);
  }

  function drawIncident(id) {
    var row = state.incidents.get(id);
    var marker = view.incidentMarkers.get(id);
    if (marker && (!row || marker.sitroomLevel !== row[I.LEVEL])) {
      view.incidents.removeLayer(marker);  // gone, or re-levelled: drawn anew below
      view.incidentMarkers.delete(id);
      marker = null;
    }
    if (!row) { dropPulse(id); return; }
    if (marker) { marker.setLatLng([row[I.LAT], row[I.LON]]); return; }
    var level = row[I.LEVEL];
    marker = L.circleMarker([row[I.LAT], row[I.LON]], {
      renderer: view.incidentRenderer,
      radius: level === "I" ? INCIDENT_RADIUS + 3 : INCIDENT_RADIUS,
      color: "#ffffff", weight: 2.5, opacity: 0.95,
      fillColor: (config.levels[level] || {}).colour || "#ffffff", fillOpacity: 0.85,
      className: "sitroom-incident sitroom-incident-" + level.toLowerCase(),
    });
    marker.sitroomId = id;
    marker.sitroomLevel = level;
    tag(marker, "data-incident", id);
    marker.bindTooltip(incidentTip, { direction: "top", offset: [0, -INCIDENT_RADIUS],
                                      className: "sitroom-tooltip" });
    view.incidentMarkers.set(id, marker);
    view.incidents.addLayer(marker);
  }

  function flush() {
    frameRequested = false;
    if (!view || !config) { return; }
    var now = serverNow();
    var wantCanvas = state.units.size > config.svg_max;
    if (wantCanvas !== view.canvas) {
      view.canvas = wantCanvas;  // switch renderers: every unit marker is made again
      view.units.clearLayers();
      view.unitMarkers.clear();
      view.full = true;
    }
    if (view.full) {
      view.full = false;
      view.unitMarkers.forEach(function (_m, id) { view.pendingUnits.add(id); });
      state.units.forEach(function (_r, id) { view.pendingUnits.add(id); });
      view.incidentMarkers.forEach(function (_m, id) { view.pendingIncidents.add(id); });
      state.incidents.forEach(function (_r, id) { view.pendingIncidents.add(id); });
    }
    var drawn = [];
    view.pendingUnits.forEach(function (id) { drawUnit(id, now, drawn); });
    view.pendingUnits.clear();
    view.pendingIncidents.forEach(drawIncident);
    view.pendingIncidents.clear();
    if (state.firstDrawnAt === null && state.snapshots > 0) {
      state.firstDrawnAt = performance.now();
    }
    if (Date.now() >= kpiDue) {
      kpiDue = Date.now() + KPI_EVERY_MS;
      updateKpis(now);
    }
    if (drawn.length) { emit("drawn", { units: drawn, at: Date.now() }); }
  }

  function pulse(id, ms) {
    if (!view) { return; }
    var row = state.incidents.get(id);
    if (!row) { return; }
    dropPulse(id);
    var ring = L.circleMarker([row[I.LAT], row[I.LON]], {
      renderer: view.pulseRenderer, radius: 20, interactive: false, fill: false,
      color: (config.levels[row[I.LEVEL]] || {}).colour || "#ffffff", weight: 4,
      className: "sitroom-pulse-ring",
    }).addTo(view.map);
    var timer = setTimeout(function () { dropPulse(id); }, ms);
    view.pulses.set(id, { ring: ring, timer: timer });
  }

  function dropPulse(id) {
    var found = view && view.pulses.get(id);
    if (!found) { return; }
    clearTimeout(found.timer);
    found.ring.remove();
    view.pulses.delete(id);
  }

  // --- KPIs --------------------------------------------------------------------------------

  function kpis(now) {
    var at = now === undefined ? serverNow() : now;
    var online = 0;
    state.units.forEach(function (row) { if (isOnline(row, at)) { online += 1; } });
    var byLevel = { I: 0, II: 0, III: 0, IV: 0 };
    state.incidents.forEach(function (row) { byLevel[row[I.LEVEL]] += 1; });
    return { unitsOnline: online, unitsTotal: state.units.size, byLevel: byLevel,
             incidents: state.incidents.size };
  }

  function setText(id, text) {
    var el = id && document.getElementById(id);
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  function updateKpis(now) {
    if (!config || state.snapshots === 0) { return; }
    var k = kpis(now);
    setText(config.ids.units, k.unitsOnline + " / " + k.unitsTotal);
    setText(config.ids.total, String(k.incidents));
    Object.keys(config.ids.levels || {}).forEach(function (level) {
      setText(config.ids.levels[level], String(k.byLevel[level] || 0));
    });
  }

  function checkOnline() {
    // Units turn offline by the clock, without any message: restyle those that crossed.
    if (!view) { return; }
    var now = serverNow();
    view.unitMarkers.forEach(function (marker, id) {
      var row = state.units.get(id);
      if (row && marker.sitroomOnline !== isOnline(row, now)) { view.pendingUnits.add(id); }
    });
    kpiDue = 0;
    schedule();
  }

  // --- wiring: find the page's configuration and its map -----------------------------------

  function readConfig() {
    var el = document.querySelector(".sitroom-live-config");
    if (el === configEl) { return; }
    configEl = el;
    if (!el) { return; }  // left a live page: keep the stream, it is cheap and comes back
    config = JSON.parse(el.getAttribute("data-config"));
    state.onlineS = config.online_s;
    lastStatus = null;
    tryBind();
    connect();
    checkStatus();
    kpiDue = 0;
    schedule();
  }

  function tryBind() {
    var map = config && maps[config.ids.map];
    if (map && (!view || view.map !== map)) { map.whenReady(function () { bindMap(map); }); }
  }

  var hooked = false;

  function hookLeaflet() {
    if (hooked || !window.L || !window.L.Map) { return; }
    hooked = true;
    window.L.Map.addInitHook(function () {
      var map = this;
      var el = map.getContainer();
      if (!el || !el.id) { return; }
      maps[el.id] = map;
      map.on("unload", function () { if (maps[el.id] === map) { delete maps[el.id]; } });
      tryBind();
    });
  }

  hookLeaflet();
  document.addEventListener("DOMContentLoaded", function () {
    hookLeaflet();
    readConfig();
    new MutationObserver(function () { hookLeaflet(); readConfig(); })
      .observe(document.body, { childList: true, subtree: true });
  });
  setInterval(checkStatus, 1000);
  setInterval(checkOnline, ONLINE_CHECK_MS);

  window.sitroomLive = {
    on: on,
    off: off,
    state: function () { return state; },
    config: function () { return config; },
    serverNow: serverNow,
    isOnline: isOnline,
    kpis: kpis,
    pulse: pulse,
    status: currentStatus,
    silentFeeds: silentFeeds,
    map: function () { return view ? view.map : null; },
    fields: { unit: U, incident: I },
    levelRank: LEVEL_RANK,
  };
})();
