"""Unit and order states that stay true (issue #14), on both command stores: closing cancels
open orders and releases their units, stale orders make their units unknown, a unit's own
report wins, a leader releases or sets a unit's status with a reason, and the invariants hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents import lifecycle
from incidents.dispatch import OrderState
from incidents.errors import NotFound
from incidents.lifecycle import Action, Resolution
from incidents.memory.command import MemoryCommandStore
from incidents.model import AckState, Availability, IncidentStatus, Level
from incidents.orders import Order
from incidents.unitstate import Check
from maps.analysis.geodesy import haversine_m
from tests.integration.test_command_store_contract import (
    ATTACK,
    advance,
    created,
    verified,
)
from tests.support.command_backends import Backend, MemoryBackend, PostgresBackend

pytestmark = pytest.mark.integration

STALE = timedelta(minutes=30)


@pytest.fixture(params=["postgres", "memory"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each command store in turn (PostgreSQL on the test's own database)."""
    if request.param == "memory":
        return MemoryBackend(MemoryCommandStore(haversine_m))
    return PostgresBackend(request.getfixturevalue("store"))


async def own_available(backend: Backend) -> dict[str, bool]:
    """Each unit's availability by its own status (orders aside)."""
    changes = await backend.store.unit_changes(datetime.now(UTC) - timedelta(hours=1), None)
    return {p.unit: p.available for p in changes.points}


async def dispatched(backend: Backend, respond: bool = True) -> tuple[str, Order, Order]:
    """A verified incident with e1 and e2 sent to it (and responding when `respond`)."""
    found = await verified(backend)
    one, two = await backend.store.dispatch(
        found.id, ("fire", "3"), Level.III, [(ATTACK, "e1"), (ATTACK, "e2")], "l", None,
        datetime.now(UTC), advance(Action.RESPOND) if respond else None)
    return found.id, one, two


async def test_closing_cancels_open_orders_and_releases_their_units(backend: Backend) -> None:
    store = backend.store
    incident_id, one, two = await dispatched(backend)
    now = datetime.now(UTC)
    await backend.ack(one.id, "e1", AckState.EN_ROUTE, now + timedelta(seconds=1))
    await backend.ack(two.id, "e2", AckState.ACKNOWLEDGED, now + timedelta(seconds=1))
    await backend.status("e2", Availability.OUT_OF_SERVICE, now + timedelta(seconds=2))
    assert (await own_available(backend))["e1"] is False
    await store.transition(incident_id, advance(Action.CONTAIN), "l", None, {})
    await store.transition(incident_id, lambda s: lifecycle.close(s, Resolution.RESOLVED),
                           "leader", "c", {})
    assert {o.state for o in await store.orders(incident_id)} == {OrderState.CANCELLED}
    assert await store.busy_units() == set()
    available = await own_available(backend)
    assert (available["e1"], available["e2"]) == (True, False)  # e2 said out of service
    *_, closed, cancelled = await store.timeline(incident_id)
    assert (closed["action"], cancelled["action"], cancelled["actor"]) == (
        "close", "orders_cancelled", "leader")
    assert cancelled["data"]["reason"] == "incident_closed:resolved"
    assert sorted((o["unit"], o["from_state"]) for o in cancelled["data"]["orders"]) == [
        ("e1", "en_route"), ("e2", "acknowledged")]
    assert await store.check() == []


async def test_a_false_alarm_cancels_its_orders_and_a_close_without_orders_lists_none(
        backend: Backend) -> None:
    store = backend.store
    incident_id, one, _ = await dispatched(backend, respond=False)  # still verified
    await store.transition(incident_id, lambda s: lifecycle.close(s, Resolution.FALSE_ALARM),
                           "l", None, {})
    assert (await store.order(one.id)).state is OrderState.CANCELLED
    last = (await store.timeline(incident_id))[-1]
    assert last["data"]["reason"] == "incident_closed:false_alarm"
    quiet = await created(backend)
    await store.transition(quiet.id, lambda s: lifecycle.close(s, Resolution.FALSE_ALARM),
                           "l", None, {})
    assert [e["action"] for e in await store.timeline(quiet.id)] == ["reported", "close"]


async def test_merged_orders_follow_the_target_and_end_when_it_closes(backend: Backend) -> None:
    store = backend.store
    target = await created(backend, level=Level.II)
    target = await store.transition(target.id, advance(Action.VERIFY), "l", None, {})
    absorbed_id, one, _ = await dispatched(backend)
    await store.merge(target.id, absorbed_id, lambda t, a: lifecycle.merge(t, a, same=False),
                      "l", None)
    assert await store.orders(absorbed_id) == []  # none left open on the merged incident
    assert await store.busy_units() == {"e1", "e2"}  # they work the same incident
    assert await store.check() == []
    await store.transition(target.id, advance(Action.CONTAIN), "l", None, {})
    await store.transition(target.id, lambda s: lifecycle.close(s, Resolution.RESOLVED),
                           "l", None, {})
    assert (await store.order(one.id)).state is OrderState.CANCELLED
    assert await store.busy_units() == set()


