"""Decision support in the incident panel, pure: the figures around an incident, the plan's
resource gap against what is sent, and links to the cameras nearby."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dash import html

from dashboard.desk_text import (
    LABELS,
    agency_name,
    facility_kind_name,
    level_name,
    stamp,
)
from dashboard.i18n import Lang
from incidents.command import DecisionSupport
from incidents.dispatch import OrderState
from incidents.history import AttachedReport
from incidents.orders import Order
from incidents.taxonomy import Taxonomy


@dataclass(frozen=True, slots=True)
class GapRow:
    """One plan task against what is sent and what could still be sent."""

    task: str
    """Task name."""
    agency_text: str
    """Agency carrying it out."""
    needed: int
    """Units the plan asks for."""
    sent: int
    """Units holding a live order for it (not rejected or cancelled)."""
    found: int
    """Available units nearby that could be sent."""

    @property
    def missing(self) -> int:
        """Units neither sent nor available: the resource gap."""
        return max(0, self.needed - self.sent - self.found)


@dataclass(frozen=True, slots=True)
class SupportView:
    """Decision support in words and figures."""

    radius_km: float
    """Radius of the figures."""
    population: int
    """People within it."""
    facilities: tuple[tuple[str, int, str], ...]
    """(kind name, count, nearest one's name and distance) per kind, most numerous first."""
    cameras: tuple[tuple[str, str, int], ...]
    """(id, name, metres) of cameras, nearest first."""
    similar: tuple[str, ...]
    """Similar incidents, one line each."""
    plan: str | None
    """The plan's name, None when no plan applies."""
    gap: tuple[GapRow, ...]
    """The plan's tasks with what was found."""


def support_view(support: DecisionSupport, orders: Sequence[Order], taxonomy: Taxonomy,
                 lang: Lang) -> SupportView:
    """The decision support of an incident, for the panel (`orders`: what is sent already)."""
    sent = Counter(o.task_id for o in orders
                   if o.state not in (OrderState.CANCELLED, OrderState.REJECTED))
    counts = Counter(f.kind for f in support.facilities)
    nearest: dict[str, str] = {}
    for f in support.facilities:  # nearest first: keep the first of each kind
        nearest.setdefault(f.kind, f"{f.name} {f.distance_m:,.0f} m")
    plan = support.plan.plan
    return SupportView(
        radius_km=support.radius_m / 1000, population=support.population,
        facilities=tuple((facility_kind_name(k, lang), n, nearest[k])
                         for k, n in counts.most_common()),
        cameras=tuple((c.id, c.name, round(c.distance_m)) for c in support.cameras[:8]),
        similar=tuple(f"{stamp(i.reported_at)} {level_name(i.level, lang)} · {i.title}"
                      for i in support.similar[:5]),
        plan=plan.name.get(lang.value) if plan else None,
        gap=tuple(GapRow(task=p.requirement.name.get(lang.value),
                         agency_text=agency_name(taxonomy, p.requirement.agency, lang),
                         needed=p.requirement.count, sent=sent[p.requirement.task_id],
                         found=len(p.units))
                  for p in support.plan.proposals))


def render_support(view: SupportView, lang: Lang) -> list[Any]:
    """Decision support: population, facilities by kind, the plan's gap, similar incidents."""
    facilities = [html.Li([html.B(f"{name} {count}"), html.Span(nearest, className="desk-sub")])
                  for name, count, nearest in view.facilities]
    gap_head = html.Tr([html.Th(LABELS(k, lang)) for k in ("o_task", "f_agency", "s_required",
                                                            "s_sent", "s_found", "s_missing")])
    gap_rows = [html.Tr(className="desk-gap-short" if g.missing else "", children=[
        html.Td(g.task), html.Td(g.agency_text), html.Td(str(g.needed)), html.Td(str(g.sent)),
        html.Td(str(g.found)), html.Td(str(g.missing) if g.missing else "–")])
        for g in view.gap]
    none = LABELS("none", lang)
    return [
        html.Div(className="desk-support-figures", children=[
            html.Div([html.Div(LABELS("s_population", lang).format(r=f"{view.radius_km:g}"),
                               className="desk-sub"),
                      html.Div(f"{view.population:,}", className="desk-figure")]),
            html.Div([html.Div(LABELS("v_cameras", lang), className="desk-sub"),
                      html.Div(str(len(view.cameras)), className="desk-figure")]),
        ]),
        html.H4(LABELS("s_gap", lang) + (f" · {view.plan}" if view.plan else "")),
        (html.Table(className="desk-table", children=[html.Thead(gap_head),
                                                      html.Tbody(gap_rows)])
         if view.plan else html.Div(LABELS("s_no_plan", lang), className="desk-empty")),
        html.H4(LABELS("s_facilities", lang)),
        html.Ul(facilities, className="desk-facilities") if facilities else html.Div(none),
        html.H4(LABELS("s_similar", lang)),
        html.Ul([html.Li(s) for s in view.similar]) if view.similar else html.Div(none),
    ]


def render_reports(reports: Sequence[AttachedReport], taxonomy: Taxonomy,
                   lang: Lang) -> list[Any]:
    """The reports linked to the incident, oldest first."""
    if not reports:
        return [html.Div(LABELS("r_none", lang), className="desk-empty")]
    return [html.Ul(className="desk-reports", children=[html.Li([
        html.Div([html.Span(stamp(r.report.ts), className="desk-tl-at"),
                  html.Span(f"{agency_name(taxonomy, r.agency, lang)} · {r.source}",
                            className="desk-sub")]),
        html.Div(r.report.text)]) for r in reports])]


def render_cameras(cameras: Sequence[tuple[str, str, int]],
                   player: Callable[[list[str]], str] | None, lang: Lang) -> list[Any]:
    """The nearby cameras, each a link to the video server's player (`player` makes a link for
    some stream ids; None while no video server is configured: plain names), and one link
    playing them all."""
    if not cameras:
        return [html.Div(LABELS("v_none", lang), className="desk-empty")]
    items = []
    for camera_id, name, metres in cameras:
        label = f"{name} · {metres:,} m"
        items.append(html.Li(
            html.A(label, href=player([camera_id]), target="_blank", className="desk-link")
            if player else html.Span(label, title=LABELS("conference_off", lang),
                                     className="desk-sub")))
    every = ([html.A(LABELS("v_all", lang), href=player([c[0] for c in cameras]),
                     target="_blank", className="desk-btn desk-btn-link")] if player else [])
    return [html.Ul(items, className="desk-cameras"), *every]
