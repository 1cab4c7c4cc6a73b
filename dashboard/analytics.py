"""Analytics (统计分析) at /analytics: incidents over time by type, response times (reported →
verified, reported → first unit on scene) and incidents by district and level, over a date
range. Charts are plotly figures as plain dicts (plotly.js is served by Dash itself);
`figures` is pure and tested without Dash or a database.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dash
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from config.settings import Settings
from dashboard.command_wiring import shared_commands
from dashboard.desk import permissions, shell_header
from dashboard.desk_data import DeskData, Districts
from dashboard.desk_text import LABELS, level_name, type_name
from dashboard.i18n import Lang
from dashboard.page_lang import page_title
from dashboard.portal import AsyncBridge
from incidents.model import LOCAL_TZ, Level
from incidents.store import StoreUnavailable
from incidents.taxonomy import Taxonomy, load_taxonomy

PATH = "/analytics"
TITLE_ZH = "邢台市应急指挥中心 · 统计分析"
TITLE_EN = "Xingtai Emergency Command Centre · Analytics"
MAX_DAYS = 366
"""The longest range one query covers."""
QUICK = {"analytics-today": 1, "analytics-7d": 7, "analytics-30d": 30}

ANALYTICS = LABELS.extend({
    "an_from": ("起始日期", "From"),
    "an_to": ("截止日期", "To"),
    "an_today": ("今日", "Today"),
    "an_7d": ("近7天", "7 days"),
    "an_30d": ("近30天", "30 days"),
    "an_total": ("事件总数", "Incidents"),
    "an_open": ("尚未终报", "Still open"),
    "an_verify": ("核实用时中位数", "Median time to verify"),
    "an_scene": ("到场用时中位数", "Median time to scene"),
    "an_minutes": ("分钟", "min"),
    "an_over_time": ("每日事件数（按类型）", "Incidents per day, by type"),
    "an_response": ("响应用时（分钟，按等级）", "Response times (minutes, by level)"),
    "an_to_verify": ("接报→核实", "Reported → verified"),
    "an_to_scene": ("接报→到场", "Reported → on scene"),
    "an_by_district": ("各区县事件数", "Incidents by district"),
    "an_by_level": ("事件等级构成", "Incidents by level"),
    "an_bad_range": ("日期范围无效（最长一年）", "Invalid date range (a year at most)"),
})
"""The analytics page's labels."""

_TEXT = "#c2cfdd"
_GRID = "#1f2d3d"
_PALETTE = ["#3d8bfd", "#ff4d4f", "#2ecc71", "#f5c400", "#f07c00", "#b37feb", "#36cfc9",
            "#ff85c0", "#9aa4b2", "#7fb2e5"]


@dataclass(frozen=True, slots=True)
class Figures:
    """The page's charts and headline figures."""

    total: int
    """Incidents reported in the range."""
    still_open: int
    """Of them, not closed."""
    median_verify_min: float | None
    """Median minutes from reported to verified (None when none was verified)."""
    median_scene_min: float | None
    """Median minutes from reported to the first unit on scene."""
    over_time: dict[str, Any]
    """Stacked bars: incidents per day by type."""
    response: dict[str, Any]
    """Box plots: minutes to verify and to the scene, by level."""
    by_district: dict[str, Any]
    """Horizontal bars: incidents per district."""
    by_level: dict[str, Any]
    """Donut: incidents per level."""


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "font": {"size": 15, "color": _TEXT}, "x": 0.01},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": _TEXT, "family": "Noto Sans CJK SC, sans-serif"},
            "margin": {"l": 50, "r": 20, "t": 44, "b": 40}, "colorway": _PALETTE,
            "legend": {"orientation": "h", "y": -0.15},
            "xaxis": {"gridcolor": _GRID, "zerolinecolor": _GRID},
            "yaxis": {"gridcolor": _GRID, "zerolinecolor": _GRID}, **extra}


