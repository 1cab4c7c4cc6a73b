"""The incident panel, pure: view models of the header, timeline and orders of one incident,
which actions its state allows, and their components (decision support: desk_support.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dash import html

from dashboard.desk_text import (
    LABELS,
    agency_name,
    ago,
    clock,
    data_attrs,
    level_name,
    order_state_name,
    stamp,
    status_name,
    type_name,
)
from dashboard.i18n import Lang
from incidents.briefing import describe
from incidents.dispatch import FINAL, OrderState
from incidents.lifecycle import Action, journal_action_label, severity
from incidents.model import Incident, IncidentStatus, Level
from incidents.orders import Order
from incidents.spatial import DistrictRef
from incidents.taxonomy import Taxonomy

REASSIGN = "desk-reassign"
"""Pattern-matching id type of an order's reassign button: {"type": REASSIGN, "order": id}."""

ACTIONS = ("verify", "dispatch", "contain", "resolved", "false_alarm", "note", "sitrep",
           "conference")
"""The panel's action buttons, by the suffix of their ids (`desk-act-<name>`); the level
buttons (`desk-lvl-<level>`) come on top."""

_ACKED = frozenset({OrderState.ACKNOWLEDGED, OrderState.EN_ROUTE, OrderState.ON_SCENE,
                    OrderState.DONE})


@dataclass(frozen=True, slots=True)
class Permissions:
    """What the signed-in user may do on the desk (the server checks again on every action)."""

    act: bool
    """Verify, change the level, contain, close, annotate, issue reports."""
    dispatch: bool
    """Dispatch plans and reassign orders."""
    role_text: str
    """The role's name, for the "may not" tooltip."""
    conference: bool = False
    """Open video conferences (and a video server is configured)."""


def enabled_actions(status: IncidentStatus | None, level: Level | None,
                    may: Permissions) -> dict[str, bool]:
    """Which buttons are enabled for an incident in `status` at `level` (None: none selected):
    the ACTIONS, and one per level keyed by its value (a level change)."""
    if status is None or level is None:
        return dict.fromkeys([*ACTIONS, *Level], False)
    open_ = status is not IncidentStatus.CLOSED
    enabled = {
        "verify": may.act and status is IncidentStatus.REPORTED,
        "dispatch": may.dispatch and status in (IncidentStatus.VERIFIED,
                                                IncidentStatus.RESPONDING,
                                                IncidentStatus.CONTAINED),
        "contain": may.act and status is IncidentStatus.RESPONDING,
        "resolved": may.act and status is IncidentStatus.CONTAINED,
        "false_alarm": may.act and status in (IncidentStatus.REPORTED, IncidentStatus.VERIFIED),
        "note": may.act,
        "sitrep": may.act,
        "conference": may.conference,
    }
    enabled.update({lv.value: may.act and open_ and lv is not level for lv in Level})
    return enabled


def level_action(current: Level, wanted: Level) -> Action:
    """Escalate when `wanted` is more severe than `current`, else de-escalate."""
    return Action.ESCALATE if severity(wanted) > severity(current) else Action.DEESCALATE


@dataclass(frozen=True, slots=True)
class Header:
    """The panel's header."""

    type_text: str
    """Type name."""
    level_text: str
    """Level with its name."""
    colour: str
    """The level's colour."""
    status: IncidentStatus
    """Status (styles the badge)."""
    status_text: str
    """Status name."""
    title: str
    """Short description."""
    facts: tuple[tuple[str, str], ...]
    """(label, value) lines: district, reported, agency, updated."""
    dispatch: str | None = None
    """The orders' progress, "9/9 已确认 · 2 到场"; None before any dispatch."""
    overdue: int = 0
    """Orders past their deadline without an acknowledgement."""
    overdue_text: str = ""
    """"2 条超时未确认" / "2 overdue"."""


