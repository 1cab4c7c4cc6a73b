"""The leader's desk at / (指挥席): the live map of the situation page, the incident list with
its filters, units and alarms, and the panel of the selected incident with its actions.

The map, KPI strip, live badge and their timers are the situation page's own components, built
by `situation.layout` and re-arranged here, so the situation page's live update drives them
on this page too. Callbacks are in desk_callbacks.py, reads and commands in desk_data.py;
the pure pieces in desk_list, desk_panel, desk_support and desk_dispatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dash
import dash_leaflet as dl
from dash import Dash, dcc, html

from config.settings import Settings
from config.video import VideoSettings
from dashboard import desk_bulk, desk_callbacks, desk_units, situation
from dashboard.auth import Action, NotAuthenticated, current_user
from dashboard.command_wiring import shared_commands
from dashboard.desk_data import DeskData, Districts
from dashboard.desk_keys import KEY_LABELS, KEY_OF, overlay, status_line, titled
from dashboard.desk_list import ALL, OPEN, SortKey, agency_options
from dashboard.desk_panel import Permissions
from dashboard.desk_text import (
    LABELS,
    TIME_WINDOWS,
    data_attrs,
    level_short,
    status_name,
    type_name,
)
from dashboard.i18n import Lang, dropdown_labels
from dashboard.page_lang import page_title
from dashboard.portal import AsyncBridge
from incidents.model import IncidentStatus, Level
from incidents.taxonomy import Taxonomy, load_taxonomy

PATH = "/"
TITLE_ZH = "邢台市应急指挥中心 · 指挥席"
TITLE_EN = "Xingtai Emergency Command Centre · Desk"
REFRESH_MS = 3000
"""How often the lists and the open panel re-read PostgreSQL."""
SLOW_REFRESH_MS = 30_000
"""How often decision support is recomputed while an incident stays selected."""
FOCUS_ID = "desk-focus"
"""A layer of the shared map that rings the selected incident."""


def video_settings(settings: Settings) -> VideoSettings | None:
    """The video server's settings when it is configured (its token secret is set): links to
    its pages carry tokens signed with that secret."""
    return settings.video if settings.video.token_secret is not None else None


def register(app: Dash, settings: Settings, bridge: AsyncBridge) -> None:
    """Register the desk at / with its callbacks (the command service is the API's)."""
    taxonomy = load_taxonomy()
    data = DeskData(bridge, shared_commands(app.server, settings), settings, Districts())
    video = video_settings(settings)

    def page(lang: str | None = None, **_query: Any) -> html.Div:
        return layout(settings, taxonomy, data.districts, Lang.of(lang), video is not None)

    dash.register_page("desk", path=PATH,  # type: ignore[no-untyped-call]
                       title=page_title(TITLE_ZH, TITLE_EN), layout=page)
    desk_callbacks.register(app, data, taxonomy, video, situation.MAP_ID)
    desk_units.register(app, data)
    desk_bulk.register(app, data, taxonomy)


# --- the situation page's live parts --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveParts:
    """The situation page's components, taken apart to be laid out again."""

    status: Any
    """Live badge and clock."""
    kpis: Any
    """KPI strip."""
    map_wrap: Any
    """The map with its legend."""
    machinery: list[Any]
    """Timers and stores that keep them live."""


def walk(component: Any) -> Iterator[Any]:
    """The component and everything under it, depth first."""
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            yield from walk(child)
    elif children is not None and not isinstance(children, str | int | float):
        yield from walk(children)


def live_parts(settings: Settings, lang: Lang = Lang.ZH) -> LiveParts:
    """The situation page's layout in `lang`, taken apart (fresh components on every call)."""
    status = kpis = map_wrap = None
    machinery: list[Any] = []
    for child in situation.layout(settings, lang).children:
        if isinstance(child, html.Header):
            status = next((c for c in walk(child)
                           if "shell-status" in str(getattr(c, "className", ""))), child)
        elif isinstance(child, html.Section):
            kpis = child
        elif isinstance(child, html.Main):
            map_wrap = child
        else:
            machinery.append(child)
    return LiveParts(status=status, kpis=kpis, map_wrap=map_wrap, machinery=machinery)


def _with_focus_layer(map_wrap: Any) -> Any:
    """The map wrap with a layer for the ring around the selected incident."""
    leaflet = next(c for c in walk(map_wrap) if isinstance(c, dl.Map))
    leaflet.children = [*leaflet.children, dl.LayerGroup(id=FOCUS_ID)]
    return map_wrap


# --- layout ---------------------------------------------------------------------------------


def permissions(lang: Lang) -> Permissions:
    """What the signed-in user may do (nothing when nobody is signed in)."""
    try:
        user = current_user()
    except NotAuthenticated:
        return Permissions(act=False, dispatch=False, role_text="–")
    role = user.role.label(lang)
    return Permissions(act=user.may(Action.INCIDENT_ACT), dispatch=user.may(Action.DISPATCH),
                       role_text=f"{user.display_name} · {role}",
                       conference=user.may(Action.CONFERENCE))


def shell_header(lang: Lang, here: str, status: Any, who: str) -> html.Header:
    """The header every desk page shares: titles, navigation, language switch, live status."""
    links = [("nav_desk", "/"), ("nav_map", "/map"), ("nav_analytics", "/analytics"),
             ("nav_replay", "/replay")]
    query = "?lang=en" if lang is Lang.EN else ""
    return html.Header(className="shell-header desk-header", children=[
        html.Div(className="shell-titles", children=[
            html.H1(f"{LABELS('app_title', lang)} · {LABELS(here, lang)}",
                    className="shell-title desk-shell-title"),
        ]),
        html.Nav(className="desk-nav", children=[
            dcc.Link(LABELS(key, lang), href=path + query, id=f"nav-{key}",
                     className="desk-nav-link" + (" active" if key == here else ""))
            for key, path in links]),
        html.Div(className="desk-header-right", children=[
            html.Span(who, className="desk-user", id="desk-user"),
            html.A(LABELS("language_switch", lang), id="lang-switch", className="desk-lang",
                   href=f"?lang={lang.other.value}"),
            html.A(LABELS("sign_out", lang), href="/logout", className="desk-lang"),
            status,
        ]),
    ])


def _filters(taxonomy: Taxonomy, districts: Districts, lang: Lang) -> html.Div:
    statuses = [{"label": LABELS("open", lang), "value": OPEN},
                {"label": LABELS("all", lang), "value": ALL}]
    statuses += [{"label": status_name(s, lang), "value": s.value} for s in IncidentStatus]
    names = districts.names(lang is Lang.ZH)
    return html.Div(className="desk-filters", children=[
        dcc.Checklist(id="desk-f-level", className="desk-levels", inline=True, value=[],
                      options=[{"label": level_short(lv, lang), "value": lv.value}
                               for lv in Level]),
        html.Div(className="desk-filter-grid", children=[
            dcc.Dropdown(id="desk-f-type", multi=True, placeholder=LABELS("f_type", lang),
                         labels=dropdown_labels(lang),
                         options=[{"label": type_name(taxonomy, code, lang), "value": code}
                                  for code in taxonomy.types]),
            dcc.Dropdown(id="desk-f-district", multi=True, labels=dropdown_labels(lang),
                         placeholder=LABELS("f_district", lang),
                         options=[{"label": name, "value": code} for code, name in names.items()]
                         + [{"label": LABELS("outside", lang), "value": "outside"}]),
            dcc.Dropdown(id="desk-f-status", options=statuses, value=OPEN, clearable=False,
                         labels=dropdown_labels(lang),
                         searchable=False),
            dcc.Dropdown(id="desk-f-time", value="24h", clearable=False, searchable=False,
                         labels=dropdown_labels(lang),
                         options=[{"label": LABELS(f"t_{key}", lang), "value": key}
                                  for key in TIME_WINDOWS]),
        ]),
        html.Div(className="desk-list-bar", children=[
            html.Span("", id="desk-count", className="desk-count"),
            dcc.RadioItems(id="desk-f-sort", inline=True, value=SortKey.TIME.value,
                           className="desk-sort",
                           options=[{"label": LABELS("sort_time", lang), "value": "time"},
                                    {"label": LABELS("sort_level", lang), "value": "level"}]),
        ]),
    ])


def aria_label(text: str) -> dict[str, Any]:
    """An aria-label attribute for a Dash html component (a name Python cannot spell)."""
    return {"aria-label": text}


def _left(taxonomy: Taxonomy, districts: Districts, lang: Lang, may_act: bool,
          *extra: Any) -> html.Aside:
    tabs = [{"label": LABELS(f"tab_{k}", lang), "value": k}
            for k in ("incidents", "units", "alarms")]
    return html.Aside(className="desk-left", children=[
        dcc.RadioItems(id="desk-ltab", options=tabs, value="incidents", inline=True,
                       className="desk-tabs"),
        html.Div(id="desk-lsec-incidents", className="desk-lsec", children=[
            _filters(taxonomy, districts, lang),
            desk_bulk.open_button(lang, may_act),
            # Drawn by assets/desk_list.js from desk-list-data: only the rows in view.
            html.Div(id="desk-list", className="desk-list desk-vlist", role="listbox",
                     tabIndex="-1", **aria_label(LABELS("tab_incidents", lang))),
            dcc.Store(id="desk-list-data"),
            dcc.Store(id="desk-list-digest"),
            dcc.Store(id="desk-list-drawn"),
        ]),
        html.Div(id="desk-lsec-other", className="desk-lsec", style={"display": "none"},
                 children=[
            dcc.Dropdown(id="desk-f-agency", value=ALL, clearable=False,
                         labels=dropdown_labels(lang),
                         options=agency_options(taxonomy, lang)),
            html.Div(id="desk-other", className="desk-list desk-vlist", role="grid",
                     **aria_label(LABELS("tab_units", lang))),
            dcc.Store(id="desk-other-data"),
            dcc.Store(id="desk-other-digest"),
            dcc.Store(id="desk-other-shown"),
            dcc.Store(id="desk-other-drawn"),
        ]),
        *extra,
    ])


def _button(name: str, lang: Lang, css: str = "", key: str | None = None) -> html.Button:
    text = LABELS(f"act_{name}", lang)
    return html.Button(text, id=f"desk-act-{name}", type="button", n_clicks=0, disabled=True,
                       className=f"desk-btn {css}".strip(),
                       title=titled(text, key) if key else text)


def _actions(lang: Lang, video: bool) -> html.Div:
    # Without a video server the button stays disabled and says why; with one, assets/desk.js
    # asks POST /api/incidents/<id>/conference for the room and opens its page.
    conference = html.Button(LABELS("act_conference", lang), id="desk-act-conference",
                             type="button", n_clicks=0, disabled=True, className="desk-btn",
                             title="" if video else LABELS("conference_off", lang))
    escalate = f"{KEY_LABELS('key_escalate', lang)}: {KEY_OF['escalate']}"
    levels = [html.Button(f"{lv.value}", id=f"desk-lvl-{lv.value}", type="button", n_clicks=0,
                          disabled=True, className="desk-lvl",
                          title=f"{level_short(lv, lang)} · {escalate}",
                          style={"--level-colour": lv.colour}) for lv in Level]
    closing = [(name, LABELS(f"res_{name}", lang)) for name in ("resolved", "false_alarm")]
    return html.Div(id="desk-actions", className="desk-actions", children=[
        html.Div(className="desk-action-row", children=[
            _button("verify", lang, "desk-btn-primary", key="verify"),
            _button("dispatch", lang, "desk-btn-strong", key="dispatch"),
            _button("contain", lang),
            html.Div(className="desk-lvls", children=[
                html.Span(LABELS("act_level", lang), className="desk-sub"), *levels]),
        ]),
        html.Div(className="desk-action-row", children=[
            html.Span(LABELS("act_close", lang), className="desk-sub"),
            *[html.Button(text, id=f"desk-act-{name}", type="button", n_clicks=0,
                          disabled=True, className="desk-btn", title=titled(text, "close"))
              for name, text in closing],
            html.Form(id="desk-sitrep-form", method="post", target="_blank", action="",
                      className="desk-inline-form",
                      children=html.Button(LABELS("act_sitrep", lang), id="desk-act-sitrep",
                                           type="submit", disabled=True, className="desk-btn")),
            html.A(LABELS("act_preview", lang), id="desk-preview", target="_blank", href="",
                   className="desk-btn desk-btn-link"),
            conference,
        ]),
        html.Div(className="desk-note-row", children=[
            dcc.Textarea(id="desk-note", placeholder=LABELS("note_placeholder", lang),
                         className="desk-note", maxLength=2000,
                         title=titled(LABELS("act_note", lang), "note")),
            _button("note", lang, key="note"),
        ]),
        html.Div("", id="desk-msg", className="desk-msg", role="status"),
        status_line(),
        html.Div("", id="desk-conference-msg", className="desk-msg desk-msg-err",
                 **data_attrs(failed=LABELS("conference_failed", lang))),
    ])


def _panel(lang: Lang, video: bool) -> html.Aside:
    tabs = [{"label": LABELS(f"pt_{k}", lang), "value": k}
            for k in ("timeline", "orders", "support", "reports")]
    return html.Aside(id="desk-panel", className="desk-panel desk-panel-empty", children=[
        html.Div(LABELS("no_selection", lang), className="desk-panel-hint"),
        html.Section(id="desk-head", className="desk-head"),
        _actions(lang, video),
        dcc.RadioItems(id="desk-ptab", options=tabs, value="timeline", inline=True,
                       className="desk-tabs desk-ptabs"),
        html.Div(id="desk-pbody", className="desk-pbody show-timeline", children=[
            html.Div(id="desk-timeline", className="desk-psec desk-psec-timeline"),
            html.Div(id="desk-orders", className="desk-psec desk-psec-orders"),
            html.Div(id="desk-support", className="desk-psec desk-psec-support",
                     children=LABELS("loading", lang)),
            html.Div(className="desk-psec desk-psec-reports", children=[
                html.H4(LABELS("v_cameras", lang)), html.Div(id="desk-cameras"),
                html.H4(LABELS("r_reports", lang)), html.Div(id="desk-reports"),
            ]),
        ]),
    ])


def _dialog(lang: Lang) -> html.Div:
    return html.Div(id="desk-dialog", className="desk-dialog", children=html.Div(
        className="desk-dialog-box", role="dialog", children=[
            html.Div(className="desk-dialog-head", children=[
                html.H3(LABELS("d_title", lang)),
                html.Div("", id="desk-dialog-title", className="desk-sub")]),
            html.Div(id="desk-dialog-body", className="desk-dialog-body"),
            html.Div("", id="desk-dialog-msg", className="desk-msg desk-msg-err"),
            # The confirmation step of a partial dispatch: what stays short, send or go back.
            html.Div(id="desk-dialog-partial", className="desk-dpartial", children=[
                html.B(LABELS("d_partial_title", lang)),
                html.Ul(id="desk-dialog-partial-list"),
                html.Div(className="desk-dpartial-buttons", children=[
                    html.Button(LABELS("d_partial_back", lang), id="desk-dialog-back",
                                type="button", n_clicks=0, className="desk-btn"),
                    html.Button(LABELS("d_partial_go", lang), id="desk-dialog-go",
                                type="button", n_clicks=0,
                                className="desk-btn desk-btn-strong"),
                ]),
            ]),
            html.Div(className="desk-dialog-foot", children=[
                dcc.Input(id="desk-dialog-reason", type="text", value="", maxLength=2000,
                          placeholder=LABELS("d_reason", lang), className="desk-dreason",
                          debounce=False),
                html.Button(LABELS("d_cancel", lang), id="desk-dialog-cancel", type="button",
                            n_clicks=0, className="desk-btn"),
                html.Button(LABELS("d_confirm", lang), id="desk-dialog-confirm",
                            type="button", n_clicks=0, className="desk-btn desk-btn-strong"),
            ]),
        ]))


def layout(settings: Settings, taxonomy: Taxonomy, districts: Districts, lang: Lang,
           video: bool) -> html.Div:
    """The whole desk page."""
    live = live_parts(settings, lang)
    may = permissions(lang)
    return html.Div(className=f"sitroom-app desk desk-lang-{lang.value}", children=[
        shell_header(lang, "nav_desk", live.status, may.role_text),
        desk_units.banner(lang),
        live.kpis,
        html.Div(className="desk-body", children=[
            _left(taxonomy, districts, lang, may.act, desk_units.control(lang, may.dispatch)),
            html.Main(className="desk-map", children=_with_focus_layer(live.map_wrap)),
            _panel(lang, video),
        ]),
        _dialog(lang),
        overlay(lang),
        desk_bulk.dialog(lang),
        *live.machinery,
        dcc.Store(id="desk-lang", data=lang.value),
        dcc.Store(id="desk-perm", data={"act": may.act, "dispatch": may.dispatch,
                                        "conference": may.conference and video,
                                        "role": may.role_text}),
        dcc.Store(id="desk-selected", data=None),
        dcc.Store(id="desk-bump", data=0),
        dcc.Store(id="desk-live", data=0),  # set by assets/desk.js on pushed incident changes
        dcc.Store(id="desk-dialog-plan", data=None),
        dcc.Interval(id="desk-tick", interval=REFRESH_MS),
        dcc.Interval(id="desk-slow", interval=SLOW_REFRESH_MS),
    ])