def days_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def figures(rows: Sequence[Mapping[str, Any]], start: date, end: date, taxonomy: Taxonomy,
            districts: Mapping[str, str | None], district_names: Mapping[str, str],
            lang: Lang) -> Figures:
    """The charts of the incidents in `rows` (CommandStore.daily_rows) over [start, end];
    `districts` maps each incident id to its district code."""
    days = days_between(start, end)
    per_type: dict[str, Counter[date]] = defaultdict(Counter)
    for r in rows:
        per_type[r["type"]][r["reported_at"].astimezone(LOCAL_TZ).date()] += 1
    labels = [d.strftime("%m-%d") for d in days]
    over_time = {"data": [{"type": "bar", "name": type_name(taxonomy, code, lang), "x": labels,
                           "y": [per_type[code][d] for d in days]}
                          for code in sorted(per_type, key=lambda c: -sum(per_type[c].values()))],
                 "layout": _layout(ANALYTICS("an_over_time", lang), barmode="stack",
                                   xaxis={"type": "category", "gridcolor": _GRID})}

    verify = [(Level(r["level"]), _minutes(r["reported_at"], r["verified_at"])) for r in rows]
    scene = [(Level(r["level"]), _minutes(r["reported_at"], r["first_on_scene_at"]))
             for r in rows]
    response = {"data": [
        {"type": "box", "name": ANALYTICS(key, lang), "boxmean": True,
         "x": [level_name(lv, lang) for lv, m in pairs if m is not None],
         "y": [round(m, 1) for _, m in pairs if m is not None]}
        for key, pairs in (("an_to_verify", verify), ("an_to_scene", scene))],
        "layout": _layout(ANALYTICS("an_response", lang), boxmode="group",
                          yaxis={"rangemode": "tozero", "gridcolor": _GRID})}

    outside = LABELS("outside", lang)
    by_code = Counter(districts.get(r["id"]) for r in rows)
    ranked = sorted(by_code.items(), key=lambda kv: kv[1])
    by_district = {"data": [{"type": "bar", "orientation": "h", "marker": {"color": "#3d8bfd"},
                             "x": [n for _, n in ranked],
                             "y": [district_names.get(code or "", outside) for code, _ in ranked]}],
                   "layout": _layout(ANALYTICS("an_by_district", lang),
                                     margin={"l": 110, "r": 20, "t": 44, "b": 30})}

    levels = Counter(Level(r["level"]) for r in rows)
    by_level = {"data": [{"type": "pie", "hole": 0.55, "sort": False,
                          "labels": [level_name(lv, lang) for lv in Level],
                          "values": [levels[lv] for lv in Level],
                          "marker": {"colors": [lv.colour for lv in Level]}}],
                "layout": _layout(ANALYTICS("an_by_level", lang))}

    def median(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.median(present), 1) if present else None

    return Figures(total=len(rows), still_open=sum(r["status"] != "closed" for r in rows),
                   median_verify_min=median([m for _, m in verify]),
                   median_scene_min=median([m for _, m in scene]), over_time=over_time,
                   response=response, by_district=by_district, by_level=by_level)


def register(app: Dash, settings: Settings, bridge: AsyncBridge) -> None:
    """Register the analytics page at /analytics with its callback."""
    taxonomy = load_taxonomy()
    data = DeskData(bridge, shared_commands(app.server, settings), settings, Districts())

    def page(lang: str | None = None, **_query: Any) -> html.Div:
        return layout(Lang.of(lang), datetime.now(LOCAL_TZ).date())

    dash.register_page("analytics", path=PATH,  # type: ignore[no-untyped-call]
                       title=page_title(TITLE_ZH, TITLE_EN),
                       layout=page)
    register_callbacks(app, data, taxonomy)


def _card(key: str, value_id: str, lang: Lang) -> html.Div:
    return html.Div(className="desk-card", children=[
        html.Div(ANALYTICS(key, lang), className="desk-sub"),
        html.Div("–", id=value_id, className="desk-figure")])


def _graph(graph_id: str, wide: bool = False) -> html.Div:
    # No mode bar: its "send to cloud" and logo links point off the private network.
    return html.Div(className="desk-chart" + (" desk-chart-wide" if wide else ""), children=[
        dcc.Graph(id=graph_id, config={"displayModeBar": False, "responsive": True},
                  style={"height": "100%"})])


