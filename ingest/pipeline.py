"""The commit pipeline: batches from the source are decoded, committed (several at once, in
two lanes), then acknowledged in arrival order, receipted, counted and handed to the live
writer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from incidents.clock import Clock
from incidents.errors import StoreUnavailable
from incidents.feeds import BatchResult
from incidents.model import DeadLetter, Inbound, Position
from incidents.ports.feeds import FeedStore
from ingest.codecs import CrsPolicy, decode
from ingest.live_writer import LiveUpdater
from ingest.receipts import receipts_for
from ingest.rules_lane import RulesLane, write_plain
from ingest.source import MessageSource, Received
from ingest.stats import IngestStats
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)


class Decoder:
    """Turns received bytes into domain messages or dead letters (ingest.codecs), noting in
    `heard` when each agency's newest message that decoded arrived."""

    def __init__(self, scheme: TopicScheme, max_bytes: int, crs: CrsPolicy | None,
                 heard: dict[str, float] | None = None) -> None:
        self._scheme = scheme
        self._max_bytes = max_bytes
        self._crs = crs
        self.heard: dict[str, float] = {} if heard is None else heard
        """Agency → newest receive time (Unix seconds), for the heartbeat."""

    def __call__(self, batch: Sequence[Received]) -> tuple[list[Inbound], list[DeadLetter]]:
        """A batch's messages and dead letters, in arrival order; our own output skipped."""
        inbound: list[Inbound] = []
        dead: list[DeadLetter] = []
        scheme, max_bytes, crs, heard = self._scheme, self._max_bytes, self._crs, self.heard
        for raw in batch:
            if scheme.is_own_output(raw.topic):
                continue  # our own receipts and orders echo back through the wildcard
            received_at = datetime.fromtimestamp(raw.received_at, UTC)
            decoded = decode(scheme, raw.topic, raw.payload, received_at, max_bytes, crs)
            if isinstance(decoded, Inbound):
                inbound.append(decoded)
                # One dict store a message (decision 58: this loop is the hot path); batches
                # arrive in order, so the last store of an agency is its newest.
                heard[decoded.envelope.agency] = raw.received_at
            else:
                dead.append(decoded)
        return inbound, dead


def merged(results: Sequence[BatchResult]) -> BatchResult:
    """One batch's result from its parts' (positions alone, and the rest)."""
    if len(results) == 1:
        return results[0]
    return BatchResult(
        positions_new=sum(r.positions_new for r in results),
        units=[u for r in results for u in r.units],
        incidents=[i for r in results for i in r.incidents],
        dead_letters=sum(r.dead_letters for r in results),
        orders_moved=sum(r.orders_moved for r in results),
        unit_fixes=[f for r in results for f in r.unit_fixes],
    )


