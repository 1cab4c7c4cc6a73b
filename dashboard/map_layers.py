"""The map's switchable layers and the draw-to-query tool, as components any page drops into
its ``dl.Map``: ``children=[..., *overlay_layers(settings, lang), *draw_control(lang)]``.

- Base layers: local tiles (``map.tiles_file``, served at /tiles) and internal XYZ / WMTS
  services (``map.tile_servers``). With none configured there is no tile layer at all, so the
  browser asks no tile server for anything; the districts stay the basemap.
- Overlays: the page's live units per agency and open incidents per level (switches that hide
  markers, see sitroom_layers.js), incident hotspots, facilities per kind and cameras
  (clustered), gauges, sensitive areas, rivers and roads (on: they complete the vector
  basemap) and the population grid, each fetched from /api (dashboard.map_api).
- Draw a polygon, rectangle or circle: the panel lists what lies inside (sitroom_draw.js asks
  POST /api/analysis/inside).

Layer names go into Leaflet's layer switcher as HTML, so every name is escaped here.
"""

from __future__ import annotations

import html as htmlmod
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import dash_leaflet as dl
from dash import html
from dash.development.base_component import Component
from dash_extensions.javascript import Namespace

from config.settings import MapSettings, Settings, TileServer
from dashboard.i18n import Catalogue, Lang
from incidents.facilities import FacilityKind
from incidents.model import Level
from incidents.taxonomy import Taxonomy, load_taxonomy
from maps.tiles import TileError, TileSetInfo, open_tiles

log = logging.getLogger(__name__)

AREAS_PANE: Final = "sitroomAreas"
"""Population, hotspots, sensitive areas: above the districts, below everything else."""
LINES_PANE: Final = "sitroomLines"
"""Rivers and roads."""
POINTS_PANE: Final = "sitroomPoints"
"""Facilities, cameras, gauges: below the live units and incidents (Leaflet's overlay pane)."""
LAYERS_CONTROL_ID: Final = "map-layers"
DRAW_ID: Final = "map-draw"
INSIDE_ID: Final = "map-inside"
"""The draw-to-query result panel (filled by sitroom_draw.js)."""
FILTER_PREFIX: Final = "map-filter"
"""Ids of the switches over the page's live layers: ``map-filter--units--police``."""
CLUSTER_OPTIONS: Final = {"radius": 48, "maxZoom": 13}
"""Supercluster: points closer than 48 px merge, until zoom 13 where every point shows."""
HOTSPOT_QUERY: Final = {"hours": 24, "resolution": 8}

_TEXTS: Final = {
    "tiles_vector": ("矢量底图", "Vector basemap"),
    "tiles_local": ("本地瓦片底图", "Local tiles"),
    "units": ("力量", "Units"),
    "incidents": ("事件", "Incidents"),
    "hotspots": ("事件热力（24小时）", "Incident hotspots (24 h)"),
    "cameras": ("视频监控", "Cameras"),
    "streams": ("实时视频", "Live video"),
    "gauges": ("水文站", "Gauges"),
    "sensitive_areas": ("敏感区域", "Sensitive areas"),
    "rivers": ("河流", "Rivers"),
    "roads": ("道路", "Roads"),
    "population": ("人口分布", "Population"),
    "kind_other": ("其他设施", "Other facilities"),
    "inside_title": ("框选范围", "Drawn area"),
    "inside_hint": ("用左上角工具画多边形、矩形或圆，查看范围内的设施、人口、力量和事件",
                    "Draw a polygon, rectangle or circle (top left) to see the facilities,"
                    " people, units and incidents inside"),
    "inside_area": ("面积", "Area"),
    "inside_radius": ("半径", "Radius"),
    "inside_population": ("估算人口", "Estimated population"),
    "inside_facilities": ("设施", "Facilities"),
    "inside_units": ("力量", "Units"),
    "inside_incidents": ("事件", "Incidents"),
    "inside_none": ("无", "none"),
    "inside_more": ("另有", "more"),
    "inside_live_down": ("实时数据不可用", "live data unavailable"),
    "inside_loading": ("查询中…", "Querying…"),
    "inside_failed": ("查询失败", "Query failed"),
    "inside_close": ("关闭", "Close"),
}
LABELS = Catalogue(_TEXTS)
"""Every text the map's switches and the draw panel show."""

