"""Replay (态势回放) at /replay: a time slider over the last 24 hours; the map and the incident
list show the picture as it was at that moment, read from PostgreSQL (incidents.store.replay).

The slider counts minutes before the moment the page was opened (its anchor); `?at=<ISO time>`
opens the page at a given moment. Play advances the picture five minutes a second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash_extensions.javascript import Namespace

from config.settings import Settings
from dashboard import situation
from dashboard.command_wiring import shared_commands
from dashboard.desk import permissions, shell_header
from dashboard.desk_data import DeskData, Districts
from dashboard.desk_list import incident_rows, render_incident_rows
from dashboard.desk_text import LABELS, level_short
from dashboard.geojson import incidents_collection, units_collection
from dashboard.i18n import Lang
from dashboard.page_lang import page_title
from dashboard.portal import AsyncBridge
from incidents.history import IncidentAt
from incidents.model import LOCAL_TZ, IncidentStatus, Level
from incidents.store import StoreUnavailable
from incidents.taxonomy import Taxonomy, load_taxonomy

PATH = "/replay"
TITLE_ZH = "邢台市应急指挥中心 · 态势回放"
TITLE_EN = "Xingtai Emergency Command Centre · Replay"
SPAN_MIN = 24 * 60
"""The slider reaches this many minutes back."""
PLAY_STEP_MIN = 5
"""Minutes the picture advances per second while playing."""
WINDOW = timedelta(hours=24)
"""Closed incidents are listed when reported within this long before the moment shown."""
STEPS = {"replay-back-60": -60, "replay-back-10": -10, "replay-fwd-10": 10, "replay-fwd-60": 60}

REPLAY = LABELS.extend({
    "replay_at": ("回放时刻", "Picture at"),
    "replay_now": ("现在", "Now"),
    "replay_play": ("播放", "Play"),
    "replay_pause": ("暂停", "Pause"),
    "replay_badge": ("● 回放", "● REPLAY"),
    "replay_units": ("在线单位", "Units online"),
    "replay_open": ("在办事件", "Open incidents"),
    "replay_list": ("当时事件", "Incidents then"),
    "replay_minutes": ("分钟前", "minutes ago"),
})
"""The replay page's labels."""

_js = Namespace("sitroomDesk", "replay")
_EMPTY: dict[str, Any] = {"type": "FeatureCollection", "features": []}


def slider_value(anchor: datetime, at: datetime | None) -> int:
    """The slider position (minutes before `anchor`, ≤ 0) of a moment, clamped to the span."""
    if at is None:
        return 0
    minutes = round((at - anchor).total_seconds() / 60)
    return max(-SPAN_MIN, min(0, minutes))


def moment(anchor: datetime, value: int | None) -> datetime:
    """The moment a slider position stands for."""
    return anchor + timedelta(minutes=value or 0)