def layout(lang: Lang, today: date) -> html.Div:
    """The analytics page: a date range, headline figures and four charts."""
    status = html.Div(className="shell-status")
    quick = [html.Button(ANALYTICS(f"an_{key.split('-')[1]}", lang), id=key, type="button",
                         n_clicks=0, className="desk-btn") for key in QUICK]
    return html.Div(className=f"sitroom-app desk desk-lang-{lang.value}", children=[
        shell_header(lang, "nav_analytics", status, permissions(lang).role_text),
        html.Div(className="desk-page-body", children=[
            html.Div(className="desk-toolbar", children=[
                html.Span(f"{ANALYTICS('an_from', lang)} – {ANALYTICS('an_to', lang)}",
                          className="desk-sub"),
                dcc.DatePickerRange(id="analytics-range", display_format="YYYY-MM-DD",
                                    start_date=(today - timedelta(days=6)).isoformat(),
                                    end_date=today.isoformat(), max_date_allowed=today.isoformat(),
                                    first_day_of_week=1, minimum_nights=0,
                                    start_date_placeholder_text=ANALYTICS("an_from", lang),
                                    end_date_placeholder_text=ANALYTICS("an_to", lang)),
                *quick,
                html.Span("", id="analytics-msg", className="desk-msg desk-msg-err"),
            ]),
            html.Div(className="desk-cards", children=[
                _card("an_total", "analytics-total", lang),
                _card("an_open", "analytics-open", lang),
                _card("an_verify", "analytics-verify", lang),
                _card("an_scene", "analytics-scene", lang),
            ]),
            html.Div(className="desk-charts", children=[
                _graph("analytics-over-time", wide=True), _graph("analytics-response"),
                _graph("analytics-district"), _graph("analytics-level"),
            ]),
        ]),
        dcc.Store(id="analytics-lang", data=lang.value),
    ])


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw[:10]) if raw else None
    except ValueError:
        return None


def register_callbacks(app: Dash, data: DeskData, taxonomy: Taxonomy) -> None:
    """Wire the quick ranges and the charts."""

    @app.callback(Output("analytics-range", "start_date"),
                  Output("analytics-range", "end_date"),
                  *[Input(key, "n_clicks") for key in QUICK], prevent_initial_call=True)
    def quick_range(*_clicks: Any) -> tuple[Any, Any]:
        days = QUICK.get(str(ctx.triggered_id))
        if days is None:
            return no_update, no_update
        today = datetime.now(LOCAL_TZ).date()
        return (today - timedelta(days=days - 1)).isoformat(), today.isoformat()

    @app.callback(Output("analytics-total", "children"), Output("analytics-open", "children"),
                  Output("analytics-verify", "children"), Output("analytics-scene", "children"),
                  Output("analytics-over-time", "figure"), Output("analytics-response", "figure"),
                  Output("analytics-district", "figure"), Output("analytics-level", "figure"),
                  Output("analytics-msg", "children"), Input("analytics-range", "start_date"),
                  Input("analytics-range", "end_date"), State("analytics-lang", "data"))
    def charts(start_raw: str | None, end_raw: str | None,
               lang_value: str) -> tuple[Any, ...]:
        lang = Lang.of(lang_value)
        start, end = _day(start_raw), _day(end_raw)
        keep = (no_update,) * 8
        if start is None or end is None or not 0 <= (end - start).days < MAX_DAYS:
            return (*keep, ANALYTICS("an_bad_range", lang))
        begin = datetime.combine(start, time(), tzinfo=LOCAL_TZ).astimezone(UTC)
        finish = datetime.combine(end + timedelta(days=1), time(), tzinfo=LOCAL_TZ)
        try:
            rows = data.response_rows(begin, finish.astimezone(UTC))
        except StoreUnavailable:
            return (*keep, LABELS("unavailable", lang))
        codes = data.districts.codes_of([(r["id"], r["lat"], r["lon"]) for r in rows])
        found = figures(rows, start, end, taxonomy, codes,
                        data.districts.names(lang is Lang.ZH), lang)
        unit = ANALYTICS("an_minutes", lang)

        def shown(value: float | None) -> str:
            return "–" if value is None else f"{value:g} {unit}"

        return (str(found.total), str(found.still_open), shown(found.median_verify_min),
                shown(found.median_scene_min), found.over_time, found.response,
                found.by_district, found.by_level, "")
