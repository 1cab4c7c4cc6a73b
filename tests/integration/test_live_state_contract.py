"""The live state's contract: one suite, run against Redis and the in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from incidents.live import LiveState as RedisLiveState
from incidents.live_wire import LiveDelta, LiveSnapshot, incident_row, unit_row
from incidents.memory.live import MemoryLiveState
from incidents.model import Incident, IncidentStatus, Level, UnitState
from tests.support.messages import minutes_ago

pytestmark = pytest.mark.integration


LiveState = RedisLiveState | MemoryLiveState
"""Both implementations of the port (heartbeats are written by ingest, outside the port)."""


@pytest.fixture(params=["redis", "memory"])
def state(request: pytest.FixtureRequest) -> LiveState:
    """Each live state in turn (Redis under the test's own prefix)."""
    if request.param == "memory":
        return MemoryLiveState()
    found: RedisLiveState = request.getfixturevalue("live")
    return found


def unit(name: str, lat: float, minutes: float) -> UnitState:
    """A fix of `name`, `minutes` ago."""
    return UnitState(unit=name, agency="police", lat=lat, lon=114.5, ts=minutes_ago(minutes),
                     unit_type="patrol_car")


def incident(ident: str, status: IncidentStatus = IncidentStatus.REPORTED,
             minutes: float = 0) -> Incident:
    """An incident reported `minutes` ago."""
    at = minutes_ago(minutes)
    return Incident(id=ident, type="fire", level=Level.III, status=status, title="火情",
                    lat=37.0, lon=114.5, reported_at=at, updated_at=at, agency="fire")


async def next_change(changes: AsyncGenerator[LiveSnapshot | LiveDelta | None, None]
                      ) -> LiveSnapshot | LiveDelta:
    """The next snapshot or delta, skipping idle ticks."""
    async with asyncio.timeout(5):
        while (change := await anext(changes)) is None:
            pass
    return change


async def test_units_keep_their_newest_fix(state: LiveState) -> None:
    await state.ping()
    assert await state.version() == 0
    assert await state.apply([unit("b", 37.2, 1), unit("a", 37.1, 1)], []) == 2
    assert await state.apply([unit("a", 36.0, 5)], []) == 0  # older: ignored
    assert await state.apply([], []) == 0
    assert [(u.unit, u.lat) for u in await state.units()] == [("a", 37.1), ("b", 37.2)]
    assert await state.version() == 1  # only a change counts


async def test_incidents_open_change_and_leave_when_closed(state: LiveState) -> None:
    old, new = incident("i-1", minutes=10), incident("i-2")
    assert await state.apply([], [old, new]) == 2
    assert [i.id for i in await state.incidents()] == ["i-2", "i-1"]  # most recent first
    verified = incident("i-1", IncidentStatus.VERIFIED, minutes=10)
    await state.apply([], [verified])
    assert await state.incidents() == [new, verified]
    assert await state.apply([], [incident("i-2", IncidentStatus.CLOSED)]) == 1
    assert await state.incidents() == [verified]
    assert await state.version() == 3


async def test_the_snapshot_holds_compact_rows_at_a_version(state: LiveState) -> None:
    fix, open_ = unit("a", 37.1, 1), incident("i-1")
    await state.apply([fix], [open_])
    snapshot = await state.snapshot()
    assert snapshot == LiveSnapshot(version=1, units=[unit_row(fix)],
                                    incidents=[incident_row(open_)])


async def test_a_watcher_gets_a_snapshot_then_each_change(state: LiveState) -> None:
    await state.apply([unit("a", 37.1, 2)], [])
    changes = state.watch(idle_s=0.05)
    try:
        first = await next_change(changes)
        assert isinstance(first, LiveSnapshot) and first.version == 1
        fix, opened = unit("a", 37.3, 1), incident("i-1")
        await state.apply([fix], [opened])
        await state.apply([], [incident("i-1", IncidentStatus.CLOSED)])
        second, third = await next_change(changes), await next_change(changes)
        assert second == LiveDelta(v=2, u=[unit_row(fix)], i=[incident_row(opened)])
        assert third == LiveDelta(v=3, r=["i-1"])
    finally:
        await changes.aclose()


async def test_heartbeats_are_read_by_name_and_prefix(state: LiveState) -> None:
    assert await state.status("ingest-1") is None
    await state.set_status("ingest-1", {"lag": 1})
    await state.set_status("ingest-2", {"lag": 2})
    await state.set_status("video", {"rooms": 0})
    assert await state.status("ingest-1") == {"lag": 1}
    assert await state.statuses("ingest-") == {"ingest-1": {"lag": 1}, "ingest-2": {"lag": 2}}
