"""The wall screen (大屏) at /wall: dark, full screen, readable from 5 m, nobody clicks it.

The live map (incidents by level, units by agency, pulsing rings on new and escalated
incidents), KPI tiles (open incidents per level, units available / engaged per agency, alarms
in the last hour, today's average response time), an event ticker, the clock and the weather.
It follows the most severe new incident for 30 s and then returns to the city, says in a
big banner when its data is stale, and in a smaller one which agencies' feeds are silent (the
LIVE badge says LIVE only while every feed arrives).

Everything live comes by push: sitroom_live.js (the stream, the map) and wall.js (the tiles,
the ticker, following, the banner) over /live/stream, plus /api/wall/summary for the figures
that live in PostgreSQL. This module only lays the page out; all labels are Chinese first,
English second.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Dash, Input, Output, dcc, html

from config.settings import Settings
from dashboard.geojson import AGENCY_COLOURS, OTHER_COLOUR
from dashboard.live_push import LiveIds, live_config
from dashboard.situation import city_bounds, live_map
from incidents.model import Level

PATH = "/wall"
TITLE_ZH = "邢台市应急指挥中心 · 综合态势大屏"
TITLE_EN = "Xingtai Emergency Command Centre · Situation Wall"

MAP_ID = "wall-map"
CONFIG_ID = "wall-live-config"
LIVE_ID = "wall-live"
CLOCK_ID = "wall-clock"
TICK_ID = "wall-tick"
TOTAL_ID = "wall-kpi-total"
UNITS_ONLINE_ID = "wall-kpi-units"
ALARMS_ID = "wall-kpi-alarms"
RESPONSE_ID = "wall-kpi-response"
RESPONSE_DETAIL_ID = "wall-kpi-response-detail"
AGENCY_TABLE_ID = "wall-agencies"
TICKER_ID = "wall-ticker"
WEATHER_ID = "wall-weather"
STALE_ID = "wall-stale"
STALE_TIME_ID = "wall-stale-time"
FEEDS_ID = "wall-feeds"
FOCUS_ID = "wall-focus"

NO_DATA = "无数据 no data"
"""What a figure says when there is nothing to show."""


def level_id(level: Level) -> str:
    """Id of the open-incident count tile of `level`, e.g. `wall-kpi-level-ii`."""
    return f"wall-kpi-level-{level.value.lower()}"


LIVE_IDS = LiveIds(map=MAP_ID, badge=LIVE_ID, units_kpi=UNITS_ONLINE_ID, total_kpi=TOTAL_ID,
                   level_kpis={level.value: level_id(level) for level in Level},
                   feeds=FEEDS_ID)
"""What sitroom_live.js keeps current on the wall."""


def register(app: Dash, settings: Settings) -> None:
    """Register the wall page at /wall and its clock."""
    dash.register_page(  # type: ignore[no-untyped-call]
        "wall", path=PATH, title=TITLE_ZH, layout=lambda **_query: layout(settings))
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroom", "clock"),
        Output(CLOCK_ID, "children"), Input(TICK_ID, "n_intervals"),
    )


def _bilingual(zh: str, en: str, css: str) -> html.Div:
    return html.Div(className=css, children=[
        html.Span(zh, className="wall-zh"), html.Span(en, className="wall-en")])


def _header() -> html.Header:
    return html.Header(className="wall-header", children=[
        html.Div(className="wall-titles", children=[
            html.H1(TITLE_ZH, className="wall-title"),
            html.Div(TITLE_EN, className="wall-subtitle"),
        ]),
        html.Div(className="wall-status", children=[
            html.Div(id=WEATHER_ID, className="wall-weather", children=[
                html.Span("天气 Weather", className="wall-weather-label"),
                html.Span(NO_DATA, className="wall-weather-main"),
                html.Span("", className="wall-weather-detail"),
            ]),
            html.Span("● 连接中 CONNECTING", id=LIVE_ID, className="shell-live live-wait"),
            html.Div("", id=CLOCK_ID, className="wall-clock"),
        ]),
    ])


def _level_tile(level: Level) -> html.Div:
    return html.Div(className=f"wall-level wall-level-{level.value.lower()}",
                    style={"--level-colour": level.colour}, children=[
                        html.Div("–", id=level_id(level), className="wall-level-value"),
                        html.Div(f"{level.value}级 {level.label_zh}", className="wall-zh"),
                        html.Div(level.label_en, className="wall-en"),
                    ])


def _figure(value_id: str, zh: str, en: str, detail_id: str | None = None) -> html.Div:
    children = [_bilingual(zh, en, "wall-figure-label"),
                html.Div("–", id=value_id, className="wall-figure-value")]
    if detail_id is not None:
        children.append(html.Div("", id=detail_id, className="wall-figure-detail"))
    return html.Div(className="wall-figure", children=children)


def _panel(zh: str, en: str, children: list[Any], css: str = "") -> html.Section:
    return html.Section(className=f"wall-panel {css}".strip(), children=[
        html.H2(className="wall-panel-title", children=[
            html.Span(zh, className="wall-zh"), html.Span(en, className="wall-en")]),
        *children,
    ])


def _left() -> html.Aside:
    incidents = _panel("在办事件", "Open incidents", [
        html.Div(className="wall-levels", children=[_level_tile(level) for level in Level]),
        html.Div(className="wall-total", children=[
            _bilingual("合计", "Total", "wall-total-label"),
            html.Div("–", id=TOTAL_ID, className="wall-total-value"),
        ]),
    ])
    figures = _panel("值守指标", "Key figures", [html.Div(className="wall-figures", children=[
        _figure(ALARMS_ID, "近1小时报警", "Alarms, last hour"),
        _figure(RESPONSE_ID, "今日平均响应", "Avg response today", RESPONSE_DETAIL_ID),
    ])])
    units = _panel("应急力量", "Units", [
        html.Div(className="wall-online", children=[
            _bilingual("在线", "Online", "wall-online-label"),
            html.Div("–", id=UNITS_ONLINE_ID, className="wall-online-value"),
        ]),
        html.Table(className="wall-agencies", children=[
            html.Thead(html.Tr([
                html.Th(_bilingual("部门", "Agency", "wall-th")),
                html.Th(_bilingual("可调", "Available", "wall-th")),
                html.Th(_bilingual("出动", "Engaged", "wall-th")),
            ])),
            html.Tbody(id=AGENCY_TABLE_ID, children=[
                html.Tr(html.Td(NO_DATA, colSpan=3, className="wall-none"))]),
        ]),
    ], "wall-units")
    return html.Aside(className="wall-side wall-left", children=[incidents, figures, units])


def _right() -> html.Aside:
    return html.Aside(className="wall-side wall-right", children=[
        _panel("事件动态", "Event feed", [
            html.Ol(id=TICKER_ID, className="wall-ticker", children=[
                html.Li("等待事件… Waiting for events…", className="wall-ticker-empty")]),
        ], "wall-feed"),
    ])


_LEGEND = [("公安", "Police", AGENCY_COLOURS["police"]), ("消防", "Fire", AGENCY_COLOURS["fire"]),
           ("卫健", "Health", AGENCY_COLOURS["health"]), ("其他", "Other", OTHER_COLOUR)]


def _legend() -> html.Div:
    units = [html.Span(className="wall-legend-item", children=[
        html.Span(className="legend-dot", style={"background": colour}), f"{zh} {en}"])
        for zh, en, colour in _LEGEND]
    levels = [html.Span(className="wall-legend-item", children=[
        html.Span(className="legend-ring", style={"background": level.colour}),
        f"{level.value}级 {level.label_zh}"]) for level in Level]
    return html.Div(className="wall-legend", children=[*units, *levels])


def _stale_banner() -> html.Div:
    return html.Div(id=STALE_ID, className="wall-stale", hidden=True, children=[
        html.Span("数据中断 DATA STALE", className="wall-stale-title"),
        html.Span(" — 最后更新 last update ", className="wall-stale-sub"),
        html.Span("--:--:--", id=STALE_TIME_ID, className="wall-stale-time"),
    ])


def layout(settings: Settings) -> html.Div:
    """The whole wall: header, three columns (figures, map, ticker), the stale banner."""
    return html.Div(className="wall-app", children=[
        _header(),
        html.Div(className="wall-body", children=[
            _left(),
            html.Main(className="wall-map-wrap", children=[
                live_map(MAP_ID, "wall-map"), _legend(), _stale_banner(),
                # Filled by sitroom_live.js from the heartbeat: the silent agencies by name.
                html.Div("", id=FEEDS_ID, className="wall-feeds", hidden=True)]),
            _right(),
        ]),
        dcc.Interval(id=TICK_ID, interval=1000),
        live_config(CONFIG_ID, settings, "wall", LIVE_IDS, city_bounds()),
    ])
