"""The rules' lane: what the rules see is committed one transaction at a time, in arrival
order, with the rules run inside it; and the plain lane beside it for everything else."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence

from incidents.cap import CapAlertMessage
from incidents.clock import Clock
from incidents.errors import StoreUnavailable
from incidents.feeds import BatchResult
from incidents.model import Alarm, DeadLetter, Inbound, Observation, Position
from incidents.outage import Outage, backoff_s
from incidents.ports.feeds import FeedStore
from ingest.rules import Outcome, RuleEngine
from ingest.stats import IngestStats

log = logging.getLogger(__name__)

_PLAIN_KINDS = (Position, Observation, Alarm)
"""Message kinds that skip the rules' transaction when no rule can act on them."""

_Queued = tuple[list[Inbound], list[DeadLetter], "asyncio.Future[BatchResult]"]


def _evaluate(engine: RuleEngine, items: Sequence[Inbound]) -> list[Outcome]:
    """The rules' outcomes for newly stored messages, in order (CAP alerts act on their own)."""
    return [o for i in items if not isinstance(i.message, CapAlertMessage)
            for o in engine.evaluate(i.envelope, i.message)]


def commits_outage(clock: Clock) -> Outage:
    """The outage every retrying commit reports to: logged once per outage, not per batch."""
    return Outage("ingest commits", log, "messages are held unacknowledged and retried",
                  base_s=0.2, cap_s=5.0, clock=clock.monotonic)


async def write_plain(store: FeedStore, plain: list[Inbound], stats: IngestStats,
                      outage: Outage) -> BatchResult:
    """Commit plain feed messages in one statement, retrying while the store is away; units
    are left to the live writer (`unit_fixes`)."""
    attempt = 0
    while True:
        try:
            result = await store.write_batch(plain, [], defer_units=True)
        except StoreUnavailable as exc:
            stats.store_retries += 1
            # The shared outage logs; this batch's own attempts set its pace.
            outage.failed(exc)
            await asyncio.sleep(backoff_s(attempt, 0.2, 5.0))
            attempt += 1
            continue
        outage.recovered()
        return result


class RulesLane:
    """Commits messages the rules see, first come first served, and keeps the rules' state."""

    def __init__(self, store: FeedStore, engine: RuleEngine, stats: IngestStats,
                 clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._engine = engine
        self._stats = stats
        self._lock = asyncio.Lock()
        self._queue: list[_Queued] = []
        self.outage = commits_outage(clock)
        """Shared by every batch retrying a commit, plain or with the rules."""
        self._closed_keys: list[str] = []
        self._closures_seen = clock.now()

    async def resume(self) -> None:
        """Load the open incidents the rules manage (after a restart)."""
        keyed = await self._store.open_rule_incidents()
        self._engine.restore(keyed)
        log.info("rules: %d open incidents resumed", len(keyed))

    async def learn_closures(self) -> None:
        """Rule incidents closed by leaders since the last look; forgotten before the next
        batch, so a breach that returns later opens a new incident."""
        for key, closed_at in await self._store.closed_rule_keys(self._closures_seen):
            self._closed_keys.append(key)
            self._closures_seen = max(self._closures_seen, closed_at)

    def plain_and_rest(self, inbound: list[Inbound]) -> tuple[list[Inbound], list[Inbound]]:
        """Split a batch into plain feed messages (positions, observations, alarms no rule
        can act on) and the rest (what the rules see, reports, acks, statuses, CAP)."""
        concerns = self._engine.concerns
        plain: list[Inbound] = []
        rest: list[Inbound] = []
        for item in inbound:
            message = item.message
            if isinstance(message, _PLAIN_KINDS) and not concerns(message):
                plain.append(item)
            else:
                rest.append(item)
        return plain, rest

    async def write(self, inbound: list[Inbound], dead: list[DeadLetter]) -> BatchResult:
        """Commit a batch's messages for the rules, in arrival order, one transaction at a
        time; batches that queued meanwhile go together (the rules part costs ten round
        trips whatever its size, so at busy times one transaction serves several batches)."""
        mine: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        self._queue.append((inbound, dead, mine))
        async with self._lock:  # first come, first served
            if mine.done():
                return mine.result()  # an earlier batch's transaction took this one along
            taken, self._queue = self._queue, []
            try:
                result = await self.write_until_committed(
                    [i for batch, _, _ in taken for i in batch],
                    [d for _, letters, _ in taken for d in letters])
            except BaseException as exc:
                others = [t for t in taken if t[2] is not mine]
                self._queue[:0] = others  # the next batch in line commits them
                raise exc
            # The whole result goes with the first batch, nothing with the others: each is
            # acknowledged in turn, and the counts and the live state only need the sum.
            for _, _, waiting in taken:
                if waiting is not mine:
                    waiting.set_result(BatchResult(positions_new=0, units=[], incidents=[],
                                                   dead_letters=0))
            return result

    async def write_until_committed(self, inbound: list[Inbound], dead: list[DeadLetter],
                                    deadline: float | None = None) -> BatchResult:
        """Commit a batch with the rules, retrying while the store is away (until `deadline`
        on the clock's monotonic time, if given: then StoreUnavailable propagates)."""
        attempt = 0
        while True:
            # Rules run on a fork of the engine inside the store's transaction; the fork
            # replaces the engine only once the batch (and the rules' outcomes) committed.
            while self._closed_keys:  # a leader closed them: the rules stop tracking them
                self._engine.forget(self._closed_keys.pop())
            trial = self._engine.fork()
            try:
                if not dead:
                    # Most of what the rules see at busy times: new reports, each opening an
                    # incident, written in one statement (else nothing, and on to the
                    # transaction with a fresh fork of the rules).
                    opened = await self._store.open_reports(
                        inbound, functools.partial(_evaluate, trial))
                    if opened is not None:
                        self._engine = trial
                        self.outage.recovered()
                        return opened
                    trial = self._engine.fork()
                result = await self._store.write_batch(inbound, dead,
                                                       functools.partial(_evaluate, trial),
                                                       trial.watches)
                self._engine = trial
                self.outage.recovered()
                return result
            except StoreUnavailable as exc:
                if deadline is not None and self._clock.monotonic() > deadline:
                    raise
                # Never drop the batch: hold it (and the broker's unacked window) and retry.
                self._stats.store_retries += 1
                self.outage.failed(exc)
                await asyncio.sleep(backoff_s(attempt, 0.2, 5.0))
                attempt += 1