FACILITY_KINDS: Final = ("hospital", "school", "shelter", "hazardous_site", "fire_station",
                         "hydrant", "reservoir")
"""Facility kinds with a switch of their own; the rest go under "other facilities"."""

_js = Namespace("sitroom", "layers")
_draw_js = Namespace("sitroom", "draw")


def _name(text: str) -> str:
    """A switch label: Leaflet's layer control inserts it as HTML."""
    return htmlmod.escape(text)


def _label(key: str, lang: Lang, fallback: str | None = None) -> str:
    try:
        return LABELS(key, lang)
    except KeyError:
        if fallback is None:
            raise
        return fallback


# --- base layers: tiles -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TileChoice:
    """One tile layer the switcher offers."""

    name: str
    """Label in the switcher."""
    layer: dl.TileLayer
    """The Leaflet tile layer."""
    overlay: bool
    """True for a transparent layer drawn over the base (annotations)."""


def local_tiles_info(config: MapSettings) -> TileSetInfo | None:
    """What ``map.tiles_file`` holds; None (with a warning) when it cannot be read now."""
    if config.tiles_file is None:
        return None
    try:
        with open_tiles(config.tiles_file) as reader:
            return reader.info
    except TileError as exc:
        # The dashboard checked the file at start-up; it went away or broke since.
        log.warning("local tiles left out of the map: %s", exc)
        return None


def tile_choices(config: MapSettings, lang: Lang, local: TileSetInfo | None) -> list[TileChoice]:
    """The tile layers of the settings, local tiles first (checked); none when unconfigured."""
    choices: list[TileChoice] = []
    events = {"add": _js("tilesOn"), "remove": _js("tilesOff")}
    if local is not None:
        west, south, east, north = local.bounds or (-180.0, -85.0511, 180.0, 85.0511)
        credit = config.tiles_attribution or local.attribution or local.name
        choices.append(TileChoice(_label("tiles_local", lang), dl.TileLayer(
            id="map-tiles-local", url=f"/tiles/{{z}}/{{x}}/{{y}}.{local.format.value}",
            attribution=htmlmod.escape(credit), minNativeZoom=local.min_zoom,
            maxNativeZoom=local.max_zoom, maxZoom=config.max_zoom,
            bounds=[[south, west], [north, east]], eventHandlers=events), overlay=False))
    for index, server in enumerate(config.tile_servers):
        choices.append(TileChoice(server.name if lang is Lang.ZH else server.name_en,
                                  _server_layer(server, index, config.max_zoom, events),
                                  overlay=server.overlay))
    return choices


def _server_layer(server: TileServer, index: int, max_zoom: int,
                  events: dict[str, Any]) -> dl.TileLayer:
    extra: dict[str, Any] = {"subdomains": server.subdomains} if server.subdomains else {}
    return dl.TileLayer(
        id=f"map-tiles-{index}", url=server.url, attribution=htmlmod.escape(server.attribution),
        minNativeZoom=server.min_zoom, maxNativeZoom=server.max_zoom, maxZoom=max_zoom,
        tms=server.tms, eventHandlers={} if server.overlay else events, **extra)


def _base_layers(choices: Sequence[TileChoice], lang: Lang) -> list[Component]:
    bases = [c for c in choices if not c.overlay]
    layers: list[Component] = [
        dl.BaseLayer(c.layer, name=_name(c.name), checked=i == 0) for i, c in enumerate(bases)]
    if bases:
        # Switching the tiles off leaves the districts alone, as with nothing configured.
        layers.append(dl.BaseLayer(dl.LayerGroup(id="map-tiles-none"),
                                   name=_name(_label("tiles_vector", lang)), checked=False))
    layers += [dl.Overlay(c.layer, name=_name(c.name), checked=True)
               for c in choices if c.overlay]
    return layers


