"""The dispatch dialog, pure: the plan's proposal per task as editable slots (one per unit the
task needs), the units that could fill each slot (far ones marked with distance and travel
time; busy ones after the rest, marked, sent only with a reason), the assignments the leader
confirmed, and what a partial dispatch leaves short."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from config.settings import DispatchSettings
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
class Option:
    """A unit that could fill a slot."""

    unit: str
    """Unit id."""
    label: str
    """"xt-119-fe2 · ⚠ 远 · 48.3 km · 约 73 分钟" (the unit id first, then the marks)."""
    far: bool
    """Beyond the warning distance or travel time."""
    busy: bool
    """Holds an open order: sent only on purpose, with a reason."""


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
    options: tuple[Option, ...]
    """Every unit that could fill a slot: proposed ones, then the others nearest first, then
    the busy ones nearest first."""

    @property
    def missing(self) -> int:
        """Slots without a proposed unit."""
        return sum(unit is None for unit in self.proposed)

    @property
    def far(self) -> int:
        """Proposed units marked far."""
        marked = {o.unit for o in self.options if o.far}
        return sum(unit in marked for unit in self.proposed)


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
               lon: float, busy: Collection[str] | None = None) -> list[tuple[str, float]]:
    """Units of the agency and kind as (unit, metres), nearest first: the available ones, or
    with `busy`, the unavailable ones among those (units holding an open order)."""
    found = [(p.unit, haversine_m(lat, lon, p.lat, p.lon)) for p in points
             if p.agency == agency and p.unit_kind == kind
             and (p.available if busy is None else not p.available and p.unit in busy)]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))[:MAX_OPTIONS]


def _distance(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def travel_min(metres: float, rules: DispatchSettings) -> float:
    """Estimated minutes to cover `metres` at the one configured speed."""
    return metres / 1000 / rules.speed_kmh * 60


def is_far(metres: float, rules: DispatchSettings) -> bool:
    """Beyond the warning distance, or longer than the warning travel time."""
    return (metres > rules.warn_distance_km * 1000
            or travel_min(metres, rules) > rules.warn_travel_min)


def option(unit: str, metres: float, rules: DispatchSettings, lang: Lang,
           busy: bool = False) -> Option:
    """A unit as the dropdown offers it: distance, travel time, and the far and busy marks."""
    far = is_far(metres, rules)
    # The marks come right after the unit: a narrow slot cuts the end of its label off.
    parts = [unit, *([LABELS("d_busy", lang)] if busy else []),
             *(["⚠ " + LABELS("d_far", lang)] if far else []), _distance(metres),
             LABELS("d_minutes", lang).format(n=max(1, math.ceil(travel_min(metres, rules))))]
    return Option(unit=unit, label=" · ".join(parts), far=far, busy=busy)


def dialog(plan: DispatchPlan, points: Sequence[UnitPoint], taxonomy: Taxonomy, lang: Lang,
           rules: DispatchSettings | None = None, busy: Collection[str] = ()) -> Dialog:
    """The dialog of a proposal; `points` are the units that could be chosen instead, `busy`
    the units holding an open order (offered after the others, marked)."""
    rules = rules or DispatchSettings()
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
        held = candidates(points, req.agency, req.unit_kind, incident.lat, incident.lon,
                          busy=set(busy))
        proposed: list[str | None] = [n.unit.unit for n in proposal.units]
        proposed += [None] * (req.count - len(proposed))
        tasks.append(DialogTask(
            task_id=req.task_id, name=req.name.get(lang.value), detail=req.detail.get(lang.value),
            agency_text=agency_name(taxonomy, req.agency, lang),
            kind_text=unit_kind_name(taxonomy, req.unit_kind, lang), needed=req.count,
            proposed=tuple(proposed[:req.count]),
            options=tuple([option(unit, m, rules, lang) for unit, m in ordered]
                          + [option(unit, m, rules, lang, busy=True) for unit, m in held
                             if unit not in merged])))
    return Dialog(incident_id=incident.id, plan_id=plan.plan.id,
                  title=f"{plan.plan.name.get(lang.value)} · {level_name(incident.level, lang)}",
                  tasks=tuple(tasks))


def dialog_state(view: Dialog) -> dict[str, Any]:
    """What the confirm step needs to know of the dialog (kept in desk-dialog-plan): the
    tasks' needs and names, and which offered units are busy."""
    return {"incident": view.incident_id, "plan": view.plan_id,
            "tasks": {t.task_id: {"needed": t.needed, "name": t.name, "agency": t.agency_text,
                                  "kind": t.kind_text} for t in view.tasks},
            "busy": sorted({o.unit for t in view.tasks for o in t.options if o.busy}),
            "far": sorted({o.unit for t in view.tasks for o in t.options if o.far})}


def shortfalls(state: Mapping[str, Any], chosen: Sequence[tuple[str, str]], lang: Lang
               ) -> list[str]:
    """One line per task the chosen units leave short, "侦检：消防 危化品侦检车 缺 2", in plan
    order; empty when every slot is filled."""
    filled: dict[str, int] = {}
    for task, _ in chosen:
        filled[task] = filled.get(task, 0) + 1
    lines = []
    for task_id, task in (state.get("tasks") or {}).items():
        short = int(task["needed"]) - filled.get(task_id, 0)
        if short > 0:
            lines.append(LABELS("d_partial_line", lang).format(
                task=task["name"], agency=task["agency"], kind=task["kind"], n=short))
    return lines


def busy_chosen(state: Mapping[str, Any], chosen: Sequence[tuple[str, str]]) -> list[str]:
    """The chosen units that hold an open order (they need a reason), in slot order."""
    busy = set(state.get("busy") or ())
    return [unit for _, unit in chosen if unit in busy]


def slot_class(unit: str | None, far: Collection[str], busy: Collection[str]) -> str:
    """A slot's class: marked far or busy by the unit in it (assets/desk.js does the same
    when the leader changes it)."""
    return ("desk-dslot" + (" desk-dslot-far" if unit in far else "")
            + (" desk-dslot-busy" if unit in busy else ""))


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
        options = [{"label": o.label, "value": o.unit} for o in task.options]
        far = {o.unit for o in task.options if o.far}
        badges = [html.Span(LABELS("d_need", lang).format(n=task.needed), className="desk-chip")]
        if task.missing:
            badges.append(html.Span(LABELS("d_short", lang).format(n=task.missing),
                                    className="desk-chip desk-chip-warn"))
        if task.far:  # as proposed; the slots' own marks follow the leader's choices
            badges.append(html.Span(LABELS("d_far_n", lang).format(n=task.far),
                                    className="desk-chip desk-chip-far"))
        blocks.append(html.Section(className="desk-dtask", **data_attrs(task=task.task_id),
                                   children=[
            html.Div(className="desk-dtask-head", children=[
                html.B(task.name), html.Span(f"{task.agency_text} · {task.kind_text}",
                                             className="desk-sub"), *badges]),
            html.Div(task.detail, className="desk-dtask-detail"),
            html.Div(className="desk-dslots", children=[
                dcc.Dropdown(id={"type": SLOT, "task": task.task_id, "slot": n},
                             options=options, value=unit, clearable=True, searchable=True,
                             placeholder=LABELS("d_choose", lang),
                             className=slot_class(unit, far, ()),
                             labels=dropdown_labels(lang))
                for n, unit in enumerate(task.proposed)]),
        ]))
    return [html.Div(LABELS("d_hint", lang), className="desk-sub"), *blocks]