class CommitPipeline:
    """Commits what the source delivers and acknowledges it, in arrival order."""

    def __init__(self, source: MessageSource, store: FeedStore, rules: RulesLane,
                 live: LiveUpdater, decoder: Decoder, scheme: TopicScheme, stats: IngestStats,
                 clock: Clock, *, batch_max: int, gather_s: float, commits_in_flight: int
                 ) -> None:
        self._source = source
        self._store = store
        self._rules = rules
        self._live = live
        self._decode = decoder
        self._scheme = scheme
        self._stats = stats
        self._clock = clock
        self._batch_max = batch_max
        self._gather_s = gather_s
        self._depth = commits_in_flight
        self._committing: dict[asyncio.Task[None], list[Received]] = {}
        """Batches being committed concurrently, oldest first."""
        self._last_commit: asyncio.Task[None] | None = None
        self._held: list[list[Received]] = []
        """Batches taken from the source and not committed (put back on stopping), oldest
        first: the final drain commits them before what the source still has."""
        self._commit_failure: BaseException | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._stopping = False
        self._receipt_encoder = msgspec.json.Encoder()

    @property
    def uncommitted(self) -> int:
        """Messages received and not committed (held back, or still in the source)."""
        return sum(len(b) for b in self._held) + self._source.backlog

    async def run(self) -> None:
        """Commit batches as they come until cancelled (or a commit fails with a bug)."""
        flushing = asyncio.current_task()
        assert flushing is not None, "run() runs in a task"
        self._flushing = flushing
        try:
            await self._flush_forever()
        except asyncio.CancelledError:
            # Cancelled by `_commit_done` alone (not also by whoever runs us): a bug, not a
            # store outage (that is retried inside), so stop ingest, loudly.
            if self._commit_failure is not None and flushing.uncancel() == 0:
                raise self._commit_failure from None
            raise
        finally:
            self._stopping = True
            self._flushing = None

    async def _flush_forever(self) -> None:
        """With `commits_in_flight` > 1, up to that many batches are committed at once, each
        in two parts: its plain positions (the bulk of every feed) on one connection, and the
        rest (what the rules see, incidents, dead letters) in the rules' lane, one batch
        after the other. PostgreSQL then works on one batch while ingest decodes the next,
        and positions never wait for the rules. Acknowledgements and receipts go out in the
        order the messages arrived, each batch once both its parts are committed."""
        concurrent = self._depth > 1
        async with contextlib.aclosing(
                self._source.batches(self._batch_max, self._gather_s)) as batches:
            while True:
                await self._make_room(self._depth - 1)
                try:
                    batch = await anext(batches)
                except StopAsyncIteration:
                    return  # the source closed
                inbound, dead = self._decode(batch)
                if not concurrent:
                    await self._commit(batch, inbound, dead)
                    continue
                task = asyncio.create_task(
                    self._commit_concurrently(batch, inbound, dead, self._last_commit),
                    name="ingest-commit")
                self._committing[task] = batch
                self._last_commit = task
                task.add_done_callback(self._commit_done)

    async def drain(self, give_up_after_s: float) -> None:
        """On stopping, once the source is closed: recall the concurrent commits, then commit
        one batch after the other what was received; raise StoreUnavailable if the store does
        not answer within `give_up_after_s` (the broker redelivers what was not acked)."""
        await self._recall_commits()
        deadline = self._clock.monotonic() + give_up_after_s
        while self._held:
            batch = self._held.pop(0)
            await self._commit(batch, *self._decode(batch), deadline=deadline)
        async with contextlib.aclosing(self._source.batches(self._batch_max, 0.0)) as rest:
            while self._source.backlog:  # what is there now: never wait for more
                batch = await anext(rest)
                await self._commit(batch, *self._decode(batch), deadline=deadline)

    async def _make_room(self, allowed: int) -> None:
        """Wait until at most `allowed` concurrent commits are still running."""
        while len(self._committing) > allowed:
            oldest = next(iter(self._committing))
            await asyncio.wait([oldest])
            if self._commit_failure is not None:
                raise self._commit_failure

    def _commit_done(self, task: asyncio.Task[None]) -> None:
        self._committing.pop(task, None)
        if self._last_commit is task:
            self._last_commit = None
        if not task.cancelled() and task.exception() is not None and not self._stopping:
            self._commit_failure = task.exception()
            if self._flushing is not None:
                self._flushing.cancel()  # `run` raises the failure instead

    async def _recall_commits(self) -> None:
        """Cancel concurrent commits and hold their unacknowledged batches for the drain."""
        self._stopping = True
        running = list(self._committing.items())
        if not running:
            return
        for task, _ in running:
            task.cancel()
        await asyncio.wait([t for t, _ in running])
        for task, batch in reversed(running):
            if task.cancelled() or task.exception() is not None:
                self._held.insert(0, batch)  # committed or not: ids dedupe

    async def _commit(self, batch: list[Received], inbound: list[Inbound],
                      dead: list[DeadLetter], deadline: float | None = None) -> None:
        """Commit a batch in one transaction, then acknowledge it (the strictly serial way)."""
        try:
            result = await self._rules.write_until_committed(inbound, dead, deadline)
        except (asyncio.CancelledError, StoreUnavailable):
            # Not committed, so not acknowledged: hold the batch for the final drain.
            self._held.insert(0, batch)
            raise
        await self._committed(batch, inbound, dead, result, self._clock.time())

    async def _commit_concurrently(self, batch: list[Received], inbound: list[Inbound],
                                   dead: list[DeadLetter],
                                   previous: asyncio.Task[None] | None) -> None:
        """Commit a batch's plain positions beside its other messages; acknowledge the batch
        after `previous` has acknowledged its own."""
        plain, rest = self._rules.plain_and_rest(inbound)
        parts = []
        if plain:
            parts.append(write_plain(self._store, plain, self._stats, self._rules.outage))
        if rest or dead:
            parts.append(self._rules.write(rest, dead))
        results = await asyncio.gather(*parts)
        committed_at = self._clock.time()
        if previous is not None:
            await previous  # MQTT: PUBACKs in the order the PUBLISH packets came
        await self._committed(batch, inbound, dead, merged(results), committed_at)

    async def _committed(self, batch: list[Received], inbound: list[Inbound],
                         dead: list[DeadLetter], result: BatchResult,
                         committed_at: float) -> None:
        """Acknowledge, send receipts, count and queue the live update of a committed batch
        (`committed_at`: when its commit returned)."""
        source = self._source
        await source.ack(batch)
        encode = self._receipt_encoder.encode
        for sender, receipt in receipts_for(self._scheme, inbound, dead, committed_at).items():
            await source.publish(self._scheme.receipts(sender), encode(receipt), qos=1)
        self._count(batch, inbound, dead, result, committed_at)
        self._live.queue(result)

    def _count(self, batch: list[Received], inbound: list[Inbound], dead: list[DeadLetter],
               result: BatchResult, committed_at: float) -> None:
        stats = self._stats
        positions = sum(1 for i in inbound if isinstance(i.message, Position))
        stats.committed += len(inbound)
        stats.duplicates += positions - result.positions_new
        stats.dead_letters += len(dead)
        stats.batches += 1
        stats.last_commit_at = committed_at
        if batch:
            stats.lag_ms.append((committed_at - batch[0].received_at) * 1000)
        for letter in dead:
            log.warning("dead letter %s on %s: %s", letter.reason, letter.topic, letter.detail)