# --- overlays ---------------------------------------------------------------------------------


def filter_id(group: str, value: str) -> str:
    """Id of a switch over the page's live layer ``group`` (units, incidents) for ``value``."""
    return f"{FILTER_PREFIX}--{group}--{value}"


def _switch(group: str, value: str, name: str) -> dl.Overlay:
    # An empty layer whose add/remove events show or hide the page's own markers: the live
    # layers stay one per page, fed by its poll, and these only filter what is drawn.
    return dl.Overlay(dl.LayerGroup(id=filter_id(group, value), eventHandlers={
        "add": _js("filterOn"), "remove": _js("filterOff")}), name=_name(name), checked=True)


def layer_url(layer_kind: str, **query: str) -> str:
    """The API URL of every stored layer of ``layer_kind``, filtered by feature kinds."""
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/api/layers/by-kind/{layer_kind}.geojson{suffix}"


def _data(name: str, layer_id: str, url: str, *, checked: bool, pane: str,
          **options: Any) -> dl.Overlay:
    layer = dl.GeoJSON(id=layer_id, url=url, pane=pane,
                       onEachFeature=_js("featureTooltip"), **options)
    return dl.Overlay(layer, name=_name(name), checked=checked)


def _points(name: str, layer_id: str, url: str, cluster: bool) -> dl.Overlay:
    clustering: dict[str, Any] = {"cluster": True, "superClusterOptions": CLUSTER_OPTIONS,
                                  "clusterToLayer": _js("clusterToLayer")} if cluster else {}
    return _data(name, layer_id, url, checked=False, pane=POINTS_PANE,
                 pointToLayer=_js("facilityToLayer"), **clustering)


def overlays(settings: Settings, lang: Lang, taxonomy: Taxonomy | None = None
             ) -> list[dl.Overlay]:
    """Every overlay of the switcher, in the order shown (agencies named by the taxonomy)."""
    names = taxonomy or load_taxonomy()
    units, incidents = LABELS("units", lang), LABELS("incidents", lang)
    items = [_switch("units", a, f"{units} · {names.agency_name(a, lang, short=True)}")
             for a in settings.agencies]
    items += [_switch("incidents", level.value,
                      f"{incidents} · {level.value}级 {level.label_zh}" if lang is Lang.ZH
                      else f"{incidents} · level {level.value} {level.label_en}")
              for level in Level]
    items.append(_data(LABELS("hotspots", lang), "map-hotspots",
                       f"/api/hotspots?{urlencode(HOTSPOT_QUERY)}", checked=False,
                       pane=AREAS_PANE, style=_js("hotspotStyle")))
    items += [_points(FacilityKind(kind).label(lang), f"map-facilities-{kind}",
                      layer_url("facilities", kind=kind), cluster=kind != "hazardous_site")
              for kind in FACILITY_KINDS]
    items.append(_points(LABELS("kind_other", lang), "map-facilities-other",
                         layer_url("facilities", exclude_kind=",".join(FACILITY_KINDS)),
                         cluster=True))
    items.append(_points(LABELS("cameras", lang), "map-cameras", layer_url("cameras"),
                         cluster=True))
    # Streams publishing now (field units, pulled cameras): from the video server's registry.
    streams = _points(LABELS("streams", lang), "map-streams", "/api/streams", cluster=False)
    items.append(dl.Overlay(streams.children, name=streams.name, checked=True))
    items.append(_points(LABELS("gauges", lang), "map-gauges", layer_url("gauges"),
                         cluster=False))
    items.append(_data(LABELS("sensitive_areas", lang), "map-sensitive",
                       layer_url("sensitive_areas"), checked=True, pane=AREAS_PANE,
                       style=_js("sensitiveStyle")))
    items.append(_data(LABELS("rivers", lang), "map-rivers", layer_url("rivers"),
                       checked=True, pane=LINES_PANE, style=_js("riverStyle")))
    items.append(_data(LABELS("roads", lang), "map-roads", layer_url("roads"), checked=True,
                       pane=LINES_PANE, style=_js("roadStyle")))
    items.append(_data(LABELS("population", lang), "map-population",
                       layer_url("population"), checked=False, pane=AREAS_PANE,
                       style=_js("populationStyle")))
    return items


