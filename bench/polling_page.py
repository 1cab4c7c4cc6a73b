"""The baseline of the dashboard benchmark: the situation page as it was before live push.

A Dash callback every 400 ms asks the server for the live state's version and, when it
changed, the whole state as GeoJSON, which dash-leaflet redraws (one SVG element per unit).
Kept here, beside the benchmark that compares against it, at /bench/poll; ids are prefixed
`bp-` so it can live in the same app as the real pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dash
import dash_leaflet as dl
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash_extensions.javascript import Namespace

from config.settings import Settings
from dashboard.geojson import (
    incidents_collection,
    is_online,
    next_offline_at,
    units_collection,
)
from dashboard.portal import AsyncBridge
from dashboard.situation import basemap_layers, city_bounds
from incidents.live import LiveState, LiveUnavailable
from incidents.model import Incident, Level, UnitState
from maps import basemap

PATH = "/bench/poll"
POLL_MS = 400
"""The old page's poll interval (the default of the since removed `live_poll_ms` setting)."""

_js = Namespace("sitroom", "map")
_EMPTY: dict[str, Any] = {"type": "FeatureCollection", "features": []}


@dataclass(frozen=True, slots=True)
class PollState:
    """What the browser remembers between polls."""

    version: int | None
    """Live-state version last drawn."""
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


class Reader:
    """The live state through the bridge, as the old page read it."""

    def __init__(self, bridge: AsyncBridge) -> None:
        self._bridge = bridge

    def version(self) -> int:
        """The live state's change counter."""
        return self._bridge.call(self._bridge.live.version)

    def snapshot(self) -> tuple[list[UnitState], list[Incident]]:
        """Every unit and every open incident."""
        return self._bridge.call(_snapshot, self._bridge.live)


async def _snapshot(live: LiveState) -> tuple[list[UnitState], list[Incident]]:
    units, incidents = await asyncio.gather(live.units(), live.incidents())
    return units, incidents


def poll(data: Mapping[str, Any] | None, reader: Reader, now: datetime,
         online_s: int) -> tuple[Any, ...]:
    """One tick: the version, and everything when it changed (the old `poll`)."""
    state = PollState.from_data(data)
    skip = (no_update,) * (4 + len(Level))
    try:
        version = reader.version()
        if (state is not None and state.ok and state.version == version
                and (state.redraw_at is None or now.timestamp() < state.redraw_at)):
            return skip
        units, incidents = reader.snapshot()
    except LiveUnavailable:
        return ({"version": None, "redraw_at": None, "ok": False}, *skip[1:])
    expiry = next_offline_at(units, now, online_s)
    return ({"version": version, "redraw_at": expiry.timestamp() if expiry else None,
             "ok": True},
            units_collection(units, now, online_s), incidents_collection(incidents),
            *_kpi_texts(units, incidents, now, online_s))


def _kpi_texts(units: list[UnitState], incidents: list[Incident], now: datetime,
               online_s: int) -> tuple[str, ...]:
    """The KPI strip as the old page counted it: online / total units, then open per level."""
    by_level = dict.fromkeys(Level, 0)
    for incident in incidents:
        by_level[incident.level] += 1
    online = sum(1 for unit in units if is_online(unit, now, online_s))
    return (f"{online} / {len(units)}", *[str(by_level[level]) for level in Level])


def register(app: Dash, settings: Settings, bridge: AsyncBridge) -> None:
    """Register the baseline page at /bench/poll with its poll callback."""
    reader = Reader(bridge)
    dash.register_page(  # type: ignore[no-untyped-call]
        "bench-poll", path=PATH, title="baseline: polling", layout=lambda **_q: layout())

    def on_poll(_n: int | None, data: dict[str, Any] | None) -> tuple[Any, ...]:
        return poll(data, reader, datetime.now(UTC), settings.unit_online_s)

    app.callback(
        Output("bp-state", "data"), Output("bp-units", "data"), Output("bp-incidents", "data"),
        Output("bp-kpi-units", "children"),
        *[Output(f"bp-kpi-{level.value.lower()}", "children") for level in Level],
        Input("bp-poll", "n_intervals"), State("bp-state", "data"),
    )(on_poll)


def layout() -> html.Div:
    """KPI tiles and the map, as the old situation page had them."""
    tiles = [html.Div(className="kpi-tile", children=[
        html.Div("在线单位 Units online", className="kpi-label"),
        html.Div("–", id="bp-kpi-units", className="kpi-value")])]
    tiles += [html.Div(className="kpi-tile", style={"--kpi-colour": level.colour}, children=[
        html.Div(f"{level.value}级 {level.label_zh}", className="kpi-label"),
        html.Div("–", id=f"bp-kpi-{level.value.lower()}", className="kpi-value")])
        for level in Level]
    leaflet = dl.Map(
        id="bp-map", center=list(basemap.center()), bounds=city_bounds(),
        boundsOptions={"padding": [24, 24]}, minZoom=7, maxZoom=16, zoomSnap=0.25,
        trackViewport=False, attributionControl=False, className="map-view",
        style={"height": "100%", "width": "100%"},
        children=[*basemap_layers(),
                  dl.GeoJSON(id="bp-incidents", data=_EMPTY, pointToLayer=_js("incidentToLayer"),
                             onEachFeature=_js("incidentTooltip")),
                  dl.GeoJSON(id="bp-units", data=_EMPTY, pointToLayer=_js("unitToLayer"),
                             onEachFeature=_js("unitTooltip"))])
    return html.Div(className="sitroom-app", children=[
        html.Section(tiles, className="kpi-strip"),
        html.Main(className="map-wrap", children=[leaflet]),
        dcc.Interval(id="bp-poll", interval=POLL_MS),
        dcc.Store(id="bp-state", storage_type="memory"),
    ])
