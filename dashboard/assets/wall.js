/*
 * The wall screen's behaviour (page: dashboard/wall.py), on top of window.sitroomLive
 * (sitroom_live.js, which draws the map and counts the open incidents).
 *
 * - Event ticker: new incidents, escalations, status changes and closures from the live
 *   deltas; dispatches and acknowledgements from /api/wall/summary (the journal).
 * - Follows the most severe new (or escalated) incident: flies to it, rings it with a callout
 *   for FOCUS_MS, then flies back to the city. A more severe one takes over; a less severe one
 *   only pulses.
 * - Figures from /api/wall/summary every SUMMARY_EVERY_MS: units per agency, alarms in the
 *   last hour, today's average response, the weather.
 * - A big "数据中断 DATA STALE" banner while sitroomLive reports the data as stale.
 *
 * Does nothing on pages without #wall-map. Feed text only ever goes into textContent.
 */
(function () {
  "use strict";

  var SUMMARY = "/api/wall/summary";
  var SUMMARY_EVERY_MS = 15000;
  var FOCUS_MS = 30000;
  var FOCUS_ZOOM = 11.5;
  var TICKER_MAX = 12;
  var SEED_WINDOW_MS = 3600 * 1000;
  var FRESH_MS = 20000;
  var NO_DATA = "无数据 no data";

  var COMPASS = [["北", "N"], ["东北", "NE"], ["东", "E"], ["东南", "SE"], ["南", "S"],
                 ["西南", "SW"], ["西", "W"], ["西北", "NW"]];

  var items = [];
  var keys = new Set();
  var focus = null;
  var summaryTimer = null;
  var started = false;
  var summaryLoaded = false;

  function el(id) { return document.getElementById(id); }

  function onWall() { return !!el("wall-map"); }

  function hhmmss(epochMs) {
    if (!epochMs) { return "--:--:--"; }
    return new Date(epochMs).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai",
                                                            hour12: false });
  }

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) { n.className = className; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }

  /** [zh, en] names of an incident status, from the page's config (incidents.model). */
  function statusNames(status) {
    var cfg = window.sitroomLive.config();
    return (cfg && cfg.statuses && cfg.statuses[status]) || [status, status];
  }

  function levelInfo(level) {
    var cfg = window.sitroomLive.config();
    return (cfg && cfg.levels[level]) || { colour: "#9aa4b2", zh: "", en: "" };
  }

  // --- the ticker ----------------------------------------------------------------------------

  /** Add a ticker line; a `fresh` one (it just happened) is highlighted for FRESH_MS. */
  function addItem(item, fresh) {
    if (keys.has(item.key)) { return; }
    keys.add(item.key);
    item.freshUntil = fresh ? Date.now() + FRESH_MS : 0;
    items.push(item);
    items.sort(function (a, b) { return b.at - a.at; });
    items.splice(TICKER_MAX).forEach(function (gone) { keys.delete(gone.key); });
    renderTicker();
  }

  function expireFresh() {
    var now = Date.now();
    var expired = items.filter(function (i) { return i.freshUntil && i.freshUntil <= now; });
    expired.forEach(function (i) { i.freshUntil = 0; });
    if (expired.length) { renderTicker(); }
  }

  function renderTicker() {
    var list = el("wall-ticker");
    if (!list) { return; }
    var now = Date.now();
    list.replaceChildren.apply(list, items.map(function (item) {
      var li = node("li", "wall-tick wall-tick-" + item.kind +
                    (item.freshUntil > now ? " wall-tick-fresh" : ""));
      li.setAttribute("data-incident", item.incident || "");
      li.appendChild(node("span", "wall-tick-time", hhmmss(item.at)));
      var chip = node("span", "wall-tick-level", item.level || "–");
      chip.style.setProperty("--level-colour", levelInfo(item.level).colour);
      li.appendChild(chip);
      var text = node("span", "wall-tick-text");
      text.appendChild(node("span", "wall-zh", item.zh));
      text.appendChild(node("span", "wall-en", item.en));
      li.appendChild(text);
      return li;
    }));
    if (!items.length) {
      list.appendChild(node("li", "wall-ticker-empty", "等待事件… Waiting for events…"));
    }
  }

  /** An incident type's English name (the code when nobody named it): the English line
   * cannot repeat the reporter's Chinese title. */
  function typeEn(code) {
    var cfg = window.sitroomLive.config();
    var names = cfg && cfg.types && cfg.types[code];
    return names ? names[1] : String(code || "");
  }

  function liveItem(key, row, kind, zhHead, enHead, at) {
    var F = window.sitroomLive.fields.incident;
    var level = levelInfo(row[F.LEVEL]);
    return {
      key: key, at: at, kind: kind, level: row[F.LEVEL], incident: row[F.ID],
      zh: zhHead + " · " + row[F.LEVEL] + "级" + level.zh + " · " + row[F.TITLE],
      en: enHead + " · level " + row[F.LEVEL] + " " + level.en + " · " + typeEn(row[F.TYPE]),
    };
  }

  function onIncidents(change) {
    var live = window.sitroomLive;
    var F = live.fields.incident;
    var now = live.serverNow();
    var candidates = [];
    change.changed.forEach(function (pair) {
      var row = pair[0];
      var before = pair[1];
      var id = row[F.ID];
      if (!before) {
        addItem(liveItem("n:" + id, row, "new", "新事件", "New incident", row[F.REPORTED]),
                true);
        candidates.push([row, "新事件 NEW INCIDENT"]);
        return;
      }
      var up = live.levelRank[row[F.LEVEL]] - live.levelRank[before[F.LEVEL]];
      if (up !== 0) {
        var zh = up < 0 ? "升级 " : "降级 ";
        addItem(liveItem("l:" + id + ":" + row[F.UPDATED], row, up < 0 ? "escalate" : "status",
                         zh + before[F.LEVEL] + "→" + row[F.LEVEL],
                         (up < 0 ? "Escalated " : "De-escalated ") + before[F.LEVEL] + "→" +
                         row[F.LEVEL], now), true);
        if (up < 0) { candidates.push([row, "升级 ESCALATED"]); }
      }
      if (row[F.STATUS] !== before[F.STATUS]) {
        var s = statusNames(row[F.STATUS]);
        addItem(liveItem("s:" + id + ":" + row[F.STATUS], row, "status", s[0], s[1], now),
                true);
      }
    });
    change.removed.forEach(function (row) {
      var closed = statusNames("closed");
      addItem(liveItem("c:" + row[F.ID], row, "closed", closed[0], closed[1], now), true);
      if (focus && focus.id === row[F.ID]) { unfocus(); }
    });
    follow(candidates);
  }

  function seedFromSnapshot() {
    // A wall (re)started mid-shift shows the last hour's incidents instead of an empty feed.
    var live = window.sitroomLive;
    var F = live.fields.incident;
    var since = live.serverNow() - SEED_WINDOW_MS;
    live.state().incidents.forEach(function (row) {
      if (row[F.REPORTED] >= since) {
        addItem(liveItem("n:" + row[F.ID], row, "new", "新事件", "New incident",
                         row[F.REPORTED]), false);
      }
    });
  }

  // --- following the most severe new incident -----------------------------------------------

  function follow(candidates) {
    if (!candidates.length) { return; }
    var live = window.sitroomLive;
    var F = live.fields.incident;
    candidates.sort(function (a, b) {
      return live.levelRank[a[0][F.LEVEL]] - live.levelRank[b[0][F.LEVEL]];
    });
    var best = candidates[0];
    var rank = live.levelRank[best[0][F.LEVEL]];
    if (focus && rank > focus.rank) { return; }  // less severe than what the wall shows
    focusOn(best[0], best[1], rank);
  }

  function focusOn(row, headline, rank) {
    var live = window.sitroomLive;
    var F = live.fields.incident;
    var map = live.map();
    if (!map) { return; }
    dropFocus();
    var level = levelInfo(row[F.LEVEL]);
    var box = node("div", "wall-callout-box");
    box.style.setProperty("--level-colour", level.colour);
    box.appendChild(node("div", "wall-callout-head", headline));
    box.appendChild(node("div", "wall-callout-level",
                         row[F.LEVEL] + "级 " + level.zh + " · " + level.en));
    box.appendChild(node("div", "wall-callout-title", row[F.TITLE]));
    var callout = L.marker([row[F.LAT], row[F.LON]], {
      icon: L.divIcon({ className: "wall-callout", html: box, iconSize: null }),
      interactive: false, keyboard: false, zIndexOffset: 1000,
    }).addTo(map);
    live.pulse(row[F.ID], FOCUS_MS);
    map.flyTo([row[F.LAT], row[F.LON]], FOCUS_ZOOM, { duration: 1.2 });
    focus = { id: row[F.ID], rank: rank, callout: callout,
              timer: setTimeout(unfocus, FOCUS_MS) };
  }

  function dropFocus() {
    if (!focus) { return; }
    clearTimeout(focus.timer);
    focus.callout.remove();
    focus = null;
  }

  function unfocus() {
    dropFocus();
    var map = window.sitroomLive.map();
    var cfg = window.sitroomLive.config();
    if (map && cfg) { map.flyToBounds(cfg.bounds, { padding: [24, 24], duration: 1.2 }); }
  }

  // --- figures from PostgreSQL ---------------------------------------------------------------

  function setText(id, text) {
    var n = el(id);
    if (n && n.textContent !== text) { n.textContent = text; }
  }

  function duration(seconds) {
    var s = Math.round(seconds);
    var m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function renderAgencies(units) {
    var body = el("wall-agencies");
    if (!body) { return; }
    if (!units.length) {
      var none = node("td", "wall-none", NO_DATA);
      none.colSpan = 3;
      var empty = node("tr");
      empty.appendChild(none);
      body.replaceChildren(empty);
      return;
    }
    body.replaceChildren.apply(body, units.map(function (u) {
      var tr = node("tr");
      var name = node("td", "wall-agency");
      name.appendChild(node("span", "wall-zh", u.zh));
      name.appendChild(node("span", "wall-en", u.en));
      tr.appendChild(name);
      tr.appendChild(node("td", "wall-available", u.available));
      tr.appendChild(node("td", "wall-engaged", u.engaged));
      return tr;
    }));
  }

  function renderWeather(weather) {
    var box = el("wall-weather");
    var main = box && box.querySelector(".wall-weather-main");
    var detail = box && box.querySelector(".wall-weather-detail");
    if (!main || !detail) { return; }
    var parts = [];
    if (weather.wind_speed) {
      var dir = "";
      if (weather.wind_direction) {
        var c = COMPASS[Math.round(weather.wind_direction.value / 45) % 8];
        dir = c[0] + "风 " + c[1] + " ";
      }
      parts.push(dir + weather.wind_speed.value.toFixed(1) + " m/s");
    }
    if (weather.rainfall) {
      parts.push("雨量 rain " + weather.rainfall.value.toFixed(1) + " " + weather.rainfall.unit);
    }
    if (weather.temperature) {
      main.textContent = weather.temperature.value.toFixed(1) + " °C";
      detail.textContent = parts.join(" · ");
    } else {
      main.textContent = parts.shift() || NO_DATA;
      detail.textContent = parts.join(" · ");
    }
    var first = weather.temperature || weather.wind_speed || weather.rainfall;
    box.title = first ? first.station + " · " + hhmmss(first.at) : "";
  }

  function renderSummary(s) {
    setText("wall-kpi-alarms", String(s.alarms_hour));
    if (s.response.average_s === null) {
      setText("wall-kpi-response", NO_DATA);
    } else {
      setText("wall-kpi-response", duration(s.response.average_s));
    }
    setText("wall-kpi-response-detail", "到场 " + s.response.reached + " / 接报 " +
            s.response.reported + " · reached " + s.response.reached + " of " +
            s.response.reported);
    renderAgencies(s.units);
    renderWeather(s.weather);
    s.events.forEach(function (item) { addItem(item, summaryLoaded); });
    summaryLoaded = true;
  }

  function refreshSummary() {
    if (!onWall()) { return; }
    fetch(SUMMARY, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error(r.status)); })
      .then(renderSummary)
      .catch(function (err) { console.info("wall summary: " + err.message); });
  }

  // --- staleness -----------------------------------------------------------------------------

  function showStatus() {
    var banner = el("wall-stale");
    if (!banner) { return; }
    var live = window.sitroomLive;
    var stale = live.status() === "stale";
    if (banner.hidden === stale) { banner.hidden = !stale; }
    setText("wall-stale-time", hhmmss(live.state().lastLiveAt));
    document.body.classList.toggle("wall-is-stale", stale);
  }

  // --- start -----------------------------------------------------------------------------------

  function start() {
    if (started || !window.sitroomLive) { return; }
    started = true;
    var live = window.sitroomLive;
    live.on("incidents", function (change) { if (onWall()) { onIncidents(change); } });
    live.on("snapshot", function () { if (onWall()) { seedFromSnapshot(); } });
    live.on("status", function () { if (onWall()) { showStatus(); } });
    setInterval(function () { if (onWall()) { showStatus(); expireFresh(); } }, 1000);
    refreshSummary();
    summaryTimer = setInterval(refreshSummary, SUMMARY_EVERY_MS);
    new MutationObserver(function () {
      // The wall appeared (Dash renders pages after the scripts load): fill it at once.
      if (onWall() && !el("wall-agencies").getAttribute("data-filled")) {
        el("wall-agencies").setAttribute("data-filled", "1");
        renderTicker();
        refreshSummary();
      }
    }).observe(document.body, { childList: true, subtree: true });
  }

  document.addEventListener("DOMContentLoaded", start);

  window.sitroomWall = {
    focused: function () { return focus ? focus.id : null; },
    items: function () { return items.slice(); },
    refresh: refreshSummary,
    summaryTimer: function () { return summaryTimer; },
  };
})();
