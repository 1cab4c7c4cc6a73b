"""The incident panel's view models: actions by state and role, header, timeline, orders
(overdue, reassignable, progress), decision support and the resource gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.desk_panel import (
    Permissions,
    enabled_actions,
    header,
    level_action,
    order_views,
    orders_summary,
    timeline,
)
from dashboard.desk_support import support_view
from dashboard.i18n import Lang
from incidents.command import DecisionSupport, DispatchPlan
from incidents.dispatch import OrderState, Proposal
from incidents.lifecycle import Action
from incidents.model import Incident, IncidentStatus, Level
from incidents.orders import Order, task_doc
from incidents.plans import load_plans
from incidents.spatial import DistrictRef, Facility, NearUnit, UnitPoint
from incidents.taxonomy import Text, load_taxonomy

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TAXONOMY = load_taxonomy()
LEADER = Permissions(act=True, dispatch=True, role_text="张指挥 · 指挥长")
OPERATOR = Permissions(act=False, dispatch=False, role_text="王值班 · 值班员")
LEAK = Incident(id="i-1", type="chemical_leak", level=Level.II,
                status=IncidentStatus.RESPONDING, title="储罐泄漏", lat=37.07, lon=114.52,
                reported_at=NOW - timedelta(minutes=20), updated_at=NOW, agency="safety")


def order(ident: str, state: OrderState, *, task: str = "detection", late: bool = False,
          escalated: bool = False, unit: str = "xt-119-hz1") -> Order:
    issued = NOW - timedelta(minutes=5)
    return Order(id=ident, incident_id="i-1", dispatch_id="d-1", unit=unit, agency="fire",
                 task_id=task, task=task_doc(Text(zh="侦检", en="Detection"),
                                             Text(zh="细则", en="Detail")),
                 state=state, issued_by="zhang", issued_at=issued,
                 deadline_at=issued + timedelta(minutes=2 if late else 10), sent_at=issued,
                 send_count=1, escalated_at=NOW if escalated else None, replaces=None,
                 updated_at=issued)


@pytest.mark.parametrize(("status", "enabled"), [
    (IncidentStatus.REPORTED, {"verify", "false_alarm", "note", "sitrep"}),
    (IncidentStatus.VERIFIED, {"dispatch", "false_alarm", "note", "sitrep"}),
    (IncidentStatus.RESPONDING, {"dispatch", "contain", "note", "sitrep"}),
    (IncidentStatus.CONTAINED, {"dispatch", "resolved", "note", "sitrep"}),
    (IncidentStatus.CLOSED, {"note", "sitrep"}),
])
def test_actions_follow_the_state(status: IncidentStatus, enabled: set[str]) -> None:
    found = enabled_actions(status, Level.III, LEADER)
    levels = {"I", "II", "IV"} if status is not IncidentStatus.CLOSED else set()
    assert {name for name, on in found.items() if on} == enabled | levels


def test_an_operator_gets_no_action_and_nothing_selected_none() -> None:
    assert not any(enabled_actions(IncidentStatus.REPORTED, Level.IV, OPERATOR).values())
    assert not any(enabled_actions(None, None, LEADER).values())
    act_only = Permissions(act=True, dispatch=False, role_text="")
    assert not enabled_actions(IncidentStatus.VERIFIED, Level.IV, act_only)["dispatch"]
    video = Permissions(act=False, dispatch=False, role_text="", conference=True)
    assert {n for n, on in enabled_actions(IncidentStatus.REPORTED, Level.IV, video).items()
            if on} == {"conference"}


def test_level_buttons_escalate_up_and_deescalate_down() -> None:
    assert level_action(Level.IV, Level.II) is Action.ESCALATE
    assert level_action(Level.II, Level.III) is Action.DEESCALATE
    assert level_action(Level.II, Level.I) is Action.ESCALATE


def test_orders_overdue_reassignable_and_their_progress() -> None:
    orders = [order("o1", OrderState.ISSUED, late=True), order("o2", OrderState.CANCELLED),
              order("o3", OrderState.ISSUED, escalated=True), order("o4", OrderState.ON_SCENE),
              order("o5", OrderState.DONE), order("o6", OrderState.REJECTED),
              order("o7", OrderState.ISSUED)]
    views = {v.id: v for v in order_views(orders, TAXONOMY, Lang.ZH, NOW)}
    assert {i for i, v in views.items() if v.overdue} == {"o1", "o3"}
    assert {i for i, v in views.items() if v.reassignable} == {"o1", "o3", "o4", "o6", "o7"}
    assert [v.id for v in order_views(orders, TAXONOMY, Lang.ZH, NOW)][-1] == "o2"
    assert views["o4"].state_text == "已到场" and views["o1"].task == "侦检"
    assert orders_summary(orders, Lang.ZH) == "2/6 已确认 · 1 到场"
    assert orders_summary(orders, Lang.EN) == "2/6 acknowledged · 1 on scene"


def test_header_with_district_and_dispatch_progress() -> None:
    district = DistrictRef(code="130502", name_zh="襄都区", name_en="Xiangdu District")
    orders = [order("o1", OrderState.ISSUED, late=True), order("o4", OrderState.ON_SCENE)]
    zh = header(LEAK, district, TAXONOMY, Lang.ZH, NOW, orders)
    assert (zh.type_text, zh.level_text, zh.status_text) == ("危险化学品泄漏", "II级 重大",
                                                             "处置中")
    assert zh.colour == Level.II.colour
    assert dict(zh.facts)["区县"] == "襄都区"
    assert dict(zh.facts)["接报"] == "11-26 09:40 (20分钟前)"
    assert (zh.dispatch, zh.overdue, zh.overdue_text) == ("1/2 已确认 · 1 到场", 1,
                                                          "1 条超时未确认")
    en = header(LEAK, None, TAXONOMY, Lang.EN, NOW)
    assert dict(en.facts)["District"] == "Outside the city"
    assert en.dispatch is None and en.overdue == 0


def event(seq: int, action: str, data: dict[str, Any], actor: str = "zhang") -> dict[str, Any]:
    return {"seq": seq, "at": NOW + timedelta(seconds=seq), "actor": actor, "action": action,
            "client": None, "data": data}


def test_timeline_newest_first_in_words() -> None:
    events = [event(1, "reported", {"text": "储罐泄漏", "level": "IV"}, "safety/desk"),
              event(2, "escalate", {"from_level": "IV", "to_level": "II"}),
              event(3, "order_ack", {"unit": "xt-119-hz1", "state": "on_scene"}, "fire/hz1"),
              event(4, "sitrep", {"sequence": 1})]
    zh = timeline(events, Lang.ZH)
    assert [line.text for line in zh] == ["签发续报", "指令反馈：xt-119-hz1 已到场",
                                          "升级：IV → II", "接报：储罐泄漏"]
    assert zh[0].at == "10:00:04" and zh[-1].actor == "safety/desk"
    en = timeline(events, Lang.EN)
    assert [line.text for line in en][1:] == ["Order update: xt-119-hz1 On scene",
                                              "Escalated: IV → II", "Reported: 储罐泄漏"]


def test_support_gap_counts_what_is_sent() -> None:
    plan = load_plans(TAXONOMY).get("hazchem_leak")
    reqs = {r.task_id: r for r in plan.requirements(Level.II)}
    near = NearUnit(unit=UnitPoint(unit="xt-119-hz2", agency="fire", unit_kind="hazmat_unit",
                                   lat=37.08, lon=114.52, available=True), distance_m=900)
    proposals = [Proposal(requirement=reqs["detection"], units=[near], missing=2),
                 Proposal(requirement=reqs["cordon"], units=[], missing=5)]
    facilities = [Facility(id=f"f{n}", layer="facilities", kind=kind, name=name, lat=0, lon=0,
                           distance_m=d) for n, (kind, name, d) in enumerate(
        [("school", "一中", 400), ("hospital", "人民医院", 900), ("school", "二中", 1200)])]
    camera = Facility(id="cam-1", layer="cameras", kind="camera", name="路口摄像机", lat=0,
                      lon=0, distance_m=150)
    support = DecisionSupport(
        incident=LEAK, radius_m=3000, district=None, facilities=facilities, population=12345,
        cameras=[camera], similar=[LEAK], plan=DispatchPlan(incident=LEAK, plan=plan,
                                                            proposals=proposals))
    orders = [order("o1", OrderState.ON_SCENE), order("o2", OrderState.REJECTED)]
    view = support_view(support, orders, TAXONOMY, Lang.ZH)
    assert view.plan == "危险化学品及燃气泄漏事故应急预案"
    detection, cordon = view.gap
    assert (detection.needed, detection.sent, detection.found, detection.missing) == (3, 1, 1, 1)
    assert (cordon.agency_text, cordon.needed, cordon.missing) == ("公安", 5, 5)
    assert view.facilities == (("学校", 2, "一中 400 m"), ("医院", 1, "人民医院 900 m"))
    assert view.cameras == (("cam-1", "路口摄像机", 150),) and view.population == 12345
    assert view.similar == ("11-26 09:40 II级 重大 · 储罐泄漏",)