def header(incident: Incident, district: DistrictRef | None, taxonomy: Taxonomy, lang: Lang,
           now: datetime, orders: Sequence[Order] = (), summary: str | None = None) -> Header:
    """The header of an incident, with its orders' progress when it has any (`summary`: the
    plan's needs against them, desk_cover.cover_summary, shown instead of the bare count)."""
    place = ((district.name_zh if lang is Lang.ZH else district.name_en) if district
             else LABELS("outside", lang))
    late = sum(v.overdue for v in order_views(orders, taxonomy, lang, now))
    return Header(
        type_text=type_name(taxonomy, incident.type, lang),
        level_text=level_name(incident.level, lang), colour=incident.level.colour,
        status=incident.status, status_text=status_name(incident.status, lang),
        title=incident.title,
        facts=((LABELS("p_district", lang), place),
               (LABELS("p_reported", lang),
                f"{stamp(incident.reported_at)} ({ago(incident.reported_at, now, lang)})"),
               (LABELS("p_agency", lang), agency_name(taxonomy, incident.agency, lang)),
               (LABELS("p_updated", lang), clock(incident.updated_at))),
        dispatch=summary or (orders_summary(orders, lang) if orders else None),
        overdue=late, overdue_text=LABELS("o_overdue_n", lang).format(n=late))


@dataclass(frozen=True, slots=True)
class TimelineLine:
    """One journal event for people."""

    at: str
    """"09:15:02"."""
    actor: str
    """Who."""
    action: str
    """The journal's action code (styles the line)."""
    text: str
    """What, in words."""


_ORDER_STATES = frozenset(state.value for state in OrderState)


def describe_event(event: Mapping[str, Any], lang: Lang) -> str:
    """One journal event in words (incidents.briefing.describe; every code is named once, in
    incidents.lifecycle)."""
    code = str(event["action"])
    data = event.get("data") or {}
    if code == "order_ack" and data.get("state") in _ORDER_STATES:
        # The report's wording keeps the wire's state code; the desk names it.
        separator = "：" if lang is Lang.ZH else ": "
        return (journal_action_label(code, lang) + separator
                + f"{data.get('unit')} {order_state_name(OrderState(data['state']), lang)}")
    return describe(dict(event), lang)


def timeline(events: Sequence[Mapping[str, Any]], lang: Lang) -> list[TimelineLine]:
    """The journal, newest first, in words."""
    return [TimelineLine(at=clock(e["at"]), actor=str(e["actor"]), action=str(e["action"]),
                         text=describe_event(e, lang)) for e in reversed(events)]


@dataclass(frozen=True, slots=True)
class OrderView:
    """One dispatch order for people."""

    id: str
    """Order id."""
    unit: str
    """The unit sent."""
    agency_text: str
    """Its agency."""
    task: str
    """The task's name."""
    state: OrderState
    """Where it stands (styles the badge)."""
    state_text: str
    """Its state's name."""
    issued: str
    """"09:15:02"."""
    deadline: str
    """Acknowledge by, "09:17:02"."""
    overdue: bool
    """Issued, not acknowledged, past its deadline (or escalated for it)."""
    reassignable: bool
    """Still open or rejected: its task can go to another unit."""
    stale_min: int | None = None
    """Minutes without progress when it was flagged stale (dispatch.stale_order_s) and is
    still open; None otherwise."""


