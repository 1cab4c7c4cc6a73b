"""The dispatch dialog, pure: the plan's proposal per task as editable slots (one per unit the
task needs), the units that could fill each slot, and the assignments the leader confirmed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from dashboard.desk_text import (
    LABELS,
    agency_name,
    data_attrs,
    level_name,
    unit_kind_name,
)
from dashboard.i18n import Lang, dropdown_labels
from incidents.command import DispatchPlan
from incidents.spatial import UnitPoint
from incidents.taxonomy import Taxonomy
from maps.analysis.geodesy import haversine_m

SLOT = "desk-slot"
"""Pattern-matching id type of a slot: {"type": SLOT, "task": task id, "slot": n}."""
MAX_OPTIONS = 30
"""Candidates offered per task, nearest first (a dropdown, not a unit register)."""


@dataclass(frozen=True, slots=True)
class DialogTask:
    """One plan task in the dialog."""

    task_id: str
    """The plan's task id."""
    name: str
    """Task name."""
    detail: str
    """Instructions the units receive."""
    agency_text: str
    """Agency carrying it out."""
    kind_text: str
    """Kind of unit it needs."""
    needed: int
    """Units the plan asks for at this level."""
    proposed: tuple[str | None, ...]
    """The unit proposed for each slot (None where none was found); len == needed."""
    options: tuple[tuple[str, str], ...]
    """(unit id, label with distance) of every unit that could fill a slot, nearest first."""

    @property
    def missing(self) -> int:
        """Slots without a proposed unit."""
        return sum(unit is None for unit in self.proposed)


@dataclass(frozen=True, slots=True)
class Dialog:
    """The whole dialog."""

    incident_id: str
    """The incident dispatched to."""
    plan_id: str | None
    """The plan, None when no plan applies."""
    title: str
    """Plan name and level."""
    tasks: tuple[DialogTask, ...]
    """The plan's tasks at the incident's level."""


def candidates(points: Iterable[UnitPoint], agency: str, kind: str, lat: float,
               lon: float) -> list[tuple[str, float]]:
    """Available units of the agency and kind as (unit, metres), nearest first."""
    found = [(p.unit, haversine_m(lat, lon, p.lat, p.lon)) for p in points
             if p.available and p.agency == agency and p.unit_kind == kind]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))[:MAX_OPTIONS]


def _distance(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def dialog(plan: DispatchPlan, points: Sequence[UnitPoint], taxonomy: Taxonomy,
           lang: Lang) -> Dialog:
    """The dialog of a proposal; `points` are the units that could be chosen instead."""
    incident = plan.incident
    if plan.plan is None:
        return Dialog(incident_id=incident.id, plan_id=None, title=LABELS("s_no_plan", lang),
                      tasks=())
    tasks = []
    for proposal in plan.proposals:
        req = proposal.requirement
        near = {n.unit.unit: n.distance_m for n in proposal.units}
        others = candidates(points, req.agency, req.unit_kind, incident.lat, incident.lon)
        merged = dict(others) | near  # proposed units first in the dict, then the rest
        ordered = sorted(merged.items(), key=lambda pair: (pair[0] not in near, pair[1]))
        proposed: list[str | None] = [n.unit.unit for n in proposal.units]
        proposed += [None] * (req.count - len(proposed))
        tasks.append(DialogTask(
            task_id=req.task_id, name=req.name.get(lang.value), detail=req.detail.get(lang.value),
            agency_text=agency_name(taxonomy, req.agency, lang),
            kind_text=unit_kind_name(taxonomy, req.unit_kind, lang), needed=req.count,
            proposed=tuple(proposed[:req.count]),
            options=tuple((unit, f"{unit} · {_distance(m)}") for unit, m in ordered)))
    return Dialog(incident_id=incident.id, plan_id=plan.plan.id,
                  title=f"{plan.plan.name.get(lang.value)} · {level_name(incident.level, lang)}",
                  tasks=tuple(tasks))


def assignments(ids: Sequence[Mapping[str, Any]], values: Sequence[str | None]
                ) -> list[tuple[str, str]]:
    """(task id, unit) of every filled slot, in slot order; cleared slots are left out."""
    return [(str(slot["task"]), value) for slot, value in zip(ids, values, strict=True)
            if value]


def render_dialog(view: Dialog, lang: Lang) -> list[Any]:
    """The dialog body: one block per task with a dropdown per slot."""
    if view.plan_id is None:
        return [html.Div(LABELS("s_no_plan", lang), className="desk-empty")]
    blocks = []
    for task in view.tasks:
        options = [{"label": label, "value": unit} for unit, label in task.options]
        badges = [html.Span(LABELS("d_need", lang).format(n=task.needed), className="desk-chip")]
        if task.missing:
            badges.append(html.Span(LABELS("d_short", lang).format(n=task.missing),
                                    className="desk-chip desk-chip-warn"))
        blocks.append(html.Section(className="desk-dtask", **data_attrs(task=task.task_id),
                                   children=[
            html.Div(className="desk-dtask-head", children=[
                html.B(task.name), html.Span(f"{task.agency_text} · {task.kind_text}",
                                             className="desk-sub"), *badges]),
            html.Div(task.detail, className="desk-dtask-detail"),
            html.Div(className="desk-dslots", children=[
                dcc.Dropdown(id={"type": SLOT, "task": task.task_id, "slot": n},
                             options=options, value=unit, clearable=True, searchable=True,
                             placeholder=LABELS("d_choose", lang), className="desk-dslot",
                             labels=dropdown_labels(lang))
                for n, unit in enumerate(task.proposed)]),
        ]))
    return [html.Div(LABELS("d_hint", lang), className="desk-sub"), *blocks]