def parse_at(raw: str | None) -> datetime | None:
    """`?at=` as a time (Beijing time when it has no offset), or None when absent or unreadable."""
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of the picture at a moment."""

    units_online: int
    """Units with a fix within the online window before the moment."""
    open_by_level: dict[Level, int]
    """Incidents open at the moment, per level."""


def summarize(units: int, incidents: list[IncidentAt]) -> Summary:
    """Count what was open at the moment, per level."""
    counts = Counter(i.incident.level for i in incidents
                     if i.incident.status is not IncidentStatus.CLOSED)
    return Summary(units_online=units, open_by_level={lv: counts[lv] for lv in Level})


def register(app: Dash, settings: Settings, bridge: AsyncBridge) -> None:
    """Register the replay page at /replay with its callbacks."""
    taxonomy = load_taxonomy()
    data = DeskData(bridge, shared_commands(app.server, settings), settings, Districts())

    def page(lang: str | None = None, at: str | None = None, **_query: Any) -> html.Div:
        return layout(Lang.of(lang), datetime.now(UTC), parse_at(at))

    dash.register_page("replay", path=PATH,  # type: ignore[no-untyped-call]
                       title=page_title(TITLE_ZH, TITLE_EN),
                       layout=page)
    register_callbacks(app, data, taxonomy)


def _marks(anchor: datetime) -> dict[int, str]:
    return {-m: (anchor - timedelta(minutes=m)).astimezone(LOCAL_TZ).strftime("%H:%M")
            for m in range(0, SPAN_MIN + 1, 180)}


def layout(lang: Lang, anchor: datetime, at: datetime | None) -> html.Div:
    """The replay page."""
    status = html.Div(className="shell-status", children=[
        html.Span(REPLAY("replay_badge", lang), className="shell-live live-wait")])
    steps = [html.Button(label, id=key, type="button", n_clicks=0, className="desk-btn")
             for key, label in zip(STEPS, ("−1h", "−10′", "+10′", "+1h"), strict=True)]
    return html.Div(className=f"sitroom-app desk desk-lang-{lang.value}", children=[
        shell_header(lang, "nav_replay", status, permissions(lang).role_text),
        html.Section(className="replay-bar", children=[
            html.Div(className="replay-bar-top", children=[
                html.Span(REPLAY("replay_at", lang), className="desk-sub"),
                html.Span("", id="replay-at", className="replay-at"),
                html.Span("", id="replay-summary", className="desk-sub"),
                html.Div(className="desk-action-row", style={"marginLeft": "auto"}, children=[
                    *steps,
                    html.Button(REPLAY("replay_play", lang), id="replay-play", type="button",
                                n_clicks=0, className="desk-btn desk-btn-primary"),
                    html.Button(REPLAY("replay_now", lang), id="replay-now", type="button",
                                n_clicks=0, className="desk-btn"),
                ]),
            ]),
            dcc.Slider(id="replay-slider", min=-SPAN_MIN, max=0, step=1,
                       value=slider_value(anchor, at), marks=_marks(anchor), included=True,
                       updatemode="mouseup", allow_direct_input=False),
        ]),
        html.Div(className="replay-body", children=[
            html.Main(className="desk-map", children=html.Div(className="map-wrap",
                                                              children=replay_map(lang))),
            html.Aside(className="desk-left", children=[
                html.Div(REPLAY("replay_list", lang), className="desk-tabs replay-title"),
                html.Div(id="replay-list", className="desk-list"),
            ]),
        ]),
        dcc.Store(id="replay-anchor", data=anchor.isoformat()),
        # `?at=` to the second, for the first picture (the slider counts whole minutes).
        dcc.Store(id="replay-exact", data=at.isoformat() if at else None),
        dcc.Store(id="replay-lang", data=lang.value),
        dcc.Interval(id="replay-tick", interval=1000, disabled=True),
    ])


def replay_map(lang: Lang) -> dl.Map:
    """The situation page's map of the city, with the replay's own unit and incident layers
    (nothing live draws on it)."""
    leaflet = situation.live_map("replay-map", "map-view", lang)
    leaflet.children = [*leaflet.children,
                        dl.GeoJSON(id="replay-incidents", data=_EMPTY,
                                   pointToLayer=_js("incidentToLayer"),
                                   onEachFeature=_js("incidentTooltip")),
                        dl.GeoJSON(id="replay-units", data=_EMPTY, pointToLayer=_js("unitToLayer"),
                                   onEachFeature=_js("unitTooltip"))]
    return leaflet


def register_callbacks(app: Dash, data: DeskData, taxonomy: Taxonomy) -> None:
    """Wire the slider, the step buttons, play, and the picture."""

    @app.callback(Output("replay-slider", "value"), Output("replay-tick", "disabled"),
                  Output("replay-play", "className"),
                  *[Input(key, "n_clicks") for key in STEPS], Input("replay-now", "n_clicks"),
                  Input("replay-play", "n_clicks"), Input("replay-tick", "n_intervals"),
                  State("replay-slider", "value"), State("replay-tick", "disabled"),
                  prevent_initial_call=True)
    def move(*args: Any) -> tuple[Any, Any, Any]:
        value, paused = int(args[-2] or 0), bool(args[-1])
        trigger = ctx.triggered_id
        playing_css = "desk-btn desk-btn-strong"
        if trigger in STEPS:
            return max(-SPAN_MIN, min(0, value + STEPS[str(trigger)])), no_update, no_update
        if trigger == "replay-now":
            return 0, True, "desk-btn desk-btn-primary"
        if trigger == "replay-play":
            start = -SPAN_MIN if paused and value >= 0 else value
            return start, not paused, "desk-btn desk-btn-primary" if not paused else playing_css
        ahead = min(0, value + PLAY_STEP_MIN)  # a tick while playing
        return ahead, ahead >= 0, no_update if ahead < 0 else "desk-btn desk-btn-primary"

    @app.callback(Output("replay-at", "children"), Output("replay-summary", "children"),
                  Output("replay-units", "data"), Output("replay-incidents", "data"),
                  Output("replay-list", "children"), Input("replay-slider", "value"),
                  State("replay-anchor", "data"), State("replay-exact", "data"),
                  State("replay-lang", "data"))
    def picture(value: int | None, anchor_iso: str, exact: str | None,
                lang_value: str) -> tuple[Any, ...]:
        lang = Lang.of(lang_value)
        anchor = datetime.fromisoformat(anchor_iso)
        first = ctx.triggered_id is None  # the page's first picture, not a move
        at = moment(anchor, value)
        if first and exact:
            at = max(anchor - timedelta(minutes=SPAN_MIN), min(anchor,
                                                               datetime.fromisoformat(exact)))
        shown = at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
        try:
            units, found = data.picture(at, WINDOW)
        except StoreUnavailable:
            return shown, LABELS("unavailable", lang), no_update, no_update, no_update
        summary = summarize(len(units), found)
        counts = " · ".join(f"{level_short(lv, lang)} {n}" for lv, n in
                            summary.open_by_level.items())
        text = (f"{REPLAY('replay_units', lang)} {summary.units_online} · "
                f"{REPLAY('replay_open', lang)} {sum(summary.open_by_level.values())}"
                f" ({counts})")
        incidents = [i.incident for i in found]
        codes = data.districts.codes(incidents)
        rows = incident_rows(incidents, codes, data.districts.names(lang is Lang.ZH), taxonomy,
                             lang, at)
        open_now = [i for i in incidents if i.status is not IncidentStatus.CLOSED]
        return (shown, text, units_collection(units, at, data.online_s),
                incidents_collection(open_now), render_incident_rows(rows, None, lang,
                                                                     clickable=False))
