"""Unit states that stay true, through the command service on the in-memory store: the
simulated day's bug (units left en route after their incident closed), stale orders, the
unit's own word, a leader's release with a reason, and the invariant check with its repair."""

from __future__ import annotations

import asyncio

import pytest

from incidents.command import SYSTEM_ACTOR
from incidents.errors import Invalid
from incidents.lifecycle import Action
from incidents.model import AckState, Availability, Level
from incidents.unitstate import Check
from tests.support.memory_command import LEADER, Desk, desk

STALE_S = 1800.0


def positions(d: Desk) -> None:
    """Every unit reports its position now (units keep sending fixes all day)."""
    for unit, metres in (("e1", 500), ("e2", 900), ("e3", 3000), ("e4", 6000)):
        d.fix(unit, "fire_engine", metres)
    d.fix("p1", "patrol_car", 400, agency="police")


@pytest.fixture(name="d")
def desk_fixture() -> Desk:
    """A fresh service with four fire engines and a patrol car north of the fire."""
    found = desk()
    positions(found)
    return found


async def proposed(d: Desk, incident_id: str) -> list[str]:
    """Every unit the plan proposes for the incident."""
    plan = await d.service.propose(incident_id)
    return sorted(n.unit.unit for p in plan.proposals for n in p.units)


async def en_route_on_a_fire(d: Desk) -> str:
    """A fire with its plan dispatched and every unit acked en route; returns its id."""
    incident = await d.fire(Level.IV)
    for order in await d.service.dispatch(incident.id, LEADER):
        d.store.record_ack(order.id, order.unit, AckState.EN_ROUTE, d.clock.now(), "fire")
    return incident.id


async def test_units_of_a_closed_incident_are_proposed_again(d: Desk) -> None:
    fire = await en_route_on_a_fire(d)
    second = await d.fire(Level.IV)
    assert await proposed(d, second.id) == ["e4"]
    d.clock.advance(600)
    positions(d)
    await d.service.act(fire, Action.CONTAIN, LEADER)
    await d.service.act(fire, Action.CLOSE, LEADER)
    assert await proposed(d, second.id) == ["e1", "e2", "e3", "p1"]
    assert (await d.service.check()).findings == []


async def test_a_stale_unit_is_not_proposed_until_it_reports_again(d: Desk) -> None:
    fire = await en_route_on_a_fire(d)
    d.clock.advance(STALE_S + 1)
    positions(d)  # a fix says where a unit is, not what it is doing
    assert len(await d.service.flag_stale()) == 4
    stale = [e for e in await d.service.timeline(fire) if e["action"] == "order_stale"]
    assert {(e["actor"], e["data"]["minutes"]) for e in stale} == {(SYSTEM_ACTOR, 30)}
    await d.service.act(fire, Action.CONTAIN, LEADER)
    await d.service.act(fire, Action.CLOSE, LEADER)
    second = await d.fire(Level.IV)
    assert await proposed(d, second.id) == ["e4"]  # unknown: closing does not vouch for them
    d.store.record_status("e1", Availability.AVAILABLE, d.clock.now())
    assert await proposed(d, second.id) == ["e1", "e4"]
    await d.service.release_unit("e2", LEADER, "电话确认已归队")
    assert await proposed(d, second.id) == ["e1", "e2", "e4"]
    assert (await d.service.check()).findings == []


async def test_leaders_must_give_a_reason_and_a_status_of_their_own(d: Desk) -> None:
    await en_route_on_a_fire(d)
    with pytest.raises(Invalid, match="give a reason"):
        await d.service.release_unit("e1", LEADER, "   ")
    with pytest.raises(Invalid, match="can only be set to available, off_duty, out_of_service"):
        await d.service.set_unit_status("e1", Availability.EN_ROUTE, LEADER, "x")
    assert await d.service.unit_events("e1") == []
    (cancelled,) = await d.service.set_unit_status("e1", Availability.OUT_OF_SERVICE, LEADER,
                                                   "爆胎")
    (event,) = await d.service.unit_events("e1")
    assert (event["actor"], event["client"], event["action"]) == ("leader-li", "10.0.0.9",
                                                                  "set_status")
    assert event["data"]["orders"] == [cancelled] and event["data"]["to"] == "out_of_service"


async def test_check_reports_and_repair_releases_with_a_journal(d: Desk) -> None:
    d.store.record_status("e3", Availability.ON_SCENE, d.clock.now())
    (finding,) = (await d.service.check()).findings
    assert (finding.check, finding.subject) == (Check.UNIT_BUSY_WITHOUT_ORDER, "e3")
    assert d.service.last_check() is not None
    fixed = await d.service.repair(LEADER)
    assert fixed == [finding]
    (event,) = await d.service.unit_events("e3")
    assert event["data"]["reason"].startswith("sitroom check --repair: unit_busy_without_order")
    last = d.service.last_check()
    assert last is not None and last.findings == []


async def test_the_watch_flags_stale_orders_and_checks(d: Desk) -> None:
    await en_route_on_a_fire(d)
    d.clock.advance(STALE_S + 1)
    watch = asyncio.create_task(d.service.watch_states(3600))
    try:
        for _ in range(100):  # the twins never await: one pass takes a few loop turns
            if d.service.last_check() is not None:
                break
            await asyncio.sleep(0)
    finally:
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watch
    assert d.service.last_check() is not None
    assert await d.service.flag_stale() == []  # the watch flagged them already
