"""Ingest's pipeline on the in-memory source, store and live state, with a hand-moved clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from config.settings import IngestSettings, Settings
from incidents.clock import ManualClock
from incidents.feeds import BatchResult, Evaluate
from incidents.memory.feeds import MemoryFeedStore, MemoryLive
from incidents.model import DeadLetter, Inbound, Position
from ingest.memory_source import MemorySource
from ingest.rules import RuleSet
from ingest.service import IngestService
from tests.support.waiting import eventually

START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
ROOT = "sitroom/v1"


def position_json(message_id: str, unit: str = "car-7", seconds: float = 0.0) -> bytes:
    """A valid position, timed `seconds` after START."""
    ts = (START + timedelta(seconds=seconds)).isoformat()
    return json.dumps({"id": message_id, "ts": ts, "unit": unit, "lat": 37.07,
                       "lon": 114.5}).encode()


def settings(**ingest: float | int) -> Settings:
    """Settings for a service whose source is given (no broker URL needed)."""
    return Settings(topic_root=ROOT,
                    ingest=IngestSettings.model_validate({"client_id": "unit", **ingest}))


@dataclass
class Ingest:
    """A running IngestService and the in-memory ends it is wired to."""

    clock: ManualClock
    source: MemorySource
    store: MemoryFeedStore
    live: MemoryLive
    service: IngestService

    def acked_ids(self) -> list[str]:
        """Ids of the acknowledged messages, in acknowledgement order."""
        return [json.loads(r.payload)["id"] for r in self.source.acked]

    def receipts(self) -> list[dict[str, object]]:
        """The receipts published, decoded."""
        return [json.loads(p) for t, p, _ in self.source.published
                if t.startswith(f"{ROOT}/receipts/")]


@contextlib.asynccontextmanager
async def running(store: MemoryFeedStore | None = None, clock: ManualClock | None = None,
                  **ingest: float | int) -> AsyncIterator[Ingest]:
    """An IngestService on in-memory ends, consuming in the background."""
    clock = clock or ManualClock(START)
    store = store or MemoryFeedStore(clock)
    source = MemorySource(clock)
    live = MemoryLive()
    ingest.setdefault("batch_delay_ms", 0)
    ingest.setdefault("heartbeat_s", 0.05)
    ingest.setdefault("live_interval_ms", 0)
    service = IngestService(settings(**ingest), store, live, rules=RuleSet(), source=source,
                            clock=clock)
    task = asyncio.create_task(service.run(), name="test-ingest")
    harness = Ingest(clock, source, store, live, service)
    try:
        await eventually(lambda: source.connected or task.done(), bool)
        yield harness
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class GatedStore(MemoryFeedStore):
    """The in-memory store, where writes of batches holding a gated id wait for the gate."""

    def __init__(self, clock: ManualClock, gated: str) -> None:
        super().__init__(clock)
        self.gated = gated
        self.gate = asyncio.Event()
        self.written: list[list[str]] = []
        """Ids of each batch written, in the order the writes finished."""

    async def write_batch(self, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
                          evaluate: Evaluate | None = None,
                          watched: Callable[[Position], bool] | None = None,
                          defer_units: bool = False) -> BatchResult:
        if any(i.message.id == self.gated for i in inbound):
            await self.gate.wait()
        result = await super().write_batch(inbound, dead, evaluate, watched, defer_units)
        self.written.append([i.message.id for i in inbound])
        return result


async def test_messages_are_stored_acked_and_receipted() -> None:
    async with running() as ingest:
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p2", seconds=1))
        await eventually(ingest.acked_ids, lambda ids: len(ids) == 2)
        assert ingest.acked_ids() == ["p1", "p2"]
        assert sorted(await ingest.store.position_ids()) == ["p1", "p2"]
        (receipt,) = ingest.receipts()
        assert receipt == {"ids": ["p1", "p2"], "rejected": {},
                           "committed_at": START.timestamp()}
        live = await eventually(lambda: ingest.live.units, lambda u: "car-7" in u)
        assert live["car-7"].ts == START + timedelta(seconds=1)
        assert ingest.service.stats.committed == 2


async def test_acks_go_out_in_arrival_order_when_commits_finish_out_of_order() -> None:
    clock = ManualClock(START)
    store = GatedStore(clock, gated="p1")
    async with running(store, clock, batch_max=2, commits_in_flight=4) as ingest:
        try:
            for n in range(1, 7):
                ingest.source.deliver(f"{ROOT}/police/position/car-{n}",
                                      position_json(f"p{n}", unit=f"car-{n}"))
            # The second and third batches commit while the first waits at the gate…
            await eventually(lambda: store.written, lambda w: len(w) == 2)
            assert store.written == [["p3", "p4"], ["p5", "p6"]]
            await asyncio.sleep(0.05)
            assert ingest.source.acked == []  # …and none is acknowledged before it
        finally:
            store.gate.set()  # even after a failed assertion: stopping commits that batch
        await eventually(ingest.acked_ids, lambda ids: len(ids) == 6)
    assert ingest.acked_ids() == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert [r["ids"] for r in ingest.receipts()] == [["p1"], ["p2"], ["p3"], ["p4"], ["p5"],
                                                     ["p6"]]


async def test_a_bad_message_is_dead_lettered_with_its_reason_and_acked() -> None:
    bad = json.dumps({"id": "bad-1", "ts": "yesterday", "unit": "car-8", "lat": 1,
                      "lon": 2}).encode()
    async with running() as ingest:
        ingest.source.deliver(f"{ROOT}/police/position/car-8", bad)
        ingest.source.deliver(f"{ROOT}/police/position/car-8", b"{not json")
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
        await eventually(lambda: len(ingest.source.acked), lambda n: n == 3)
        letters = await ingest.store.dead_letters()
        assert sorted(d.letter.reason for d in letters) == ["invalid", "malformed_json"]
        assert await ingest.store.position_ids() == ["p1"]
        by_source = {r["ids"] and "car-7" or "car-8": r for r in ingest.receipts()}
        assert by_source["car-8"]["rejected"] == {"bad-1": "invalid"}
        assert by_source["car-7"]["ids"] == ["p1"]
        assert ingest.service.stats.dead_letters == 2


async def test_a_redelivered_message_is_stored_once_and_acked_each_time() -> None:
    async with running() as ingest:
        for _ in range(2):
            ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
            await eventually(lambda: ingest.service.stats.batches, lambda n: n >= 1)
        await eventually(lambda: len(ingest.source.acked), lambda n: n == 2)
        assert await ingest.store.position_ids() == ["p1"]
        assert ingest.service.stats.duplicates == 1
        assert ingest.source.stats.received == 2


async def test_a_store_outage_holds_messages_unacknowledged_and_retries() -> None:
    clock = ManualClock(START)
    store = MemoryFeedStore(clock)
    async with running(store, clock) as ingest:
        await eventually(lambda: ingest.live.rebuilds, lambda n: n >= 1)
        store.available = False
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
        await eventually(lambda: ingest.service.stats.store_retries, lambda n: n >= 2)
        assert ingest.source.acked == [] and ingest.receipts() == []
        store.available = True
        await eventually(ingest.acked_ids, lambda ids: ids == ["p1"])
        assert await store.position_ids() == ["p1"]


async def test_stopping_commits_what_the_inbox_still_holds() -> None:
    clock = ManualClock(START)
    store = MemoryFeedStore(clock)
    # A long gathering delay: the messages are still in the inbox when ingest stops.
    async with running(store, clock, batch_delay_ms=1000) as ingest:
        for n in range(3):
            ingest.source.deliver(f"{ROOT}/police/position/car-7",
                                  position_json(f"p{n}", seconds=n))
        await asyncio.sleep(0.05)
        assert await store.position_ids() == []
    assert sorted(await store.position_ids()) == ["p0", "p1", "p2"]
    # Disconnected by then: the broker redelivers them (ids dedupe), nothing is acked.
    assert ingest.source.acked == []
    assert [u.unit for u in await store.units()] == ["car-7"]


async def test_the_heartbeat_reports_the_counters_and_rebuilds_a_lost_live_state() -> None:
    async with running() as ingest:
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
        await eventually(lambda: ingest.live.statuses.get("ingest:unit", {}),
                         lambda s: s.get("committed") == 1)
        status = ingest.live.statuses["ingest:unit"]
        assert (status["received"], status["backlog"], status["broker_connected"]) == (
            1, 0, True)
        assert status["at"] == START.timestamp()
        rebuilds = ingest.live.rebuilds
        ingest.live.epoch = False  # Redis restarted empty
        await eventually(lambda: ingest.live.rebuilds, lambda n: n > rebuilds)
        assert list(ingest.live.units) == ["car-7"]


async def test_the_heartbeat_says_when_each_agency_was_last_heard() -> None:
    async with running() as ingest:
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
        ingest.clock.advance(30)
        ingest.source.deliver(f"{ROOT}/fire/position/xt-119-01",
                              position_json("f1", unit="xt-119-01"))
        # A message that does not decode is no sign of a working feed.
        ingest.source.deliver(f"{ROOT}/water/position/pump-1", b"{not json")
        await eventually(lambda: ingest.live.statuses.get("ingest:unit", {}),
                         lambda s: s.get("committed") == 2 and s.get("dead_letters") == 1)
        status = ingest.live.statuses["ingest:unit"]
        assert status["feeds"] == {"police": START.timestamp(),
                                   "fire": START.timestamp() + 30}
        ingest.clock.advance(5)
        ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p2", seconds=35))
        await eventually(lambda: ingest.live.statuses["ingest:unit"]["feeds"]["police"],
                         lambda at: at == START.timestamp() + 35)


async def test_a_bug_in_a_commit_stops_ingest_loudly() -> None:
    class Broken(MemoryFeedStore):
        async def write_batch(self, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
                              evaluate: Evaluate | None = None,
                              watched: Callable[[Position], bool] | None = None,
                              defer_units: bool = False) -> BatchResult:
            raise ZeroDivisionError("a bug")

    clock = ManualClock(START)
    source = MemorySource(clock)
    service = IngestService(settings(batch_delay_ms=0), Broken(clock), MemoryLive(),
                            rules=RuleSet(), source=source, clock=clock)
    task = asyncio.create_task(service.run())
    await eventually(lambda: source.connected, bool)
    source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
    with pytest.raises(ExceptionGroup) as raised:
        await asyncio.wait_for(task, 5.0)
    assert raised.group_contains(ZeroDivisionError)
    assert source.acked == []


async def test_stopping_while_the_store_is_away_gives_up_and_leaves_messages_unacked(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(START)
    store = MemoryFeedStore(clock)
    source = MemorySource(clock)
    service = IngestService(settings(batch_delay_ms=0, commits_in_flight=1), store,
                            MemoryLive(), rules=RuleSet(), source=source, clock=clock)
    task = asyncio.create_task(service.run())
    await eventually(lambda: source.connected, bool)
    store.available = False
    source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
    await eventually(lambda: service.stats.store_retries, lambda n: n >= 1)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # the final commit keeps trying, within its deadline…
    clock.advance(6.0)  # …which passes (five seconds on the clock)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5.0)
    assert source.acked == [] and await _stored(store) == []
    assert "stopping with 1 uncommitted messages" in caplog.text


async def _stored(store: MemoryFeedStore) -> list[str]:
    store.available = True
    return await store.position_ids()


async def test_a_lost_connection_s_message_is_not_acked_and_stored_once_redelivered() -> None:
    clock = ManualClock(START)
    store = GatedStore(clock, gated="p1")
    async with running(store, clock) as ingest:
        try:
            first = ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
            await asyncio.sleep(0.05)
            ingest.source.reconnect()  # the connection drops while p1 is being committed
        finally:
            store.gate.set()
        await eventually(lambda: ingest.service.stats.batches, lambda n: n == 1)
        assert ingest.source.acked == []  # its packet id may name another message now
        again = ingest.source.deliver(f"{ROOT}/police/position/car-7", position_json("p1"))
        await eventually(lambda: ingest.source.acked, lambda a: a == [again])
    assert first.mid != again.mid
    assert await store.position_ids() == ["p1"]
    assert ingest.service.stats.duplicates == 1
