"""Response plans: the shipped plans, selection, requirements per level, load-time checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from incidents.model import Level
from incidents.plans import Plan, PlanBook, PlanError, load_plans
from incidents.taxonomy import Taxonomy, Text, load_taxonomy

CJK = re.compile(r"[\u4e00-\u9fff]")
SEVERITY = (Level.I, Level.II, Level.III, Level.IV)
"""Most severe first."""

TASK = """
[[task]]
id = "{id}"
agency = "{agency}"
unit_kind = "{unit_kind}"
counts = {counts}
ack_deadline_s = {deadline}
name = {{ zh = "任务", en = "Task" }}
detail = {{ zh = "具体要求", en = "What to do" }}
"""


def plan_text(*, plan_id: str = "test_plan", types: str = '["fire"]',
              levels: str = '["III", "IV"]', tasks: str | None = None, extra: str = "") -> str:
    """A small valid plan, or one made invalid by the arguments."""
    if tasks is None:
        tasks = task_text()
    return f"""
id = "{plan_id}"
version = "1"
name = {{ zh = "测试预案", en = "Test plan" }}
types = {types}
levels = {levels}
summary = {{ zh = "摘要", en = "Summary" }}
activation = {{ zh = "启动条件", en = "Activation" }}
{extra}
{tasks}"""


def task_text(*, task_id: str = "attack", agency: str = "fire", unit_kind: str = "fire_engine",
              counts: str = "{ III = 2, IV = 1 }", deadline: int = 60) -> str:
    """One [[task]] table."""
    return TASK.format(id=task_id, agency=agency, unit_kind=unit_kind, counts=counts,
                       deadline=deadline)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    """The shipped taxonomy."""
    return load_taxonomy()


@pytest.fixture(scope="module")
def book(taxonomy: Taxonomy) -> PlanBook:
    """The shipped plans."""
    return load_plans(taxonomy)


def folder(tmp_path: Path, **files: str) -> Path:
    """A plans folder holding `files` as name.toml."""
    path = tmp_path / "plans"
    path.mkdir()
    for name, text in files.items():
        (path / f"{name}.toml").write_text(text, "utf-8")
    return path


def load_error(taxonomy: Taxonomy, tmp_path: Path, **files: str) -> str:
    """The message of the PlanError that loading `files` raises."""
    with pytest.raises(PlanError) as caught:
        load_plans(taxonomy, folder(tmp_path, **files))
    return str(caught.value)


def test_shipped_plans_load_and_cover_the_required_types(book: PlanBook) -> None:
    ids = {p.id for p in book.plans}
    assert {"flood", "hazchem_leak", "building_fire", "traffic_accident", "earthquake",
            "crowd"} <= ids
    assert [p.id for p in book.plans] == sorted(ids)
    served = {t for p in book.plans for t in p.types}
    assert {"flood", "rainstorm", "chemical_leak", "gas_leak", "fire", "traffic_accident",
            "earthquake", "building_collapse", "crowd", "medical"} <= served


@pytest.mark.parametrize(("incident_type", "level", "plan_id"), [
    ("flood", Level.IV, "flood"),
    ("rainstorm", Level.I, "flood"),
    ("chemical_leak", Level.III, "hazchem_leak"),
    ("gas_leak", Level.II, "hazchem_leak"),
    ("fire", Level.I, "building_fire"),
    ("traffic_accident", Level.IV, "traffic_accident"),
    ("earthquake", Level.II, "earthquake"),
    ("building_collapse", Level.IV, "earthquake"),
    ("crowd", Level.III, "crowd"),
    ("medical", Level.IV, "medical"),
])
def test_select_finds_the_plan_for_type_and_level(book: PlanBook, incident_type: str,
                                                  level: Level, plan_id: str) -> None:
    plan = book.select(incident_type, level)
    assert plan is not None and plan.id == plan_id
    assert plan.requirements(level)


@pytest.mark.parametrize(("incident_type", "level"), [
    ("medical", Level.I),       # a mass casualty incident is not a 120 dispatch
    ("medical", Level.II),
    ("epidemic", Level.IV),     # in the taxonomy, but no plan is shipped for it
    ("volcano", Level.III),     # not a type at all
])
def test_select_returns_none_when_no_plan_applies(book: PlanBook, incident_type: str,
                                                  level: Level) -> None:
    assert book.select(incident_type, level) is None


def test_get_finds_a_plan_and_names_an_unknown_one(book: PlanBook) -> None:
    assert book.get("flood").name.get("zh-CN") == "城市防汛应急预案"
    with pytest.raises(PlanError, match=r"unknown plan 'tsunami'; known plans: .*flood"):
        book.get("tsunami")


def test_requirements_grow_with_severity_in_every_shipped_plan(book: PlanBook) -> None:
    for plan in book.plans:
        levels = [lv for lv in SEVERITY if lv in plan.levels]
        totals = [sum(r.count for r in plan.requirements(lv)) for lv in levels]
        assert totals == sorted(totals, reverse=True), (plan.id, totals)
        assert totals[0] > totals[-1] or len(levels) == 1, plan.id
        for task in plan.tasks:
            counts = [task.count(lv) for lv in levels]
            assert counts == sorted(counts, reverse=True), (plan.id, task.id, counts)


def test_requirements_keep_file_order_and_skip_zero_counts(book: PlanBook) -> None:
    plan = book.get("flood")
    at_iv = plan.requirements(Level.IV)
    assert all(r.count > 0 for r in at_iv)
    order = [t.id for t in plan.tasks]
    assert [r.task_id for r in at_iv] == [i for i in order if i in {r.task_id for r in at_iv}]
    assert "dike_patrol" not in {r.task_id for r in at_iv}          # 0 at level IV
    assert "dike_patrol" in {r.task_id for r in plan.requirements(Level.I)}
    first = at_iv[0]
    assert (first.plan_id, first.plan_version, first.level) == ("flood", plan.version, Level.IV)
    task = plan.tasks[0]
    assert (first.task_id, first.agency, first.unit_kind, first.count, first.ack_deadline_s,
            first.name, first.detail) == (task.id, task.agency, task.unit_kind,
                                          task.count(Level.IV), task.ack_deadline_s,
                                          task.name, task.detail)


def test_requirements_at_a_level_the_plan_does_not_cover_are_an_error(book: PlanBook) -> None:
    with pytest.raises(PlanError, match=r"'medical' does not apply at level I; .*III, IV"):
        book.get("medical").requirements(Level.I)


def test_shipped_tasks_use_units_of_their_own_agency(book: PlanBook,
                                                     taxonomy: Taxonomy) -> None:
    for plan in book.plans:
        for task in plan.tasks:
            assert taxonomy.unit_kinds[task.unit_kind].agency == task.agency, (plan.id, task.id)
            assert set(task.counts) == set(plan.levels), (plan.id, task.id)
            assert task.ack_deadline_s > 0


def test_every_shipped_text_is_bilingual(book: PlanBook) -> None:
    def texts(plan: Plan) -> list[tuple[str, Text]]:
        found = [("name", plan.name), ("summary", plan.summary), ("activation", plan.activation)]
        for task in plan.tasks:
            found += [(f"{task.id}.name", task.name), (f"{task.id}.detail", task.detail)]
        return found

    for plan in book.plans:
        for where, text in texts(plan):
            assert text.zh.strip() and text.en.strip(), (plan.id, where)
            assert CJK.search(text.zh), (plan.id, where, text.zh)
            assert not CJK.search(text.en), (plan.id, where, text.en)


def test_a_hand_made_plan_loads(taxonomy: Taxonomy, tmp_path: Path) -> None:
    book = load_plans(taxonomy, folder(tmp_path, a=plan_text()))
    plan = book.get("test_plan")
    assert [(r.unit_kind, r.count) for r in plan.requirements(Level.III)] == [("fire_engine", 2)]
    assert book.select("fire", Level.III) is plan
    assert book.select("fire", Level.II) is None


def test_unknown_key_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(tasks=task_text() + 'owner = "x"\n'))
    assert "plans/a.toml" in message
    assert "unknown field `owner`" in message and "$.task[0]" in message


def test_unknown_agency_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(tasks=task_text(agency="army")))
    assert "$.task[0] (attack).agency: unknown agency 'army'" in message


def test_unknown_unit_kind_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(tasks=task_text(unit_kind="tank")))
    assert "$.task[0] (attack).unit_kind: unknown unit kind 'tank'" in message


def test_unit_kind_of_another_agency_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(tasks=task_text(unit_kind="ambulance")))
    assert "$.task[0] (attack).unit_kind: 'ambulance' belongs to agency 'health'" in message


def test_duplicate_task_id_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    tasks = task_text() + task_text(agency="police", unit_kind="patrol_car")
    message = load_error(taxonomy, tmp_path, a=plan_text(tasks=tasks))
    assert "$.task[1].id: 'attack' appears more than once" in message


def test_overlapping_plans_are_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(plan_id="one"),
                         b=plan_text(plan_id="two", types='["explosion", "fire"]',
                                     levels='["II", "III"]',
                                     tasks=task_text(counts="{ II = 3, III = 1 }")))
    assert ("b.toml: $.types[1]: plan 'two' serves 'fire' at level III, as plan 'one' in "
            in message)
    assert "level II," not in message


def test_duplicate_plan_id_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(),
                         b=plan_text(types='["explosion"]'))
    assert "b.toml: $.id: plan id 'test_plan' is also the id of" in message


def test_unknown_incident_type_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(types='["fire", "volcano"]'))
    assert "$.types[1]: unknown incident type 'volcano'" in message


@pytest.mark.parametrize(("deadline", "counts", "path"), [
    (0, "{ III = 2, IV = 1 }", r"$.task[0].ack_deadline_s"),
    (60, "{ III = -1, IV = 1 }", r"$.task[0].counts"),
    (60, "{ III = 2, V = 1 }", r"$.task[0].counts"),
])
def test_bad_deadline_or_count_is_refused(taxonomy: Taxonomy, tmp_path: Path, deadline: int,
                                          counts: str, path: str) -> None:
    tasks = task_text(deadline=deadline, counts=counts)
    assert path in load_error(taxonomy, tmp_path, a=plan_text(tasks=tasks))


def test_level_without_any_unit_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path,
                         a=plan_text(tasks=task_text(counts="{ III = 2, IV = 0 }")))
    assert "$.levels: no task sends any unit at level IV" in message


def test_counts_must_match_the_plan_levels(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path,
                         a=plan_text(tasks=task_text(counts="{ II = 1, III = 2 }")))
    assert "$.task[0] (attack).counts: no count for level IV" in message
    assert "$.task[0] (attack).counts: count for level II, which is not in" in message


def test_problems_of_several_files_are_reported_together(taxonomy: Taxonomy,
                                                         tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path, a=plan_text(tasks=task_text(agency="army")),
                         b="id = [", c=plan_text(plan_id="c", types='["flood"]', extra="x = 1"))
    assert "a.toml: $.task[0]" in message
    assert "b.toml: not valid TOML" in message
    assert "c.toml: Object contains unknown field `x`" in message


def test_empty_or_missing_folder_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no plan files"):
        load_plans(taxonomy, folder(tmp_path))
    with pytest.raises(PlanError, match="cannot list the plans folder"):
        load_plans(taxonomy, tmp_path / "missing")


def test_repeated_type_or_level_is_refused(taxonomy: Taxonomy, tmp_path: Path) -> None:
    message = load_error(taxonomy, tmp_path,
                         a=plan_text(types='["fire", "fire"]', levels='["III", "IV", "III"]'))
    assert "$.types[1]: 'fire' appears more than once" in message
    assert "$.levels[2]: 'III' appears more than once" in message