async def test_a_stale_order_makes_its_unit_unknown_until_it_reports(backend: Backend) -> None:
    store = backend.store
    incident_id, one, two = await dispatched(backend)
    now = datetime.now(UTC)
    await backend.ack(one.id, "e1", AckState.EN_ROUTE, now)
    await backend.ack(two.id, "e2", AckState.ON_SCENE, now)  # on scene: never stale
    assert await store.flag_stale(now + STALE / 2, STALE, "sitroom") == []
    later = now + STALE + timedelta(seconds=1)
    assert await store.flag_stale(later, STALE, "sitroom") == [one.id]
    assert await store.flag_stale(later, STALE, "sitroom") == []  # flagged once
    assert (await store.order(one.id)).stale_at == later
    assert (await store.order(two.id)).stale_at is None
    stale = (await store.timeline(incident_id))[-1]
    assert (stale["action"], stale["data"]["unit"], stale["data"]["minutes"]) == (
        "order_stale", "e1", 30)
    assert (await own_available(backend))["e1"] is False
    assert await store.check() == []  # unknown while the order is open is not a failure
    await backend.ack(one.id, "e1", AckState.ON_SCENE, later + timedelta(seconds=1))
    assert (await store.order(one.id)).stale_at is None  # progress clears the flag


async def test_a_unit_that_reported_since_its_order_moved_stays_as_it_said(
        backend: Backend) -> None:
    store = backend.store
    _, one, _ = await dispatched(backend)
    now = datetime.now(UTC)
    await backend.ack(one.id, "e1", AckState.ACKNOWLEDGED, now)
    await backend.status("e1", Availability.EN_ROUTE, now + timedelta(seconds=5))
    await store.flag_stale(now + 2 * STALE, STALE, "sitroom")
    assert (await store.order(one.id)).stale_at is not None
    events = await store.release_unit("e1", None, "leader", None, "回队", now + 2 * STALE)
    assert events == [one.id]
    (released,) = await store.unit_events("e1")
    assert released["data"]["from"] == "en_route"  # not unknown: it had spoken since


async def test_a_units_own_report_wins_over_its_orders(backend: Backend) -> None:
    store = backend.store
    incident_id, one, two = await dispatched(backend)
    now = datetime.now(UTC)
    await backend.ack(one.id, "e1", AckState.EN_ROUTE, now + timedelta(seconds=1))
    await backend.status("e1", Availability.AVAILABLE, now)  # older than its ack: ignored
    assert (await store.order(one.id)).state is OrderState.EN_ROUTE
    await backend.status("e1", Availability.AVAILABLE, now + timedelta(seconds=2))
    assert (await store.order(one.id)).state is OrderState.CANCELLED
    assert (await own_available(backend))["e1"] is True
    assert await store.busy_units() == {"e2"}
    last = (await store.timeline(incident_id))[-1]
    assert (last["action"], last["actor"], last["data"]["reason"]) == (
        "orders_cancelled", "fire/e1", "unit_reported_available")
    await backend.status("e2", Availability.OUT_OF_SERVICE, now + timedelta(seconds=2))
    assert (await store.order(two.id)).state is OrderState.ISSUED  # the leader decides
    points = {p.unit: p.available for p in await store.unit_points(now - STALE)}
    assert (points["e1"], points["e2"]) == (True, False)


async def test_a_leader_releases_or_sets_a_unit_with_a_reason(backend: Backend) -> None:
    store = backend.store
    incident_id, one, two = await dispatched(backend)
    now = datetime.now(UTC)
    await backend.ack(one.id, "e1", AckState.EN_ROUTE, now)
    assert await store.release_unit("e1", None, "wang", "10.0.0.9", "车辆故障返回", now) == [
        one.id]
    assert (await store.order(one.id)).state is OrderState.CANCELLED
    assert (await own_available(backend))["e1"] is True
    (event,) = await store.unit_events("e1")
    assert (event["actor"], event["action"], event["client"]) == ("wang", "release",
                                                                  "10.0.0.9")
    assert event["data"] == {"reason": "车辆故障返回", "from": "en_route", "to": "available",
                             "orders": [one.id]}
    last = (await store.timeline(incident_id))[-1]
    assert (last["action"], last["data"]["reason"], last["data"]["by"]) == (
        "orders_cancelled", "车辆故障返回", "release")
    assert await store.release_unit("e2", Availability.OUT_OF_SERVICE, "wang", None, "检修",
                                    now) == [two.id]
    assert (await own_available(backend))["e2"] is False
    assert await store.release_unit("e2", None, "wang", None, "任务结束", now) == []
    assert (await own_available(backend))["e2"] is False  # release keeps out of service
    assert [e["data"]["to"] for e in await store.unit_events("e2")] == [
        "out_of_service", "out_of_service"]
    with pytest.raises(NotFound):
        await store.release_unit("ghost", None, "wang", None, "x", now)
    assert await store.check() == []


async def test_check_names_a_unit_busy_without_an_order(backend: Backend) -> None:
    store = backend.store
    await verified(backend)
    await backend.status("e3", Availability.EN_ROUTE, datetime.now(UTC))
    (finding,) = await store.check()
    assert (finding.check, finding.subject) == (Check.UNIT_BUSY_WITHOUT_ORDER, "e3")
    assert finding.repair.startswith("sitroom unit release e3 --reason ")
    await store.release_unit("e3", None, "sitroom check --repair", None, "repair",
                             datetime.now(UTC))
    assert await store.check() == []


async def test_closing_an_incident_keeps_units_of_other_incidents(backend: Backend) -> None:
    store = backend.store
    first_id, _, _ = await dispatched(backend)
    other = await created(backend)
    other = await store.transition(other.id, advance(Action.VERIFY), "l", None, {})
    (kept,) = await store.dispatch(other.id, None, Level.III, [(ATTACK, "e3")], "l", None,
                                   datetime.now(UTC), None)
    await store.transition(first_id, advance(Action.CONTAIN), "l", None, {})
    await store.transition(first_id, lambda s: lifecycle.close(s, Resolution.RESOLVED), "l",
                           None, {})
    assert (await store.order(kept.id)).state is OrderState.ISSUED
    assert await store.busy_units() == {"e3"}
    assert (await store.incident(first_id)).status is IncidentStatus.CLOSED
