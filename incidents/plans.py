"""Response plans (应急预案, config/plans/*.toml): what each agency sends, per incident level.

A plan serves some incident types at some levels; for a level it lists tasks, each one
agency's job with the kind and number of units to send and how soon they must acknowledge.
Plans are checked once at load against the taxonomy; inside, the data is trusted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Final

import msgspec

from incidents.model import Code, Level
from incidents.taxonomy import Taxonomy, Text, decode_hint, duplicates

PLANS_PACKAGE: Final = "config"
PLANS_FOLDER: Final = "plans"

Count = Annotated[int, msgspec.Meta(ge=0, le=1000)]
"""Units of one kind a task sends at one level; 0 when the task does not apply there."""
Seconds = Annotated[int, msgspec.Meta(gt=0, le=86_400)]
"""A deadline in whole seconds, above zero."""
Version = Annotated[str, msgspec.Meta(min_length=1, max_length=32,
                                      pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*\Z")]
"""A plan's version as its owner numbers it, e.g. 2024.1."""


class PlanError(ValueError):
    """A plan file is unreadable or inconsistent, or a plan is unknown; the message says where."""


class Requirement(msgspec.Struct, frozen=True, kw_only=True):
    """One task of a plan at one level: send `count` units of `unit_kind` (count > 0)."""

    plan_id: str
    """The plan it comes from."""
    plan_version: str
    """That plan's version, recorded with the dispatch."""
    level: Level
    """The level the count is for."""
    task_id: str
    """The task, unique within the plan."""
    agency: str
    """Agency that carries the task out."""
    unit_kind: str
    """Kind of unit to send."""
    count: int
    """How many units of that kind."""
    ack_deadline_s: int
    """Seconds a unit has to acknowledge its order before it is escalated."""
    name: Text
    """Short name of the task."""
    detail: Text
    """Instructions for the units."""


