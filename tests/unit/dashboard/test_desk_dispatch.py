"""The dispatch dialog: slots per task from the proposal, the units that could fill them, and
the assignments a leader confirms after removing or replacing units."""

from __future__ import annotations

from datetime import UTC, datetime

from config.settings import DispatchSettings
from dashboard.desk_dispatch import (
    assignments,
    busy_chosen,
    candidates,
    dialog,
    dialog_state,
    is_far,
    option,
    render_dialog,
    shortfalls,
    slot_class,
    travel_min,
)
from dashboard.desk_panel import timeline
from dashboard.i18n import Lang
from incidents.command import DispatchPlan
from incidents.dispatch import Proposal
from incidents.model import Incident, IncidentStatus, Level
from incidents.plans import load_plans
from incidents.spatial import NearUnit, UnitPoint
from incidents.taxonomy import load_taxonomy

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TAXONOMY = load_taxonomy()
LEAK = Incident(id="i-1", type="chemical_leak", level=Level.II, status=IncidentStatus.VERIFIED,
                title="储罐泄漏", lat=37.0, lon=114.5, reported_at=NOW, updated_at=NOW,
                agency="safety")


def point(unit: str, kind: str, north_m: float, *, agency: str = "fire",
          available: bool = True) -> UnitPoint:
    return UnitPoint(unit=unit, agency=agency, unit_kind=kind, lat=37.0 + north_m / 111_195,
                     lon=114.5, available=available)


POINTS = [point("hz1", "hazmat_unit", 800), point("hz2", "hazmat_unit", 3000),
          point("hz3", "hazmat_unit", 500, available=False),
          point("fe1", "fire_engine", 1000), point("p1", "patrol_car", 600, agency="police")]


def test_candidates_are_available_units_of_the_kind_nearest_first() -> None:
    found = candidates(POINTS, "fire", "hazmat_unit", 37.0, 114.5)
    assert [unit for unit, _ in found] == ["hz1", "hz2"]
    assert round(found[0][1]) == 800
    assert candidates(POINTS, "police", "hazmat_unit", 37.0, 114.5) == []


def test_the_dialog_has_one_slot_per_unit_needed() -> None:
    plan = load_plans(TAXONOMY).get("hazchem_leak")
    reqs = {r.task_id: r for r in plan.requirements(Level.II)}
    proposals = [
        Proposal(requirement=reqs["detection"],
                 units=[NearUnit(unit=POINTS[0], distance_m=800)], missing=2),
        Proposal(requirement=reqs["dilution_cooling"], units=[], missing=6),
    ]
    view = dialog(DispatchPlan(incident=LEAK, plan=plan, proposals=proposals), POINTS, TAXONOMY,
                  Lang.ZH)
    assert view.plan_id == "hazchem_leak" and view.title.endswith("II级 重大")
    detection, dilution = view.tasks
    assert detection.proposed == ("hz1", None, None) and detection.missing == 2
    # Available units first (the proposed one, then by distance), then the busy one, marked.
    assert [(o.unit, o.busy) for o in detection.options] == [("hz1", False), ("hz2", False)]
    assert detection.options[0].label == "hz1 · 800 m · 约 2 分钟"
    assert detection.options[1].label == "hz2 · 3.0 km · 约 5 分钟"
    assert (detection.agency_text, detection.kind_text) == ("消防救援", "化学事故抢险救援车组")
    assert dilution.proposed == (None,) * 6 and [o.unit for o in dilution.options] == ["fe1"]

    body = str([c.to_plotly_json() for c in render_dialog(view, Lang.ZH)])
    assert "缺 2" in body and "需 3" in body and "'hz1'" in body

    none = dialog(DispatchPlan(incident=LEAK, plan=None, proposals=[]), POINTS, TAXONOMY,
                  Lang.EN)
    assert none.plan_id is None and none.tasks == () and none.title == "No plan applies"


def test_assignments_skip_cleared_slots_in_order() -> None:
    ids = [{"type": "desk-slot", "task": "detection", "slot": 0},
           {"type": "desk-slot", "task": "detection", "slot": 1},
           {"type": "desk-slot", "task": "cordon", "slot": 0}]
    assert assignments(ids, ["hz1", None, "p1"]) == [("detection", "hz1"), ("cordon", "p1")]
    assert assignments(ids, [None, "", None]) == []


def leak_dialog(lang: Lang, rules: DispatchSettings | None = None,
                busy: frozenset[str] = frozenset()) -> tuple[list[UnitPoint], DispatchPlan]:
    """The leak at level II with a far hazmat unit proposed and a busy one nearby."""
    plan = load_plans(TAXONOMY).get("hazchem_leak")
    reqs = {r.task_id: r for r in plan.requirements(Level.II)}
    far = point("hz9", "hazmat_unit", 48_300)
    points = [*POINTS, far]
    proposals = [Proposal(requirement=reqs["detection"],
                          units=[NearUnit(unit=POINTS[0], distance_m=800),
                                 NearUnit(unit=far, distance_m=48_300)], missing=1)]
    return points, DispatchPlan(incident=LEAK, plan=plan, proposals=proposals)


