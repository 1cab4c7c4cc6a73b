"""The command service's dispatch on the in-memory store: proposals from the plan, busy and
offline units, dispatch, reassignment, and the unit index kept fresh through an outage."""

from __future__ import annotations

import asyncio

import pytest

from incidents.dispatch import OrderState
from incidents.errors import Conflict, Invalid, NotFound
from incidents.lifecycle import IllegalTransition
from incidents.model import AckState, Availability, IncidentStatus, Level
from tests.support.memory_command import LEADER, ONLINE_S, Desk, desk


@pytest.fixture(name="d")
def desk_fixture() -> Desk:
    """A fresh service with four fire engines and a patrol car north of the fire."""
    found = desk()
    for unit, metres in (("e1", 500), ("e2", 900), ("e3", 3000), ("e4", 6000)):
        found.fix(unit, "fire_engine", metres)
    found.fix("p1", "patrol_car", 400, agency="police")
    return found


async def attack_units(d: Desk, incident_id: str) -> list[str]:
    """The units proposed for the plan's fire attack, nearest first."""
    plan = await d.service.propose(incident_id)
    (attack,) = [p for p in plan.proposals if p.requirement.task_id == "fire_attack"]
    return [near.unit.unit for near in attack.units]


async def test_the_plan_proposes_the_nearest_available_units(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    plan = await d.service.propose(incident.id)
    assert plan.plan is not None and plan.plan.id == "building_fire"
    by_task = {p.requirement.task_id: p for p in plan.proposals}
    attack = by_task["fire_attack"]
    assert [n.unit.unit for n in attack.units] == ["e1", "e2", "e3"]  # three at level IV
    assert attack.missing == 0
    assert [n.unit.unit for n in by_task["cordon"].units] == ["p1"]
    assert by_task["casualty_care"].units == [] and by_task["casualty_care"].missing == 1


async def test_units_out_of_service_are_not_proposed(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    d.store.record_status("e2", Availability.OUT_OF_SERVICE, d.clock.now())
    assert await attack_units(d, incident.id) == ["e1", "e3", "e4"]


async def test_dispatching_the_proposal_issues_orders_and_responds(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    orders = await d.service.dispatch(incident.id, LEADER)
    assert sorted(o.unit for o in orders) == ["e1", "e2", "e3", "p1"]
    assert {o.issued_at for o in orders} == {d.clock.now()}
    assert (await d.service.incident(incident.id)).status is IncidentStatus.RESPONDING
    assert [i.status for i in await d.live.incidents()] == [IncidentStatus.RESPONDING]
    assert await d.service.orders(incident.id) == sorted(orders, key=lambda o: o.id)
    assert await attack_units(d, incident.id) == ["e4"]  # the others are busy


async def test_busy_units_are_not_proposed_until_their_order_ends(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    (order,) = await d.service.dispatch(incident.id, LEADER,
                                        assignments=[("fire_attack", "e1")])
    assert await attack_units(d, incident.id) == ["e2", "e3", "e4"]
    d.store.record_ack(order.id, "e1", AckState.DONE, d.clock.now())
    assert await attack_units(d, incident.id) == ["e1", "e2", "e3"]


async def test_dispatch_refusals(d: Desk) -> None:
    reported = await d.fire(verify=False)
    with pytest.raises(IllegalTransition, match="must be verified"):
        await d.service.dispatch(reported.id, LEADER, assignments=[("fire_attack", "e1")])
    incident = await d.fire(Level.IV)
    with pytest.raises(Invalid, match="no task nope"):
        await d.service.dispatch(incident.id, LEADER, assignments=[("nope", "e1")])
    with pytest.raises(NotFound, match="unit ghost"):
        await d.service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "ghost")])
    with pytest.raises(NotFound, match="plan"):
        await d.service.dispatch(incident.id, LEADER, plan_id="no_such_plan")
    with pytest.raises(Conflict, match="no available unit"):
        await d.service.dispatch(incident.id, LEADER, assignments=[])
    assert await d.service.orders(incident.id) == []


async def test_a_plan_that_does_not_apply_to_the_level_is_invalid(d: Desk) -> None:
    incident = await d.fire(Level.II)
    with pytest.raises(Invalid, match="does not apply at level II"):
        await d.service.propose(incident.id, plan_id="medical")


async def test_reassign_goes_to_the_next_nearest_or_the_named_unit(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    (order,) = await d.service.dispatch(incident.id, LEADER,
                                        assignments=[("fire_attack", "e1")])
    d.clock.advance(30)
    nearest = await d.service.reassign(order.id, LEADER)
    assert (nearest.unit, nearest.replaces, nearest.issued_at) == ("e2", order.id,
                                                                   d.clock.now())
    named = await d.service.reassign(nearest.id, LEADER, unit="e4")
    states = {o.unit: o.state for o in await d.service.orders(incident.id)}
    assert states == {"e1": OrderState.CANCELLED, "e2": OrderState.CANCELLED,
                      "e4": OrderState.ISSUED}
    with pytest.raises(Conflict, match="cancelled"):
        await d.service.reassign(order.id, LEADER, unit="e3")
    with pytest.raises(NotFound):
        await d.service.reassign("no-such-order", LEADER)
    assert named.task_id == "fire_attack"


async def test_reassign_without_a_free_unit_is_a_conflict(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    orders = await d.service.dispatch(incident.id, LEADER, assignments=[
        ("fire_attack", "e1"), ("fire_attack", "e2"), ("fire_attack", "e3"),
        ("fire_attack", "e4")])
    with pytest.raises(Conflict, match="no available fire unit"):
        await d.service.reassign(orders[0].id, LEADER)


async def test_units_go_offline_when_they_stop_reporting(d: Desk) -> None:
    incident = await d.fire(Level.IV)
    assert await attack_units(d, incident.id) == ["e1", "e2", "e3"]
    d.clock.advance(ONLINE_S - 60)
    d.fix("e3", "fire_engine", 3000)  # e3 reports again, the others stay silent
    d.clock.advance(61)
    assert await attack_units(d, incident.id) == ["e3"]  # e1, e2 and e4 are offline
    d.fix("e1", "fire_engine", 500)
    assert await attack_units(d, incident.id) == ["e1", "e3"]
    d.clock.advance(ONLINE_S + 1)
    assert await attack_units(d, incident.id) == []


async def test_the_unit_index_refresher_rides_out_a_store_outage(
    caplog: pytest.LogCaptureFixture
) -> None:
    # Proposals here never re-read positions themselves: only the refresher moves units.
    d = desk(units_max_age_s=3600)
    d.fix("e1", "fire_engine", 500)
    incident = await d.fire(Level.IV)
    assert await attack_units(d, incident.id) == ["e1"]
    refresher = asyncio.create_task(d.service.keep_units_fresh(every_s=0.001))
    try:
        with d.store.outage():
            await asyncio.sleep(0.01)
        assert "unit index: the in-memory store is in a simulated outage" in caplog.text
        d.fix("e5", "fire_engine", 100)
        for _ in range(500):
            proposed = await attack_units(d, incident.id)
            if len(proposed) > 1:
                break
            await asyncio.sleep(0.001)
        assert proposed == ["e5", "e1"]
        assert not refresher.done()
    finally:
        refresher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await refresher


async def test_a_busy_unit_is_sent_on_purpose_only_with_a_reason(d: Desk) -> None:
    first = await d.fire(Level.IV)
    second = await d.fire(Level.IV)
    (held,) = await d.service.dispatch(first.id, LEADER, assignments=[("fire_attack", "e1")])
    with pytest.raises(Conflict, match="already hold an open order"):
        await d.service.dispatch(second.id, LEADER, assignments=[("fire_attack", "e1")])
    for reason in (None, "", "   "):
        with pytest.raises(Invalid, match="needs a reason"):
            await d.service.dispatch(second.id, LEADER, assignments=[("fire_attack", "e1")],
                                     busy_ok={"e1"}, reason=reason)
    (sent,) = await d.service.dispatch(second.id, LEADER, assignments=[("fire_attack", "e1")],
                                       busy_ok={"e1"}, reason="  离得最近的泡沫车 ")
    assert sent.unit == "e1" and (await d.service.orders(first.id)) == [held]
    journaled = (await d.service.timeline(second.id))[-1]
    assert journaled["data"]["busy_override"] == ["e1"]
    assert journaled["data"]["reason"] == "离得最近的泡沫车"
    assert journaled["actor"] == LEADER.name
    # The same for a reassignment to a busy unit.
    with pytest.raises(Invalid, match="needs a reason"):
        await d.service.reassign(held.id, LEADER, "e1", busy_ok={"e1"})
    (e2,) = await d.service.dispatch(first.id, LEADER, assignments=[("search_rescue", "e2")])
    with pytest.raises(Conflict):
        await d.service.reassign(held.id, LEADER, "e2")
    moved = await d.service.reassign(held.id, LEADER, "e2", busy_ok={"e2"}, reason="e1 抛锚")
    assert moved.unit == "e2" and e2.state is OrderState.ISSUED
    assert (await d.service.timeline(first.id))[-1]["data"]["busy_override"] == ["e2"]


async def test_coverage_counts_needed_sent_confirmed_and_short(d: Desk) -> None:
    incident = await d.fire(Level.IV)  # building_fire at IV: 3 + 1 + 1 + 1 + 1 + 1 = 8
    empty = await d.service.coverage(incident.id)
    assert (empty.plan, empty.needed, empty.sent, empty.short) == ("building_fire", 8, 0, 8)
    one, two = await d.service.dispatch(incident.id, LEADER, assignments=[
        ("fire_attack", "e1"), ("fire_attack", "e2")])
    d.store.record_ack(one.id, "e1", AckState.ACKNOWLEDGED, d.clock.now())
    d.store.record_ack(two.id, "e2", AckState.REJECTED, d.clock.now())
    cover = await d.service.coverage(incident.id)
    attack = next(t for t in cover.tasks if t.task_id == "fire_attack")
    assert (attack.needed, attack.sent, attack.confirmed, attack.short) == (3, 1, 1, 2)
    assert (cover.needed, cover.sent, cover.confirmed, cover.short) == (8, 1, 1, 7)