class Task(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One agency's job in a plan, with the units it sends at each level."""

    id: Code
    """Unique within the plan, e.g. cordon."""
    agency: Code
    """Agency that carries it out; must own `unit_kind`."""
    name: Text
    """Short name."""
    detail: Text
    """Concrete instructions, as the units receive them."""
    unit_kind: Code
    """Kind of unit to send."""
    counts: Mapping[Level, Count]
    """Units sent at each level the plan applies at (0: not at that level)."""
    ack_deadline_s: Seconds
    """Seconds a unit has to acknowledge its order."""

    def count(self, level: Level) -> int:
        """Units sent at `level`; 0 where the task does not apply."""
        return self.counts.get(level, 0)


class Plan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A response plan (预案): the tasks to dispatch for some incident types and levels."""

    id: Code
    """Unique plan id, e.g. flood."""
    version: Version
    """Version of the plan's text; dispatches record it."""
    name: Text
    """Title of the plan."""
    types: Annotated[tuple[Code, ...], msgspec.Meta(min_length=1)]
    """Incident types it serves."""
    levels: Annotated[tuple[Level, ...], msgspec.Meta(min_length=1)]
    """Levels it applies at."""
    summary: Text
    """What the plan is for and who leads it."""
    activation: Text
    """How each response level (Ⅰ级响应 …) is activated and by whom."""
    tasks: Annotated[tuple[Task, ...], msgspec.Meta(min_length=1)] = msgspec.field(
        name="task")
    """The tasks, in the order they are shown and dispatched."""

    def applies(self, incident_type: str, level: Level) -> bool:
        """Whether the plan serves this incident type at this level."""
        return incident_type in self.types and level in self.levels

    def requirements(self, level: Level) -> list[Requirement]:
        """The tasks that send units at `level`, in file order; PlanError if it does not apply."""
        if level not in self.levels:
            raise PlanError(f"plan {self.id!r} does not apply at level {level}; it applies at "
                            f"{', '.join(self.levels)}")
        return [Requirement(plan_id=self.id, plan_version=self.version, level=level,
                            task_id=t.id, agency=t.agency, unit_kind=t.unit_kind,
                            count=t.count(level), ack_deadline_s=t.ack_deadline_s,
                            name=t.name, detail=t.detail)
                for t in self.tasks if t.count(level) > 0]


class PlanBook(msgspec.Struct, frozen=True, kw_only=True):
    """Every loaded plan, sorted by id; no two serve the same incident type at the same level."""

    plans: tuple[Plan, ...]
    """The plans, sorted by id."""

    def select(self, incident_type: str, level: Level) -> Plan | None:
        """The plan for this incident type at this level, or None when no plan applies.

        Loading refuses overlapping plans; for a book built by hand, the first by id wins.
        """
        return next((p for p in self.plans if p.applies(incident_type, level)), None)

    def get(self, plan_id: str) -> Plan:
        """The plan with this id, or a PlanError naming it and the known ids."""
        for plan in self.plans:
            if plan.id == plan_id:
                return plan
        raise PlanError(f"unknown plan {plan_id!r}; known plans: "
                        f"{', '.join(p.id for p in self.plans)}")


def load_plans(taxonomy: Taxonomy, folder: Path | None = None) -> PlanBook:
    """Load every *.toml plan in `folder` (default: the shipped config/plans/) and check them."""
    if folder is None:
        root: Traversable = resources.files(PLANS_PACKAGE) / PLANS_FOLDER
        label = f"{PLANS_PACKAGE}/{PLANS_FOLDER}"
    else:
        root, label = folder, str(folder)
    try:
        files = sorted((f for f in root.iterdir() if f.name.endswith(".toml") and f.is_file()),
                       key=lambda f: f.name)
    except OSError as exc:
        raise PlanError(f"{label}: cannot list the plans folder: {exc}") from exc
    if not files:
        raise PlanError(f"{label}: no plan files (*.toml) in the folder")
    sources = {f"{label}/{f.name}": _read(f, f"{label}/{f.name}") for f in files}
    return parse_plans(taxonomy, sources)


def parse_plans(taxonomy: Taxonomy, sources: Mapping[str, str]) -> PlanBook:
    """Parse and check plan files given as {source name: TOML text}, against `taxonomy`."""
    plans: list[tuple[str, Plan]] = []
    problems: list[str] = []
    for source, text in sources.items():
        try:
            plan = msgspec.toml.decode(text, type=Plan)
        except msgspec.ValidationError as exc:
            problems.append(f"{source}: {exc}{decode_hint(str(exc))}")
            continue
        except msgspec.DecodeError as exc:
            problems.append(f"{source}: not valid TOML: {exc}")
            continue
        problems.extend(f"{source}: {p}" for p in _plan_problems(plan, taxonomy))
        plans.append((source, plan))
    problems.extend(_overlaps(plans))
    if problems:
        raise PlanError("; ".join(problems))
    return PlanBook(plans=tuple(sorted((p for _, p in plans), key=lambda p: p.id)))


def _read(file: Traversable, source: str) -> str:
    """The text of one plan file, or a PlanError naming it."""
    try:
        return file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{source}: cannot read the plan file: {exc}") from exc


def _plan_problems(plan: Plan, taxonomy: Taxonomy) -> Iterator[str]:
    """Everything wrong with one plan that msgspec's types cannot express, with key paths."""
    for i, code in enumerate(plan.types):
        if code not in taxonomy.types:
            yield (f"$.types[{i}]: unknown incident type {code!r}; add it to the taxonomy "
                   f"or use one of {sorted(taxonomy.types)}")
    yield from duplicates("$.types", "", plan.types)
    yield from duplicates("$.levels", "", (lv.value for lv in plan.levels))
    yield from duplicates("$.task", "id", (t.id for t in plan.tasks))
    for i, task in enumerate(plan.tasks):
        yield from _task_problems(f"$.task[{i}] ({task.id})", task, plan.levels, taxonomy)
    for level in plan.levels:
        if not any(t.count(level) > 0 for t in plan.tasks):
            yield (f"$.levels: no task sends any unit at level {level}; give a task a count "
                   f"for {level} or remove {level} from levels")


def _task_problems(where: str, task: Task, levels: Sequence[Level],
                   taxonomy: Taxonomy) -> Iterator[str]:
    """What is wrong with one task: unknown codes, a unit of another agency, missing counts."""
    if task.agency not in taxonomy.agencies:
        yield (f"{where}.agency: unknown agency {task.agency!r}; use one of "
               f"{sorted(taxonomy.agencies)}")
    kind = taxonomy.unit_kinds.get(task.unit_kind)
    if kind is None:
        yield (f"{where}.unit_kind: unknown unit kind {task.unit_kind!r}; add it to the "
               f"taxonomy or use one of {sorted(taxonomy.unit_kinds)}")
    elif task.agency in taxonomy.agencies and kind.agency != task.agency:
        own = sorted(k.code for k in taxonomy.unit_kinds.values() if k.agency == task.agency)
        yield (f"{where}.unit_kind: {task.unit_kind!r} belongs to agency {kind.agency!r}, "
               f"not {task.agency!r}; use one of {own}")
    # Every level the plan lists needs an explicit count, so a forgotten level is an error
    # rather than a silent zero; a count for a level the plan does not list is a typo.
    for level in levels:
        if level not in task.counts:
            yield f"{where}.counts: no count for level {level}; write {level} = 0 if none"
    for level in task.counts:
        if level not in levels:
            yield (f"{where}.counts: count for level {level}, which is not in the plan's "
                   f"levels {', '.join(levels)}")


def _overlaps(plans: Sequence[tuple[str, Plan]]) -> Iterator[str]:
    """Two plans with the same id, or serving the same incident type at the same level."""
    ids: dict[str, str] = {}
    served: dict[tuple[str, Level], tuple[str, str]] = {}
    for source, plan in plans:
        if plan.id in ids:
            yield f"{source}: $.id: plan id {plan.id!r} is also the id of {ids[plan.id]}"
        ids.setdefault(plan.id, source)
        for i, code in enumerate(plan.types):
            clashes: dict[tuple[str, str], list[str]] = {}
            for level in plan.levels:
                other = served.setdefault((code, level), (source, plan.id))
                if other != (source, plan.id):
                    clashes.setdefault(other, []).append(level.value)
            for (other_source, other_id), clashed in clashes.items():
                plural = "s" if len(clashed) > 1 else ""
                yield (f"{source}: $.types[{i}]: plan {plan.id!r} serves {code!r} at level"
                       f"{plural} {', '.join(clashed)}, as plan {other_id!r} in {other_source} "
                       f"already does; narrow the types or levels of one of them")