def test_far_units_are_marked_with_distance_and_travel_time() -> None:
    rules = DispatchSettings()  # 15 km, 20 min, 40 km/h
    assert travel_min(40_000, rules) == 60
    assert not is_far(13_000, rules)  # 13 km: 19.5 min at 40 km/h
    assert is_far(15_001, DispatchSettings(warn_travel_min=60))  # beyond the distance
    assert is_far(14_000, DispatchSettings(speed_kmh=20))  # 42 min: beyond the time
    assert option("hz9", 48_300, rules, Lang.ZH).label == "hz9 · ⚠ 远 · 48.3 km · 约 73 分钟"
    assert option("hz9", 48_300, rules, Lang.EN).label == "hz9 · ⚠ far · 48.3 km · ~73 min"

    points, plan = leak_dialog(Lang.ZH)
    (detection,) = dialog(plan, points, TAXONOMY, Lang.ZH, rules).tasks
    assert [(o.unit, o.far) for o in detection.options] == [("hz1", False), ("hz9", True),
                                                            ("hz2", False)]
    assert detection.proposed == ("hz1", "hz9", None) and detection.far == 1
    body = str([c.to_plotly_json() for c in render_dialog(
        dialog(plan, points, TAXONOMY, Lang.ZH, rules), Lang.ZH)])
    assert "拟派 1 个较远" in body and "desk-dslot desk-dslot-far" in body
    # A wider warning distance and time: nothing is far any more.
    wide = DispatchSettings(warn_distance_km=60, warn_travel_min=90)
    (detection,) = dialog(plan, points, TAXONOMY, Lang.ZH, wide).tasks
    assert detection.far == 0 and "⚠" not in str([o.label for o in detection.options])


def test_busy_units_come_last_marked_and_need_a_reason() -> None:
    points, plan = leak_dialog(Lang.ZH)
    view = dialog(plan, points, TAXONOMY, Lang.EN, busy={"hz3"})
    (detection,) = view.tasks
    assert [(o.unit, o.busy) for o in detection.options][-1] == ("hz3", True)
    assert detection.options[-1].label == "hz3 · on an order · 500 m · ~1 min"
    # Unavailable but holding no order (out of service): not offered at all.
    (alone,) = dialog(plan, points, TAXONOMY, Lang.EN).tasks
    assert "hz3" not in {o.unit for o in alone.options}
    state = dialog_state(view)
    assert state["busy"] == ["hz3"] and state["tasks"]["detection"]["needed"] == 3
    assert state["far"] == ["hz9"]
    assert slot_class("hz3", state["far"], state["busy"]) == "desk-dslot desk-dslot-busy"
    assert slot_class("hz9", state["far"], state["busy"]) == "desk-dslot desk-dslot-far"
    assert slot_class(None, state["far"], state["busy"]) == "desk-dslot"
    assert busy_chosen(state, [("detection", "hz1"), ("detection", "hz3")]) == ["hz3"]
    assert busy_chosen(state, [("detection", "hz1")]) == []


def test_a_partial_dispatch_names_what_is_short_per_task() -> None:
    points, plan = leak_dialog(Lang.ZH)
    state = dialog_state(dialog(plan, points, TAXONOMY, Lang.ZH))
    assert shortfalls(state, [("detection", "hz1")], Lang.ZH) == [
        "侦检：消防救援 化学事故抢险救援车组 缺 2"]
    state = dialog_state(dialog(plan, points, TAXONOMY, Lang.EN))
    assert shortfalls(state, [("detection", "hz1"), ("detection", "hz9")], Lang.EN) == [
        "Detection: 1 short (Fire and rescue · Hazmat unit)"]
    full = [("detection", u) for u in ("hz1", "hz9", "hz2")]
    assert shortfalls(state, full, Lang.ZH) == []


def test_the_timeline_names_busy_units_sent_on_purpose() -> None:
    event = {"at": NOW, "actor": "zhao", "action": "dispatch", "data": {
        "orders": [{"order": "o1", "unit": "e-busy", "task": "fire_attack"}],
        "busy_override": ["e-busy"], "reason": "最近的水罐车"}}
    (zh,) = timeline([event], Lang.ZH)
    assert zh.text == "调度：1 条指令；选用执行任务中的 e-busy（最近的水罐车）"
    (en,) = timeline([event], Lang.EN)
    assert en.text == "Dispatch: 1 orders; sent while on an order: e-busy (最近的水罐车)"
    plain = {**event, "data": {"orders": []}}
    assert timeline([plain], Lang.ZH)[0].text == "调度：0 条指令"
