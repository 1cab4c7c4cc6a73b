"""The feed ports' contract, run against PostgreSQL/Redis and against the in-memory twins.

Every test takes `feeds` (a FeedStore and FeedView) or `live` twins, parametrised over both
backends, and asserts only what the port promises: what ingest writes is what is read back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from incidents.clock import ManualClock
from incidents.live import LiveState
from incidents.memory.feeds import MemoryFeedStore, MemoryLive
from incidents.model import (
    DeadLetter,
    Envelope,
    Inbound,
    Incident,
    IncidentStatus,
    Kind,
    Level,
    Observation,
    UnitState,
)
from incidents.outcomes import Change, OpenIncident, Outcome, Rule, UpdateIncident
from incidents.ports.feeds import FeedStore, FeedView, LiveWriter
from incidents.store import Store
from tests.support.messages import inbound, position, report

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


class Feeds(FeedStore, FeedView, Protocol):
    """Both sides of the feed store, as the tests use them."""


_store_is_a_feed_store: Callable[[Store], Feeds] = lambda s: s  # noqa: E731 - checked by mypy
_memory_is_a_feed_store: Callable[[MemoryFeedStore], Feeds] = lambda s: s  # noqa: E731
_live_is_a_live_writer: Callable[[LiveState], LiveWriter] = lambda s: s  # noqa: E731
_memory_is_a_live_writer: Callable[[MemoryLive], LiveWriter] = lambda s: s  # noqa: E731


@pytest.fixture(params=["postgres", "memory"])
def feeds(request: pytest.FixtureRequest) -> Feeds:
    """The feed store under test: a real PostgreSQL database, or the in-memory twin."""
    if request.param == "memory":
        return MemoryFeedStore(ManualClock(T0))
    store: Store = request.getfixturevalue("store")
    return store


@dataclass
class LiveTwin:
    """A live writer and how to read back what it holds."""

    writer: LiveWriter
    units: Callable[[], Awaitable[list[UnitState]]]
    incidents: Callable[[], Awaitable[list[Incident]]]


@pytest.fixture(params=["redis", "memory"])
def live_twin(request: pytest.FixtureRequest) -> Iterator[LiveTwin]:
    """The live writer under test, with readers of its units and incidents."""
    if request.param == "memory":
        memory = MemoryLive()

        async def memory_units() -> list[UnitState]:
            return sorted(memory.units.values(), key=lambda u: u.unit)

        async def memory_incidents() -> list[Incident]:
            return list(memory.incidents.values())

        yield LiveTwin(memory, memory_units, memory_incidents)
        return
    live: LiveState = request.getfixturevalue("live")

    async def redis_units() -> list[UnitState]:
        return sorted(await live.units(), key=lambda u: u.unit)

    yield LiveTwin(live, redis_units, live.incidents)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _observation(message_id: str) -> Inbound:
    envelope = Envelope(topic="sitroom/v1/water/observation/gauge-1", agency="water",
                        kind=Kind.OBSERVATION, source="gauge-1", received_at=_at(0))
    return Inbound(envelope=envelope, message=Observation(
        id=message_id, ts=_at(0), sensor="gauge-1", quantity="water_level", value=3.2, unit="m",
        lat=37.0, lon=114.5))


def _letter(reason: str, message_id: str | None, topic: str = "sitroom/v1/police/position/x"
            ) -> DeadLetter:
    return DeadLetter(topic=topic, payload=b'{"id": 1}', received_at=_at(0), reason=reason,
                      detail=f"because {reason}", message_id=message_id)


class TestFeedStoreContract:
    """What any FeedStore does with the batches ingest writes."""

    async def test_positions_are_stored_and_units_move_to_their_latest_fix(
            self, feeds: Feeds) -> None:
        batch = [inbound(position("car-1", ts=_at(1), lat=37.1, message_id="p1")),
                 inbound(position("car-1", ts=_at(2), lat=37.2, message_id="p2")),
                 inbound(position("car-2", ts=_at(1), lat=37.3, message_id="p3"))]
        result = await feeds.write_batch(batch, [])
        assert result.positions_new == 3 and result.dead_letters == 0
        assert sorted((u.unit, u.lat) for u in result.units) == [("car-1", 37.2),
                                                                  ("car-2", 37.3)]
        assert sorted(await feeds.position_ids()) == ["p1", "p2", "p3"]
        assert [(u.unit, u.lat, u.ts) for u in await feeds.units()] == [
            ("car-1", 37.2, _at(2)), ("car-2", 37.3, _at(1))]

    async def test_the_same_ids_written_twice_are_stored_once(self, feeds: Feeds) -> None:
        fire = report(message_id="r-1")
        batch = [inbound(position("car-1", ts=_at(1), message_id="p1")), inbound(fire),
                 _observation("o-1")]
        first = await feeds.write_batch(batch, [])
        again = await feeds.write_batch(batch, [])
        assert (first.positions_new, again.positions_new) == (1, 0)
        assert len(first.incidents) == 1 and again.incidents == []
        assert await feeds.position_ids() == ["p1"]
        assert [i.source_report for i in await feeds.open_incidents()] == ["r-1"]

    async def test_a_new_report_without_rules_opens_an_incident_of_its_level(
            self, feeds: Feeds) -> None:
        result = await feeds.write_batch([inbound(report("flood", Level.II, "河水漫堤",
                                                         message_id="r-2"))], [])
        (opened,) = result.incidents
        assert (opened.type, opened.level, opened.status, opened.source_report) == (
            "flood", Level.II, IncidentStatus.REPORTED, "r-2")
        assert opened.title == "河水漫堤"
        assert [i.id for i in await feeds.open_incidents()] == [opened.id]

    async def test_dead_letters_are_kept_with_their_reason_newest_first(
            self, feeds: Feeds) -> None:
        result = await feeds.write_batch([], [_letter("bad_json", None),
                                              _letter("too_large", "m-2"),
                                              _letter("bad_json", "m-3")])
        assert result.dead_letters == 3
        everything = await feeds.dead_letters()
        assert [(d.letter.reason, d.letter.message_id) for d in everything] == [
            ("bad_json", "m-3"), ("too_large", "m-2"), ("bad_json", None)]
        assert everything[0].row_id > everything[1].row_id > everything[2].row_id
        assert everything[1].letter.detail == "because too_large"
        assert everything[1].letter.payload == b'{"id": 1}'
        assert everything[0].replayed_at is None
        assert [d.letter.message_id for d in await feeds.dead_letters(reason="bad_json")] == [
            "m-3", None]
        assert len(await feeds.dead_letters(limit=1)) == 1

    async def test_plain_feeds_with_deferred_units_leave_units_to_update_units(
            self, feeds: Feeds) -> None:
        batch = [inbound(position("car-1", ts=_at(1), lat=37.1, message_id="p1")),
                 inbound(position("car-1", ts=_at(3), lat=37.3, message_id="p2")),
                 _observation("o-1")]
        result = await feeds.write_batch(batch, [], defer_units=True)
        assert result.positions_new == 2
        assert await feeds.units() == []
        assert [(f.unit, f.id) for f in result.unit_fixes] == [("car-1", "p2")]
        await feeds.update_units(result.unit_fixes)
        older = await feeds.write_batch(
            [inbound(position("car-1", ts=_at(2), lat=37.2, message_id="p3"))], [],
            defer_units=True)
        await feeds.update_units(older.unit_fixes)  # an older fix never moves a unit back
        assert [(u.unit, u.lat) for u in await feeds.units()] == [("car-1", 37.3)]

    async def test_catch_up_moves_units_to_fixes_nobody_wrote(self, feeds: Feeds) -> None:
        await feeds.write_batch([inbound(position("car-1", ts=_at(1), message_id="p1")),
                                 inbound(position("car-2", ts=_at(1), message_id="p2"))],
                                [], defer_units=True)
        assert await feeds.catch_up_units() == 2
        assert [u.unit for u in await feeds.units()] == ["car-1", "car-2"]
        assert await feeds.catch_up_units() == 0

    async def test_rules_open_and_raise_incidents_that_resume_after_a_restart(
            self, feeds: Feeds) -> None:
        def opens(items: Sequence[Inbound]) -> list[Outcome]:
            return [OpenIncident(key=f"k:{i.message.id}", type="fire", level=Level.III,
                                 title_zh="起火", title_en="fire", lat=37.0, lon=114.5,
                                 rule=Rule.REPORT, note_zh="", note_en="",
                                 evidence=(i.message.id,)) for i in items]

        def raises(items: Sequence[Inbound]) -> list[Outcome]:
            return [UpdateIncident(key="k:r-1", level=Level.II, change=Change.ESCALATED,
                                   note_zh="", note_en="", evidence=(i.message.id,))
                    for i in items]

        first = await feeds.write_batch([inbound(report(message_id="r-1"))], [], opens)
        (opened,) = first.incidents
        assert opened.level is Level.III and opened.source_report == "r-1"
        (resumed,) = await feeds.open_rule_incidents()
        assert (resumed.key, resumed.level) == ("k:r-1", Level.III)
        second = await feeds.write_batch([inbound(report(message_id="r-2"))], [], raises)
        assert [(i.id, i.level) for i in second.incidents] == [(opened.id, Level.II)]
        assert [(i.key, i.level) for i in await feeds.open_rule_incidents()] == [
            ("k:r-1", Level.II)]
        assert await feeds.closed_rule_keys(T0 - timedelta(days=1)) == []

    async def test_open_reports_writes_everything_or_nothing(self, feeds: Feeds) -> None:
        batch = [inbound(report(message_id="r-9"))]
        result = await feeds.open_reports(batch, lambda items: [])
        if result is None:
            assert await feeds.open_incidents() == []
            assert len((await feeds.write_batch(batch, [])).incidents) == 1
        else:
            assert [i.source_report for i in await feeds.open_incidents()] == [
                i.source_report for i in result.incidents]


class TestLiveWriterContract:
    """What any LiveWriter keeps of what ingest writes to it."""

    async def test_newer_fixes_replace_older_ones_and_incidents_are_kept(
            self, live_twin: LiveTwin) -> None:
        writer = live_twin.writer
        newer = UnitState(unit="car-1", agency="police", lat=37.2, lon=114.5, ts=_at(2))
        older = UnitState(unit="car-1", agency="police", lat=37.1, lon=114.5, ts=_at(1))
        fire = Incident(id="6f1c7d4e-0000-4000-8000-000000000001", type="fire",
                        level=Level.III, status=IncidentStatus.REPORTED, title="起火",
                        lat=37.0, lon=114.5, reported_at=_at(0), updated_at=_at(0),
                        agency="police")
        await writer.apply([newer], [fire])
        await writer.apply([older], [])
        assert await live_twin.units() == [newer]
        assert await live_twin.incidents() == [fire]

    async def test_a_rebuild_replaces_everything_and_sets_the_epoch(
            self, live_twin: LiveTwin) -> None:
        writer = live_twin.writer
        gone = UnitState(unit="car-9", agency="police", lat=37.0, lon=114.5, ts=_at(1))
        kept = UnitState(unit="car-1", agency="police", lat=37.0, lon=114.5, ts=_at(1))
        await writer.apply([gone], [])
        assert not await writer.has_epoch()
        await writer.rebuild([kept], [])
        assert await writer.has_epoch()
        assert await live_twin.units() == [kept]
        assert await live_twin.incidents() == []