def overlay_layers(settings: Settings, lang: Lang | str = Lang.ZH,
                   taxonomy: Taxonomy | None = None) -> list[Component]:
    """The panes and the layer switcher (tiles, then overlays) to put into a page's dl.Map."""
    language = lang if isinstance(lang, Lang) else Lang.of(lang)
    choices = tile_choices(settings.map, language, local_tiles_info(settings.map))
    panes: list[Component] = [dl.Pane(name=name, children=[])
                              for name in (AREAS_PANE, LINES_PANE, POINTS_PANE)]
    control = dl.LayersControl(
        [*_base_layers(choices, language), *overlays(settings, language, taxonomy)],
        id=LAYERS_CONTROL_ID, position="topright", collapsed=True, sortLayers=False)
    return [*panes, control]


# --- draw-to-query ----------------------------------------------------------------------------

_PANEL_KEYS: Final = tuple(k for k in _TEXTS if k.startswith(("inside_", "kind_")))


def panel_labels(lang: Lang, taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """The texts sitroom_draw.js writes into the panel, in ``lang``; `kind_<code>` are the
    facility kinds' names and `agency_<code>` the taxonomy's short agency names."""
    names = taxonomy or load_taxonomy()
    agencies = {f"agency_{code}": names.agency_name(code, lang, short=True)
                for code in names.agencies}
    kinds = {f"kind_{kind.value}": kind.label(lang) for kind in FacilityKind}
    return {**{k: LABELS(k, lang) for k in _PANEL_KEYS}, **kinds, **agencies}


def draw_control(lang: Lang | str = Lang.ZH, taxonomy: Taxonomy | None = None
                 ) -> list[Component]:
    """The drawing toolbar (polygon, rectangle, circle) and its result panel."""
    language = lang if isinstance(lang, Lang) else Lang.of(lang)
    shape = {"shapeOptions": {"color": "#ffd24d", "weight": 2, "fillOpacity": 0.08}}
    events = {"draw:created": _draw_js("created"), "draw:edited": _draw_js("edited"),
              "draw:deleted": _draw_js("deleted"), "draw:mounted": _draw_js("mounted")}
    toolbar = dl.EditControl(
        id=DRAW_ID, position="topleft", eventHandlers=events,
        draw={"polyline": False, "marker": False, "circlemarker": False,
              "polygon": {**shape, "allowIntersection": False, "showArea": False},
              "rectangle": {**shape, "showArea": False},
              "circle": {**shape, "showRadius": True, "metric": True}},
        edit={"edit": {}, "remove": {}})
    data: dict[str, Any] = {"data-lang": language.value,
                            "data-labels": json.dumps(panel_labels(language, taxonomy),
                                                      ensure_ascii=False)}
    panel = html.Div(id=INSIDE_ID, className="sitroom-inside", hidden=True, **data)
    return [dl.FeatureGroup([toolbar], id="map-draw-shapes"), panel]


def with_map_features(leaflet: dl.Map, settings: Settings, lang: Lang | str = Lang.ZH,
                      taxonomy: Taxonomy | None = None) -> dl.Map:
    """``leaflet`` with the layer switcher and the draw-to-query tool added to its children."""
    found = leaflet.children
    children = found if isinstance(found, list) else [] if found is None else [found]
    names = taxonomy or load_taxonomy()  # read once for both
    leaflet.children = [*children, *overlay_layers(settings, lang, names),
                        *draw_control(lang, names)]
    return leaflet
