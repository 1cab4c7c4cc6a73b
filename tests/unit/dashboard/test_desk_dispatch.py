"""The dispatch dialog: slots per task from the proposal, the units that could fill them, and
the assignments a leader confirms after removing or replacing units."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.desk_dispatch import assignments, candidates, dialog, render_dialog
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
    assert [unit for unit, _ in detection.options] == ["hz1", "hz2"]
    assert detection.options[0][1] == "hz1 · 800 m" and detection.options[1][1] == "hz2 · 3.0 km"
    assert (detection.agency_text, detection.kind_text) == ("消防救援", "化学事故抢险救援车组")
    assert dilution.proposed == (None,) * 6 and [u for u, _ in dilution.options] == ["fe1"]

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
