"""The plan's needs against what is sent, for the incident panel, pure: the summary line
("已派 8/50 · 缺 42 · 已确认 8") and the per-task table with short tasks marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dash import html

from dashboard.desk_text import LABELS, agency_name, data_attrs, unit_kind_name
from dashboard.i18n import Lang
from incidents.coverage import Cover
from incidents.dispatch import OrderState
from incidents.orders import Order
from incidents.taxonomy import Taxonomy


def cover_summary(cover: Cover, lang: Lang, orders: Sequence[Order] = ()) -> str:
    """"已派 8/50 · 缺 42 · 已确认 8 · 2 到场" / "sent 8 of 50 · 42 short · 8 confirmed"."""
    if cover.plan is None:
        parts = [LABELS("c_sent_noplan", lang).format(sent=cover.sent)]
    else:
        parts = [LABELS("c_sent", lang).format(sent=cover.sent, needed=cover.needed),
                 LABELS("c_short", lang).format(n=cover.short) if cover.short
                 else LABELS("c_complete", lang)]
    parts.append(LABELS("c_confirmed", lang).format(n=cover.confirmed))
    on_scene = sum(o.state is OrderState.ON_SCENE for o in orders)
    if on_scene:
        parts.append(LABELS("c_on_scene", lang).format(n=on_scene))
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class CoverRow:
    """One task of the table."""

    task_id: str
    """The plan's task id."""
    task: str
    """Its name."""
    who: str
    """Agency and kind of unit."""
    needed: int
    """Units the plan needs."""
    sent: int
    """Units sent."""
    confirmed: int
    """Units that acknowledged."""
    short: int
    """needed − sent (at least 0)."""


def cover_rows(cover: Cover, taxonomy: Taxonomy, lang: Lang) -> list[CoverRow]:
    """The tasks for the table, in plan order."""
    return [CoverRow(task_id=t.task_id, task=t.name.get(lang.value),
                     who=" · ".join([agency_name(taxonomy, t.agency, lang)]
                                    + ([unit_kind_name(taxonomy, t.unit_kind, lang)]
                                       if t.unit_kind else [])),
                     needed=t.needed, sent=t.sent, confirmed=t.confirmed, short=t.short)
            for t in cover.tasks]


def render_cover(summary: str, cover: Cover, rows: Sequence[CoverRow], lang: Lang
                 ) -> list[Any]:
    """The summary line and the table; nothing when there is neither a plan nor an order."""
    if cover.plan is None and not rows:
        return []
    head = html.Tr([html.Th(LABELS(k, lang)) for k in ("o_task", "c_who", "s_required",
                                                        "s_sent", "c_confirmed_h",
                                                        "s_missing")])
    body = [html.Tr(className="desk-cover-row" + (" desk-cover-short" if r.short else ""),
                    **data_attrs(task=r.task_id, short=str(r.short)), children=[
        html.Td(r.task), html.Td(r.who, className="desk-sub"), html.Td(str(r.needed)),
        html.Td(str(r.sent)), html.Td(str(r.confirmed)),
        html.Td(html.Span(LABELS("d_short", lang).format(n=r.short),
                          className="desk-chip desk-chip-warn") if r.short else "–"),
    ]) for r in rows]
    return [html.Div(className="desk-cover", children=[
        html.Div(summary, className="desk-cover-summary"
                 + (" desk-cover-summary-short" if cover.short else "")),
        html.Table(className="desk-table desk-cover-table",
                   children=[html.Thead(head), html.Tbody(body)]),
    ])]