def order_views(orders: Sequence[Order], taxonomy: Taxonomy, lang: Lang,
                now: datetime) -> list[OrderView]:
    """The orders as the panel lists them (cancelled ones last)."""
    views = [OrderView(
        id=o.id, unit=o.unit, agency_text=agency_name(taxonomy, o.agency, lang),
        task=str(o.task["name"][lang.value]), state=o.state,
        state_text=order_state_name(o.state, lang), issued=clock(o.issued_at),
        deadline=clock(o.deadline_at),
        overdue=o.state is OrderState.ISSUED and (o.escalated_at is not None
                                                  or o.deadline_at < now),
        reassignable=o.state not in FINAL or o.state is OrderState.REJECTED,
        stale_min=(int((now - o.updated_at).total_seconds() // 60)
                   if o.stale_at is not None and o.state not in FINAL else None))
        for o in orders]
    return sorted(views, key=lambda v: v.state is OrderState.CANCELLED)


def orders_summary(orders: Sequence[Order], lang: Lang) -> str:
    """"3/6 已确认 · 1 到场"."""
    live = [o for o in orders if o.state is not OrderState.CANCELLED]
    return LABELS("o_summary", lang).format(
        acked=sum(o.state in _ACKED for o in live), total=len(live),
        on_scene=sum(o.state is OrderState.ON_SCENE for o in live))


# --- components -----------------------------------------------------------------------------


def render_header(view: Header) -> list[Any]:
    """The header card's children."""
    return [
        html.Div(className="desk-head-top", children=[
            html.Span(view.level_text, className="desk-head-level",
                      style={"--level-colour": view.colour}),
            html.Span(view.type_text, className="desk-head-type"),
            html.Span(view.status_text,
                      className=f"desk-status desk-status-{view.status.value}"),
        ]),
        html.Div(view.title, className="desk-head-title"),
        html.Dl(className="desk-facts", children=[
            html.Div([html.Dt(label), html.Dd(value)]) for label, value in view.facts]),
        *([html.Div(className="desk-head-dispatch", children=[
            html.Span(view.dispatch),
            *([html.Span(view.overdue_text, className="desk-chip desk-chip-alarm")]
              if view.overdue else []),
        ])] if view.dispatch else []),
    ]


def render_timeline(lines: Sequence[TimelineLine]) -> list[Any]:
    """The timeline, newest first."""
    return [html.Ol(className="desk-timeline", children=[
        html.Li(className=f"desk-tl desk-tl-{line.action}", children=[
            html.Span(line.at, className="desk-tl-at"),
            html.Span(line.text, className="desk-tl-text"),
            html.Span(line.actor, className="desk-tl-actor"),
        ]) for line in lines])]


def render_orders(views: Sequence[OrderView], summary: str, may_dispatch: bool,
                  lang: Lang) -> list[Any]:
    """The orders table with reassign buttons, or a line saying there are none."""
    if not views:
        return [html.Div(LABELS("no_orders", lang), className="desk-empty")]
    head = html.Tr([html.Th(LABELS(k, lang)) for k in ("o_unit", "o_task", "o_state",
                                                        "o_issued", "o_deadline")] + [html.Th()])
    rows = [html.Tr(className="desk-order" + (" desk-overdue" if v.overdue else "")
                    + (" desk-order-stale" if v.stale_min is not None else ""),
                    **data_attrs(order=v.id, state=v.state.value), children=[
        html.Td([html.Div(v.unit, className="desk-order-unit"),
                 html.Div(v.agency_text, className="desk-sub")]),
        html.Td(v.task),
        html.Td([html.Span(v.state_text, className=f"desk-ostate desk-ostate-{v.state.value}")]
                + ([html.Div(LABELS("o_stale", lang).format(n=v.stale_min),
                             className="desk-chip desk-chip-alarm desk-stale")]
                   if v.stale_min is not None else [])),
        html.Td(v.issued),
        html.Td([v.deadline] + ([html.Div(LABELS("o_overdue", lang), className="desk-sub")]
                                if v.overdue else [])),
        html.Td(html.Button(LABELS("o_reassign", lang), type="button", n_clicks=0,
                            id={"type": REASSIGN, "order": v.id}, className="desk-mini",
                            disabled=not (may_dispatch and v.reassignable))),
    ]) for v in views]
    return [*([html.Div(summary, className="desk-orders-summary")] if summary else []),
            html.Table(className="desk-table desk-orders", children=[html.Thead(head),
                                                                      html.Tbody(rows)])]
