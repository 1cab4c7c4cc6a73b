/*
 * The leader's desk in the browser: a click on an incident marker of the desk's map selects
 * it (the list's rows select themselves: assets/desk_list.js), and the drawing functions
 * of the replay map, referenced from Python with
 * dash_extensions.javascript.Namespace("sitroomDesk", "replay").
 *
 * Text from the feeds (unit ids, incident titles) is only ever set with textContent.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) { return; }
    // Read at the click: the map's markers are redrawn on every push.
    var marker = target.closest("[data-incident]");
    if (!marker || !marker.closest(".desk-map")) { return; }
    var clientside = window.dash_clientside;
    if (clientside && clientside.set_props) {
      clientside.set_props("desk-selected", { data: marker.getAttribute("data-incident") });
    }
  }, true);

  // Incident changes pushed by the live client (sitroom_live.js) refresh the desk's list and
  // panel at once instead of at the next poll; bursts are folded into one refresh.
  var pending = null;
  function changed() {
    if (pending !== null) { return; }
    pending = setTimeout(function () {
      pending = null;
      var clientside = window.dash_clientside;
      if (clientside && clientside.set_props && document.getElementById("desk-live")) {
        clientside.set_props("desk-live", { data: Date.now() });
      }
    }, 300);
  }
  function follow() {
    if (window.sitroomLive && window.sitroomLive.on) {
      window.sitroomLive.on("incidents", changed);
      return true;
    }
    return false;
  }
  if (!follow()) { document.addEventListener("DOMContentLoaded", follow); }

  function tip(lines) {
    var box = document.createElement("div");
    box.className = "sitroom-tip";
    lines.forEach(function (line) {
      if (!line[1]) { return; }
      var row = document.createElement("div");
      row.className = line[0];
      row.textContent = String(line[1]);
      box.appendChild(row);
    });
    return box;
  }

  function tag(layer, name, value) {
    layer.on("add", function () {
      var el = layer.getElement && layer.getElement();
      if (el) { el.setAttribute(name, value); }
    });
  }

  function unitToLayer(feature, latlng) {
    var p = feature.properties || {};
    return L.circleMarker(latlng, {
      radius: 6, color: "#0a0f16", weight: 1.5, fillColor: p.colour, fillOpacity: 0.95,
      className: "replay-unit",
    });
  }

  function unitTooltip(feature, layer) {
    var p = feature.properties || {};
    tag(layer, "data-unit", String(p.unit));
    layer.bindTooltip(tip([["tip-title", p.unit], ["tip-line", p.agency], ["tip-time", p.ts]]),
      { direction: "top", className: "sitroom-tooltip" });
  }

  function incidentToLayer(feature, latlng) {
    var p = feature.properties || {};
    return L.circleMarker(latlng, {
      radius: p.level === "I" ? 14 : 11, color: "#ffffff", weight: 2.5, opacity: 0.95,
      fillColor: p.level_colour, fillOpacity: 0.85,
      className: "replay-incident replay-incident-" + String(p.level || "").toLowerCase(),
    });
  }

  function incidentTooltip(feature, layer) {
    var p = feature.properties || {};
    tag(layer, "data-replay-incident", String(p.id));
    layer.bindTooltip(tip([["tip-level", (p.level || "") + " · " + (p.status || "")],
                           ["tip-title", p.title]]),
      { direction: "top", className: "sitroom-tooltip" });
  }

  /**
   * The conference button (a Dash clientside callback): open a tab at once, while the click
   * still counts as the user's, then ask the dashboard to open the incident's room and send
   * the tab to the room's page; say why when it cannot.
   */
  function conference(clicks, incident, lang) {
    var none = window.dash_clientside.no_update;
    if (!clicks || !incident) { return none; }
    var tab = window.open("about:blank", "_blank");
    var url = "/api/incidents/" + encodeURIComponent(incident) + "/conference?lang=" +
      encodeURIComponent(lang || "zh");
    var failed = (document.getElementById("desk-conference-msg") || {}).dataset || {};
    return fetch(url, { method: "POST", credentials: "same-origin" })
      .then(function (answer) {
        return answer.json().then(function (body) { return { ok: answer.ok, body: body }; });
      })
      .then(function (result) {
        if (result.ok && result.body.url) {
          if (tab) { tab.location.href = result.body.url; }
          return "";
        }
        if (tab) { tab.close(); }
        var body = result.body || {};
        var why = lang === "en" ? (body.error || body.hint) : (body.error_zh || body.hint);
        return (failed.failed || "") + (why ? ": " + why : "");
      })
      .catch(function (err) {
        if (tab) { tab.close(); }
        return (failed.failed || "") + ": " + String(err);
      });
  }

  /**
   * The left column's units and alarms lists (a Dash clientside callback): which list data
   * assets/desk_list.js draws ([] clears it). The tab switches
   * at once; a list is shown only if it answers for the tab and agency now chosen: the
   * server callback also runs on a 3 s tick, and on a loaded machine an answer for the tab
   * just left could land after the new tab's and stand until the next tick.
   */
  function otherList(tab, answer, agency) {
    var none = window.dash_clientside.no_update;
    var shown = { display: "flex" }, hidden = { display: "none" };
    if (tab === "incidents") { return [shown, hidden, none]; }
    var current = answer && answer.tab === tab && answer.agency === agency;
    var triggered = (window.dash_clientside.callback_context.triggered || [])
      .map(function (t) { return t.prop_id; });
    var byAnswer = triggered.length === 1 && triggered[0] === "desk-other-data.data";
    var body = current ? answer.body : (byAnswer ? none : []);
    return [hidden, shown, body];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    sitroomDesk: { conference: conference, otherList: otherList },
  });

  window.sitroomDesk = Object.assign({}, window.sitroomDesk, {
    replay: {
      unitToLayer: unitToLayer, unitTooltip: unitTooltip,
      incidentToLayer: incidentToLayer, incidentTooltip: incidentTooltip,
    },
  });
})();
