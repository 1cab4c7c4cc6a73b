"""The picture at a past time, on a real PostgreSQL with a hand-made history: units moved at
known times, an incident verified and then escalated, another closed, alarms and reports."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from incidents.command import Actor, NewIncident
from incidents.history import state_at
from incidents.lifecycle import Action, Resolution
from incidents.model import (
    Alarm,
    AlarmState,
    Envelope,
    Inbound,
    IncidentStatus,
    Kind,
    Level,
    Position,
    Report,
)
from incidents.store import Store
from incidents.store.replay import ReplayStore
from tests.support.command import command_service

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
LEADER = Actor(name="leader-li", client="10.0.0.8")


def envelope(agency: str, kind: Kind, source: str) -> Envelope:
    return Envelope(topic=f"t/{agency}/{kind}/{source}", agency=agency, kind=kind,
                    source=source, received_at=datetime.now(UTC))


def fix(unit: str, minutes: int, lat: float, agency: str = "fire") -> Inbound:
    return Inbound(envelope=envelope(agency, Kind.POSITION, unit), message=Position(
        id=str(uuid.uuid4()), ts=T0 + timedelta(minutes=minutes), unit=unit, lat=lat,
        lon=114.5, unit_type="fire_engine"))


async def moment() -> datetime:
    """A time strictly between two journal appends (the journal stamps with the clock)."""
    await asyncio.sleep(0.02)
    at = datetime.now(UTC)
    await asyncio.sleep(0.02)
    return at


async def test_units_where_they_were_within_the_online_window(store: Store) -> None:
    await store.write_batch([fix("e1", 0, 37.00), fix("e1", 10, 37.01), fix("e1", 20, 37.02),
                             fix("e2", 5, 37.10, "police"), fix("e3", -60, 36.9)], [])
    replay = ReplayStore(store.pool)

    at_12 = {u.unit: u for u in await replay.units_at(T0 + timedelta(minutes=12), 300)}
    assert set(at_12) == {"e1"}  # e2's fix is 7 min old: offline; e3's an hour old
    assert (at_12["e1"].lat, at_12["e1"].ts) == (37.01, T0 + timedelta(minutes=10))
    assert at_12["e1"].unit_type == "fire_engine" and at_12["e1"].agency == "fire"

    at_7 = {u.unit: u.lat for u in await replay.units_at(T0 + timedelta(minutes=7), 600)}
    assert at_7 == {"e1": 37.00, "e2": 37.10}
    now = {u.unit: u.lat for u in await replay.units_at(T0 + timedelta(minutes=30), 1800)}
    assert now == {"e1": 37.02, "e2": 37.10}
    assert await replay.units_at(T0 - timedelta(hours=3), 300) == []


async def test_incidents_as_they_stood_from_their_journal(store: Store) -> None:
    service = command_service(store, None)
    before = datetime.now(UTC)
    leak = await service.create(NewIncident(type="chemical_leak", title="储罐泄漏", lat=37.07,
                                            lon=114.52, level=Level.IV), LEADER)
    t_reported = await moment()
    await service.act(leak.id, Action.VERIFY, LEADER)
    t_verified = await moment()
    await service.act(leak.id, Action.ESCALATE, LEADER, level=Level.II, reason="周边有学校")
    t_escalated = await moment()
    false = await service.create(NewIncident(type="fire", title="误报火警", lat=37.1,
                                             lon=114.6), LEADER)
    await service.act(false.id, Action.CLOSE, LEADER, resolution=Resolution.FALSE_ALARM)
    t_closed = await moment()
    replay = ReplayStore(store.pool)
    window = timedelta(hours=24)

    assert await replay.incidents_at(before - timedelta(seconds=1), window) == []

    (then,) = await replay.incidents_at(t_reported, window)
    assert then.reconstructed
    assert (then.incident.id, then.incident.status, then.incident.level) == (
        leak.id, IncidentStatus.REPORTED, Level.IV)

    (then,) = await replay.incidents_at(t_verified, window)
    assert (then.incident.status, then.incident.level) == (IncidentStatus.VERIFIED, Level.IV)
    assert then.incident.updated_at <= t_verified

    by_id = {f.incident.id: f.incident for f in await replay.incidents_at(t_escalated, window)}
    assert set(by_id) == {leak.id}
    assert (by_id[leak.id].status, by_id[leak.id].level) == (IncidentStatus.VERIFIED, Level.II)

    by_id = {f.incident.id: f.incident for f in await replay.incidents_at(t_closed, window)}
    assert by_id[false.id].status is IncidentStatus.CLOSED  # closed, but reported in the window
    assert by_id[leak.id].level is Level.II
    # A day later the closed one has left the list; the open one is still there.
    later = {f.incident.id for f in await replay.incidents_at(t_closed + timedelta(days=1),
                                                             timedelta(hours=1))}
    assert later == {leak.id}


async def test_alarms_and_linked_reports(store: Store) -> None:
    alarms = [Inbound(envelope=envelope(agency, Kind.ALARM, device), message=Alarm(
        id=str(uuid.uuid4()), ts=T0 + timedelta(minutes=minute), device=device, type="smoke",
        state=state, lat=37.0, lon=114.5)) for agency, device, minute, state in [
            ("fire", "smoke-1", 0, AlarmState.ACTIVE), ("fire", "smoke-1", 30, AlarmState.CLEARED),
            ("safety", "gas-9", 20, AlarmState.ACTIVE)]]
    report = Report(id="r-1", ts=T0, type="fire", lat=37.06, lon=114.49, text="三楼冒烟")
    await store.write_batch([*alarms, Inbound(envelope=envelope("fire", Kind.REPORT, "desk-119"),
                                              message=report)], [])
    replay = ReplayStore(store.pool)

    seen = await replay.alarms(T0 + timedelta(minutes=25), T0 - timedelta(minutes=1))
    assert [(a.alarm.device, a.alarm.state) for a in seen] == [
        ("gas-9", AlarmState.ACTIVE), ("smoke-1", AlarmState.ACTIVE)]
    fire_only = await replay.alarms(T0 + timedelta(hours=1), T0 - timedelta(minutes=1), "fire")
    assert [a.alarm.state for a in fire_only] == [AlarmState.CLEARED, AlarmState.ACTIVE]
    assert {a.agency for a in fire_only} == {"fire"}

    async with store.pool.acquire() as conn:
        incident_id = await conn.fetchval(
            "SELECT incident_id::text FROM reports WHERE id = 'r-1'")
    if incident_id is None:  # reports open incidents only when rules run: link it by hand
        created = await command_service(store, None).create(NewIncident(
            type="fire", title="居民楼起火", lat=37.06, lon=114.49), LEADER)
        incident_id = created.id
        async with store.pool.acquire() as conn:
            await conn.execute("UPDATE reports SET incident_id = $1::uuid WHERE id = 'r-1'",
                               incident_id)
    (linked,) = await replay.reports_of(incident_id)
    assert (linked.report.text, linked.agency, linked.source) == ("三楼冒烟", "fire", "desk-119")
    assert await replay.reports_of(incident_id, until=T0 - timedelta(days=1)) == []
    assert await replay.reports_of("not-an-id") == []


def test_state_at_without_a_journal_keeps_the_row() -> None:
    from incidents.model import Incident
    row = Incident(id="x", type="fire", level=Level.II, status=IncidentStatus.RESPONDING,
                   title="t", lat=0, lon=0, reported_at=T0, updated_at=T0 + timedelta(hours=1),
                   agency="fire")
    kept = state_at(row, None, None, None)
    assert kept.incident is row and not kept.reconstructed
    then = state_at(row, "verified", None, T0 + timedelta(minutes=5))
    assert (then.incident.status, then.incident.level) == (IncidentStatus.VERIFIED, Level.II)
    assert then.incident.updated_at == T0 + timedelta(minutes=5)
