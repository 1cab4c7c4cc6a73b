"""The Redis live state against a real server."""

from __future__ import annotations

import pytest

from incidents.live import LiveState, LiveUnavailable
from incidents.model import Incident, IncidentStatus, Level, UnitState
from tests.support.messages import minutes_ago

pytestmark = pytest.mark.integration


def unit(name: str, lat: float, minutes: float) -> UnitState:
    return UnitState(unit=name, agency="police", lat=lat, lon=114.5, ts=minutes_ago(minutes))


def incident(ident: str, status: IncidentStatus = IncidentStatus.REPORTED) -> Incident:
    now = minutes_ago(0)
    return Incident(id=ident, type="fire", level=Level.III, status=status, title="火情",
                    lat=37.0, lon=114.5, reported_at=now, updated_at=now, agency="fire")


async def test_newer_fixes_replace_older_ones_but_not_the_reverse(live: LiveState) -> None:
    assert await live.apply([unit("a", 37.1, 1)], []) == 1
    assert await live.apply([unit("a", 36.0, 5)], []) == 0  # older: ignored
    (state,) = await live.units()
    assert state.lat == pytest.approx(37.1)


async def test_many_units_in_one_update_round_trip_with_their_text(live: LiveState) -> None:
    # The units travel to the script as one JSON argument: quotes, CJK and many of them.
    units = [UnitState(unit=f"xt-{i:04d}", agency="fire", lat=37.0 + i * 1e-4, lon=114.5,
                       ts=minutes_ago(1), unit_type=f'消防车 "{i}"')
             for i in range(1500)]
    assert await live.apply(units, []) == 1500
    stored = {u.unit: u for u in await live.units()}
    assert stored["xt-0042"] == units[42]
    assert len(stored) == 1500


async def test_every_change_bumps_the_version_and_is_announced(live: LiveState) -> None:
    pubsub = live._redis.pubsub()  # noqa: SLF001 - observing the channel as a dashboard would
    await pubsub.subscribe(live.channel)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    before = await live.version()
    await live.apply([unit("a", 37.1, 1)], [incident("i-1")])
    message = await pubsub.get_message(timeout=2, ignore_subscribe_messages=True)
    await pubsub.aclose()
    assert await live.version() == before + 1
    assert message is not None and int(message["data"]) == before + 1


async def test_closed_incidents_leave_the_live_state(live: LiveState) -> None:
    await live.apply([], [incident("i-1"), incident("i-2")])
    await live.apply([], [incident("i-1", IncidentStatus.CLOSED)])
    assert [i.id for i in await live.incidents()] == ["i-2"]


async def test_rebuild_replaces_everything_and_sets_the_epoch(live: LiveState) -> None:
    await live.apply([unit("stale", 37.0, 1)], [incident("old")])
    assert not await live.has_epoch()
    await live.rebuild([unit("a", 37.1, 1), unit("b", 37.2, 1)], [incident("i-9")])
    assert [u.unit for u in await live.units()] == ["a", "b"]
    assert [i.id for i in await live.incidents()] == ["i-9"]
    assert await live.has_epoch()


async def test_status_heartbeats_round_trip(live: LiveState) -> None:
    await live.set_status("ingest:w1", {"backlog": 3, "broker_connected": True})
    assert await live.status("ingest:w1") == {"backlog": 3, "broker_connected": True}
    assert await live.status("ingest:nobody") is None


async def test_an_unreachable_redis_raises_live_unavailable() -> None:
    dead = LiveState.from_url("redis://127.0.0.1:1/0", "x:")
    try:
        with pytest.raises(LiveUnavailable):
            await dead.ping()
        with pytest.raises(LiveUnavailable):
            await dead.apply([unit("a", 37.0, 1)], [])
    finally:
        await dead.close()
