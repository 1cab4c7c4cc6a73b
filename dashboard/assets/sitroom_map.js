/*
 * Map functions of the sitroom dashboard, referenced from Python with
 * dash_extensions.javascript.Namespace("sitroom", "map"), and the header clock
 * (a Dash clientside callback). Shipped as a file: nothing is generated at run time.
 *
 * Text from the feeds (unit ids, incident titles) is only ever set with textContent,
 * never as HTML.
 */
(function () {
  "use strict";

  var UNIT_RADIUS = 6;
  var INCIDENT_RADIUS = 11;

  var textBox = window.sitroomCommon.textBox;  // sitroom_common.js

  function timeOf(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) {
      return "";
    }
    return when.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }

  function unitToLayer(feature, latlng) {
    var p = feature.properties || {};
    var online = p.online === true;
    return L.circleMarker(latlng, {
      radius: UNIT_RADIUS,
      color: online ? "#0a0f16" : p.colour,
      weight: online ? 1.5 : 1.5,
      opacity: online ? 1 : 0.8,
      fillColor: p.colour,
      fillOpacity: online ? 0.95 : 0.15,
      dashArray: online ? null : "2 2",
      className: online ? "sitroom-unit" : "sitroom-unit sitroom-unit-offline",
    });
  }

  /** Tag a marker's SVG element with an id, so tests and operators' tools can find it. */
  function tagElement(layer, name, value) {
    layer.on("add", function () {
      var el = layer.getElement && layer.getElement();
      if (el) { el.setAttribute(name, value); }
    });
  }

  function unitTooltip(feature, layer) {
    var p = feature.properties || {};
    tagElement(layer, "data-unit", String(p.unit));
    var kind = [p.agency, p.unit_type].filter(Boolean).join(" · ");
    var speed = typeof p.speed === "number" ? (p.speed * 3.6).toFixed(0) + " km/h" : "";
    layer.bindTooltip(
      textBox([
        ["tip-title", p.unit],
        ["tip-line", kind],
        ["tip-line", p.online ? speed : "离线 offline"],
        ["tip-time", timeOf(p.ts)],
      ]),
      { direction: "top", offset: [0, -UNIT_RADIUS], className: "sitroom-tooltip" }
    );
  }

  function incidentToLayer(feature, latlng) {
    var p = feature.properties || {};
    return L.circleMarker(latlng, {
      radius: p.level === "I" ? INCIDENT_RADIUS + 3 : INCIDENT_RADIUS,
      color: "#ffffff",
      weight: 2.5,
      opacity: 0.95,
      fillColor: p.level_colour,
      fillOpacity: 0.85,
      className: "sitroom-incident sitroom-incident-" + String(p.level || "").toLowerCase(),
    });
  }

  function incidentTooltip(feature, layer) {
    var p = feature.properties || {};
    tagElement(layer, "data-incident", String(p.id));
    layer.bindTooltip(
      textBox([
        ["tip-level", (p.level || "") + "级 " + (p.level_zh || "") + " · " + (p.type || "")],
        ["tip-title", p.title],
        ["tip-line", [p.agency, p.status].filter(Boolean).join(" · ")],
        ["tip-time", timeOf(p.reported_at)],
      ]),
      { direction: "top", offset: [0, -INCIDENT_RADIUS], className: "sitroom-tooltip" }
    );
  }

  function districtStyle() {
    return { color: "#3f6d96", weight: 1.2, opacity: 0.9, fillColor: "#15283b", fillOpacity: 0.55 };
  }

  function outlineStyle() {
    return { color: "#7fb2e5", weight: 2.5, opacity: 0.9, fill: false };
  }

  function districtLabel(feature, latlng) {
    var p = feature.properties || {};
    var body = document.createElement("div");
    var zh = document.createElement("div");
    zh.className = "district-zh";
    zh.textContent = p.name || "";
    body.appendChild(zh);
    if (p.name_en) {
      var en = document.createElement("div");
      en.className = "district-en";
      en.textContent = p.name_en;
      body.appendChild(en);
    }
    return L.marker(latlng, {
      pane: "sitroomLabels",
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "sitroom-district-label", html: body, iconSize: null }),
    });
  }

  var WEEKDAYS = ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"];

  /** Beijing time, whatever the screen's time zone: "2025-11-26 09:15:02 星期三 北京时间" or
   * "2025-11-26 09:15:02 Wed Beijing time". */
  function clock() {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Shanghai", hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short",
    }).formatToParts(new Date()).forEach(function (part) { parts[part.type] = part.value; });
    var day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(parts.weekday);
    var stamp = parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
      parts.minute + ":" + parts.second + " ";
    // The page's language (?lang=en); the time is Beijing's either way.
    if (/(^|[?&])lang=en/i.test(window.location.search)) {
      return stamp + parts.weekday + " Beijing time";
    }
    return stamp + (WEEKDAYS[day] || "") + " 北京时间";
  }

  window.sitroom = Object.assign({}, window.sitroom, {
    map: {
      unitToLayer: unitToLayer,
      unitTooltip: unitTooltip,
      incidentToLayer: incidentToLayer,
      incidentTooltip: incidentTooltip,
      districtStyle: districtStyle,
      outlineStyle: outlineStyle,
      districtLabel: districtLabel,
    },
  });
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    sitroom: { clock: clock },
  });
})();
