"""The MQTT consumer: batches messages, commits them, then acknowledges and sends receipts."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

import msgspec
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.reasoncodes import ReasonCode

from config.settings import Settings
from incidents.cap import CapAlertMessage
from incidents.live import LiveState, LiveUnavailable
from incidents.model import (
    Alarm,
    DeadLetter,
    Inbound,
    Incident,
    Observation,
    Position,
    UnitState,
)
from incidents.outage import Outage
from incidents.store import BatchResult, Store, StoreUnavailable
from incidents.store.batch import UnitFix
from ingest.codecs import CrsPolicy, decode
from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version
from ingest.mqtt_loop import LoopDriver
from ingest.order_sender import OrderSender
from ingest.paho_bulk import BulkClient, Delivery
from ingest.receipts import Receipt
from ingest.rules import Outcome, RuleEngine, RuleSet, load_rules
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)

BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
"""Mosquitto's count of messages it dropped (queue limits); ingest watches it for the health
page. Brokers without it (amqtt) simply never publish it."""


_PLAIN_KINDS = (Position, Observation, Alarm)
"""Message kinds that skip the rules' transaction when no rule can act on them."""


class _Raw(NamedTuple):
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: float


@dataclass(slots=True)
class IngestStats:
    """Counters reported in the heartbeat."""

    received: int = 0
    committed: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0
    store_retries: int = 0
    live_failures: int = 0
    last_commit_at: float | None = None
    broker_dropped: int | None = None
    """The broker's own count of dropped messages, when it publishes one."""
    broker_dropped_rising_at: float | None = None
    """When that count was last seen rising (or first seen above zero)."""
    lag_ms: deque[float] = field(default_factory=lambda: deque(maxlen=512))

    def as_dict(self, backlog: int, connected: bool) -> dict[str, Any]:
        """The heartbeat document."""
        lags = sorted(self.lag_ms)
        return {
            "received": self.received, "committed": self.committed,
            "duplicates": self.duplicates, "dead_letters": self.dead_letters,
            "batches": self.batches, "store_retries": self.store_retries,
            "live_failures": self.live_failures, "last_commit_at": self.last_commit_at,
            "backlog": backlog, "broker_connected": connected,
            "broker_dropped": self.broker_dropped,
            "broker_dropped_rising_at": self.broker_dropped_rising_at,
            "lag_p50_ms": lags[len(lags) // 2] if lags else None,
            "lag_max_ms": lags[-1] if lags else None,
            "at": time.time(),
        }


def _merged(results: Sequence[BatchResult]) -> BatchResult:
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


def _evaluate(engine: RuleEngine, items: Sequence[Inbound]) -> list[Outcome]:
    """The rules' outcomes for newly stored messages, in order (CAP alerts act on their own)."""
    return [o for i in items if not isinstance(i.message, CapAlertMessage)
            for o in engine.evaluate(i.envelope, i.message)]


class IngestService:
    """Consumes the feeds from the broker into the store and the live state."""

    def __init__(self, settings: Settings, store: Store, live: LiveState,
                 rules: RuleSet | None = None, crs: CrsPolicy | None = None) -> None:
        if settings.mqtt_url is None:
            raise ValueError("ingest needs SITROOM_MQTT_URL (sitroom up sets it for you)")
        self._settings = settings
        self._crs = crs
        self._cfg = settings.ingest
        self._store = store
        self._live = live
        self._scheme = TopicScheme(settings.topic_root, frozenset(settings.agencies))
        self._address = BrokerAddress.parse(settings.mqtt_url)
        self._protocol = protocol_version(settings.mqtt_protocol)
        self._inbox: deque[_Raw] = deque()
        self._committing: dict[asyncio.Task[None], list[_Raw]] = {}
        """Position batches being committed concurrently, oldest first (see `_flush_forever`)."""
        self._last_commit: asyncio.Task[None] | None = None
        self._commit_failure: BaseException | None = None
        self._rules_lock = asyncio.Lock()
        self._rules_queue: list[tuple[list[Inbound], list[DeadLetter],
                                      asyncio.Future[BatchResult]]] = []
        self._generation = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._feed_subscription_mid = -1
        self._armed = False
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live_dirty = True  # rebuild once at start: Redis may have lost everything
        self._live_lock = asyncio.Lock()  # a rebuild and a batch's update never interleave
        self._live_units: dict[str, UnitState] = {}
        self._units_due: dict[str, UnitFix] = {}
        """Latest fixes of units whose positions were committed but not yet written to
        `units` (batches committed side by side leave that to the live writer)."""
        self._live_incidents: list[Incident] = []
        self._live_pending = asyncio.Event()
        self._receipt_encoder = msgspec.json.Encoder()
        self.stats = IngestStats()
        # Shared by every batch retrying a commit: one outage is logged once, not per batch.
        self._commits_outage = Outage("ingest commits", log,
                                      "messages are held unacknowledged and retried", cap_s=5.0)
        self._closed_keys: list[str] = []
        self._closures_seen = datetime.now(UTC)
        self._rules = RuleEngine(rules or load_rules(settings.rules_file),
                                 lambda: datetime.now(UTC))
        self._client = cast(BulkClient, make_client(
            self._address, self._cfg.client_id, self._protocol, persistent=True,
            manual_ack=True, cls=BulkClient,
        ))
        self.orders = OrderSender(store, self._client, self._scheme, self._cfg.client_id,
                                  lambda: self.connected)
        """Publishes dispatch orders from the store's outbox."""
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_delivery = self._on_delivery
        self._client.on_subscribe = self._on_subscribe

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        return self._connected.is_set()

    @property
    def subscribed(self) -> bool:
        """True once the broker confirmed the feed subscription on this connection."""
        return self._subscribed.is_set()

    async def run(self) -> None:
        """Consume until cancelled; on cancel, commit what was received, then disconnect."""
        self._loop = asyncio.get_running_loop()
        await self._until_stored(self._resume_rules, "load open rule incidents")
        await self._until_stored(self._catch_up_units, "catch up unit positions")
        self._client.connect_timeout = 2.0  # connecting blocks the loop: keep it short
        connect_async(self._client, self._address, self._protocol, persistent=True,
                      session_expiry_s=self._cfg.session_expiry_s,
                      receive_maximum=self._cfg.receive_maximum)
        driver = LoopDriver(self._client, self._loop)
        log.info("ingest %s consuming %s from %s", self._cfg.client_id, self._subscription(),
                 self._address.url())
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(driver.run(), name="ingest-mqtt")
                group.create_task(self._flush_forever(), name="ingest-flush")
                group.create_task(self._heartbeat_forever(), name="ingest-heartbeat")
                group.create_task(self._live_forever(), name="ingest-live")
                group.create_task(self.orders.run(), name="ingest-orders")
        finally:
            self._stopping = True
            driver.stop()
            await asyncio.shield(self._recall_commits())
            # Commit what arrived, if the store answers soon; whatever is not committed was
            # not acknowledged either, so the broker redelivers it (and ids dedupe).
            try:
                await asyncio.shield(self._drain_once(give_up_after_s=5.0))
                await asyncio.shield(self._write_units())
            except StoreUnavailable as exc:
                log.warning("stopping with %d uncommitted messages, which the broker will"
                            " redeliver, and %d unit fixes for the next start to catch up: %s",
                            len(self._inbox), len(self._units_due), exc)

    async def _until_stored(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        """Run a start-up step, retrying while PostgreSQL is unavailable."""
        delay = 0.5
        while True:
            try:
                await step()
                return
            except StoreUnavailable as exc:
                log.warning("cannot %s yet (%s); retrying", what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _resume_rules(self) -> None:
        keyed = await self._store.open_rule_incidents()
        self._rules.restore(keyed)
        log.info("rules: %d open incidents resumed", len(keyed))

    async def _catch_up_units(self) -> None:
        moved = await self._store.catch_up_units()
        if moved:
            log.warning("units: %d moved to fixes a stopped worker had not written", moved)

    def _subscription(self) -> str:
        topic = self._scheme.subscription
        group = self._cfg.shared_group
        return f"$share/{group}/{topic}" if group else topic

    # --- paho's callbacks (on the event loop: ingest/mqtt_loop.py) --------------------

    def _on_connect(self, client: Client, userdata: Any, flags: ConnectFlags,
                    reason: ReasonCode, properties: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused ingest: %s", self._address.url(), reason)
            return
        self._generation += 1
        _, mid = client.subscribe(self._subscription(), qos=1)
        self._feed_subscription_mid = mid if mid is not None else -1
        client.subscribe(BROKER_DROPPED_TOPIC, qos=0)
        self._connected.set()
        log.info("connected to %s (session present: %s)", self._address.url(),
                 flags.session_present)

    def _on_disconnect(self, client: Client, userdata: Any, flags: DisconnectFlags,
                       reason: ReasonCode, properties: Any) -> None:
        self._connected.clear()
        self._subscribed.clear()
        # Messages of the lost connection are not acknowledged: the broker redelivers them.
        self._generation += 1
        if self._stopping:
            log.info("disconnected from %s", self._address.url())
        else:
            log.warning("lost the broker %s: %s; reconnecting", self._address.url(), reason)

    def _on_subscribe(self, client: Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Any) -> None:
        if mid != self._feed_subscription_mid:
            return  # the $SYS watch: a broker that refuses it just has no drop counter
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("broker refused the subscription %s: %s", self._subscription(), failed)
            return
        self._subscribed.set()

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        # Only what BulkClient's fast path leaves to paho: MQTT 5 properties, QoS 2.
        self._on_delivery(Delivery(message.mid, message.qos, message.topic,
                                   bytes(message.payload)))

    def _on_delivery(self, delivery: Delivery) -> None:
        if delivery.topic == BROKER_DROPPED_TOPIC:
            self._note_broker_drops(delivery.payload)
            return
        self.stats.received += 1  # here, not when decoded: a batch put back is decoded again
        self._inbox.append(_Raw(self._generation, delivery.mid, delivery.qos, delivery.topic,
                                delivery.payload, time.time()))
        if not self._armed:
            self._armed = True
            self._wake.set()  # paho calls back on the loop's own thread (LoopDriver)

    def _note_broker_drops(self, payload: bytes) -> None:
        try:
            dropped = int(payload)
        except ValueError:
            log.error("unreadable %s payload %r", BROKER_DROPPED_TOPIC, payload[:40])
            return
        previous = self.stats.broker_dropped
        if (previous is None and dropped > 0) or (previous is not None and dropped > previous):
            self.stats.broker_dropped_rising_at = time.time()
            log.error("the broker reports %d dropped messages (was %s): check its queue limits"
                      " (docs/deploy.md)", dropped, previous)
        self.stats.broker_dropped = dropped

    # --- the event loop --------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._armed = False
            self._wake.clear()
            if self._commit_failure is not None:
                raise self._commit_failure
            await self._drain_once(concurrent=self._cfg.commits_in_flight > 1,
                                   gather_s=self._cfg.batch_delay_ms / 1000)

    async def _drain_once(self, give_up_after_s: float | None = None,
                          concurrent: bool = False, gather_s: float = 0.0) -> None:
        """Commit everything received so far (giving up after `give_up_after_s`, if set).

        With `concurrent`, up to `commits_in_flight` batches are committed at once, each in
        two parts: its plain positions (the bulk of every feed) on one connection, and the
        rest (what the rules see, incidents, dead letters) on another, one batch after the
        other. PostgreSQL then works on one batch while ingest decodes the next, and
        positions never wait for the rules. Acknowledgements and receipts go out in the
        order the messages arrived, each batch once both its parts are committed.
        """
        deadline = None if give_up_after_s is None else time.monotonic() + give_up_after_s
        depth = self._cfg.commits_in_flight if concurrent else 1
        while self._inbox:
            await self._make_room(depth - 1)
            if len(self._inbox) < self._cfg.batch_max:
                # Let a batch gather, but never hold the oldest message longer than
                # `gather_s`: messages that waited through a commit go at once.
                wait = gather_s - (time.time() - self._inbox[0].received_at)
                if wait > 0:
                    await asyncio.sleep(wait)
            count = min(len(self._inbox), self._cfg.batch_max)
            raws = [self._inbox.popleft() for _ in range(count)]
            inbound, dead = self._decode(raws)
            if depth == 1:
                await self._commit(raws, inbound, dead, deadline)
                continue
            task = asyncio.create_task(
                self._commit_concurrently(raws, inbound, dead, self._last_commit),
                name="ingest-commit")
            self._committing[task] = raws
            self._last_commit = task
            task.add_done_callback(self._commit_done)

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
            # A bug, not a store outage (that is retried inside): stop ingest, loudly.
            self._commit_failure = task.exception()
            self._wake.set()

    async def _recall_commits(self) -> None:
        """On stopping: cancel concurrent commits and put their unacknowledged batches back."""
        running = list(self._committing.items())
        if not running:
            return
        for task, _ in running:
            task.cancel()
        await asyncio.wait([t for t, _ in running])
        for task, raws in reversed(running):
            if task.cancelled() or task.exception() is not None:
                self._inbox.extendleft(reversed(raws))  # committed or not: ids dedupe

    def _decode(self, raws: Sequence[_Raw]) -> tuple[list[Inbound], list[DeadLetter]]:
        inbound: list[Inbound] = []
        dead: list[DeadLetter] = []
        max_bytes = self._cfg.max_payload_bytes
        for raw in raws:
            if self._scheme.is_own_output(raw.topic):
                continue  # our own receipts and orders echo back through the wildcard
            received_at = datetime.fromtimestamp(raw.received_at, UTC)
            decoded = decode(self._scheme, raw.topic, raw.payload, received_at, max_bytes,
                             self._crs)
            (inbound if isinstance(decoded, Inbound) else dead).append(decoded)  # type: ignore[arg-type]
        return inbound, dead

    async def _commit(self, raws: Sequence[_Raw], inbound: list[Inbound],
                      dead: list[DeadLetter], deadline: float | None = None) -> None:
        """Commit a batch in one transaction, then acknowledge it (the strictly serial way)."""
        try:
            result = await self._write_until_committed(inbound, dead, deadline)
        except (asyncio.CancelledError, StoreUnavailable):
            # Not committed, so not acknowledged: put the batch back for the final drain.
            self._inbox.extendleft(reversed(raws))
            raise
        self._committed(raws, inbound, dead, result)

    async def _commit_concurrently(self, raws: Sequence[_Raw], inbound: list[Inbound],
                                   dead: list[DeadLetter],
                                   previous: asyncio.Task[None] | None) -> None:
        """Commit a batch's plain positions beside its other messages; acknowledge the batch
        after `previous` has acknowledged its own."""
        plain, rest = self._plain_and_rest(inbound)
        parts = []
        if plain:
            parts.append(self._write_plain(plain))
        if rest or dead:
            parts.append(self._write_with_rules(rest, dead))
        results = await asyncio.gather(*parts)
        committed_at = time.time()
        if previous is not None:
            await previous  # MQTT: PUBACKs in the order the PUBLISH packets came
        self._committed(raws, inbound, dead, _merged(results), committed_at)

    def _plain_and_rest(self, inbound: list[Inbound]) -> tuple[list[Inbound], list[Inbound]]:
        """Split a batch into plain feed messages (positions, observations, alarms no rule
        can act on) and the rest (what the rules see, reports, acks, statuses, CAP)."""
        concerns = self._rules.concerns
        plain: list[Inbound] = []
        rest: list[Inbound] = []
        for item in inbound:
            message = item.message
            if isinstance(message, _PLAIN_KINDS) and not concerns(message):
                plain.append(item)
            else:
                rest.append(item)
        return plain, rest

    async def _write_plain(self, plain: list[Inbound]) -> BatchResult:
        backoff = 0.2
        while True:
            try:
                result = await self._store.write_batch(plain, [], defer_units=True)
                self._commits_outage.recovered()
                return result
            except StoreUnavailable as exc:
                self.stats.store_retries += 1
                self._commits_outage.failed(exc)
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, 5.0)

    async def _write_with_rules(self, inbound: list[Inbound], dead: list[DeadLetter]
                                ) -> BatchResult:
        """Commit a batch's messages for the rules, in arrival order, one transaction at a
        time; batches that queued meanwhile go together (the rules part costs ten round
        trips whatever its size, so at busy times one transaction serves several batches)."""
        mine: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        self._rules_queue.append((inbound, dead, mine))
        async with self._rules_lock:  # first come, first served
            if mine.done():
                return mine.result()  # an earlier batch's transaction took this one along
            taken, self._rules_queue = self._rules_queue, []
            try:
                result = await self._write_until_committed(
                    [i for batch, _, _ in taken for i in batch],
                    [d for _, letters, _ in taken for d in letters], None)
            except BaseException as exc:
                others = [t for t in taken if t[2] is not mine]
                self._rules_queue[:0] = others  # the next batch in line commits them
                raise exc
            # The whole result goes with the first batch, nothing with the others: each is
            # acknowledged in turn, and the counts and the live state only need the sum.
            for _, _, waiting in taken:
                if waiting is not mine:
                    waiting.set_result(BatchResult(positions_new=0, units=[], incidents=[],
                                                   dead_letters=0))
            return result

    def _committed(self, raws: Sequence[_Raw], inbound: list[Inbound], dead: list[DeadLetter],
                   result: BatchResult, committed_at: float | None = None) -> None:
        """Acknowledge, send receipts, count and queue the live update of a committed batch
        (`committed_at`: when its commit returned; now if not given)."""
        committed_at = committed_at or time.time()
        self._acknowledge(raws)
        self._send_receipts(inbound, dead, committed_at)
        self._count(raws, inbound, dead, result, committed_at)
        self._queue_live(result)

    async def _write_until_committed(
        self, inbound: list[Inbound], dead: list[DeadLetter], deadline: float | None
    ) -> BatchResult:
        backoff = 0.2
        while True:
            # Rules run on a fork of the engine inside the store's transaction; the fork
            # replaces the engine only once the batch (and the rules' outcomes) committed.
            while self._closed_keys:  # a leader closed them: the rules stop tracking them
                self._rules.forget(self._closed_keys.pop())
            trial = self._rules.fork()
            try:
                if not dead:
                    # Most of what the rules see at busy times: new reports, each opening an
                    # incident, written in one statement (else nothing, and on to the
                    # transaction with a fresh fork of the rules).
                    opened = await self._store.open_reports(
                        inbound, functools.partial(_evaluate, trial))
                    if opened is not None:
                        self._rules = trial
                        self._commits_outage.recovered()
                        return opened
                    trial = self._rules.fork()
                result = await self._store.write_batch(inbound, dead,
                                                       functools.partial(_evaluate, trial),
                                                       trial.watches)
                self._rules = trial
                self._commits_outage.recovered()
                return result
            except StoreUnavailable as exc:
                if deadline is not None and time.monotonic() > deadline:
                    raise
                # Never drop the batch: hold it (and the broker's unacked window) and retry.
                self.stats.store_retries += 1
                self._commits_outage.failed(exc)
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, 5.0)

    def _acknowledge(self, raws: Sequence[_Raw]) -> None:
        # Only messages of the current connection: after a reconnect the broker redelivers
        # the rest, and a mid of the old connection may name another message now.
        generation = self._generation
        self._client.ack_many(r.mid for r in raws if r.qos == 1 and r.generation == generation)

    def _send_receipts(self, inbound: list[Inbound], dead: list[DeadLetter],
                       committed_at: float) -> None:
        by_source: dict[str, Receipt] = {}
        at = round(committed_at, 6)
        for item in inbound:
            source = item.envelope.source
            receipt = by_source.setdefault(source, Receipt(ids=[], rejected={}, committed_at=at))
            receipt.ids.append(item.message.id)
        for letter in dead:
            rejected_from = self._source_of(letter.topic)
            if rejected_from is None or letter.message_id is None:
                continue  # nobody to tell: the dead letter itself is the record
            receipt = by_source.setdefault(rejected_from,
                                           Receipt(ids=[], rejected={}, committed_at=at))
            receipt.rejected[letter.message_id] = letter.reason
        for source, receipt in by_source.items():
            self._client.publish(self._scheme.receipts(source),
                                 self._receipt_encoder.encode(receipt), qos=1)

    def _source_of(self, topic: str) -> str | None:
        parts = topic.split("/")
        root_depth = self._scheme.root.count("/") + 1
        if len(parts) == root_depth + 3 and parts[-1]:
            return parts[-1]
        return None

    def _count(self, raws: Sequence[_Raw], inbound: list[Inbound], dead: list[DeadLetter],
               result: BatchResult, committed_at: float) -> None:
        stats = self.stats
        positions = sum(1 for i in inbound if isinstance(i.message, Position))
        stats.committed += len(inbound)
        stats.duplicates += positions - result.positions_new
        stats.dead_letters += len(dead)
        stats.batches += 1
        stats.last_commit_at = committed_at
        if raws:
            stats.lag_ms.append((committed_at - raws[0].received_at) * 1000)
        for letter in dead:
            log.warning("dead letter %s on %s: %s", letter.reason, letter.topic, letter.detail)

    def _queue_live(self, result: BatchResult) -> None:
        """Hand a batch's changes to the live writer; newer fixes replace queued older ones."""
        for unit in result.units:
            queued = self._live_units.get(unit.unit)
            if queued is None or queued.ts <= unit.ts:
                self._live_units[unit.unit] = unit
        for fix in result.unit_fixes:
            due = self._units_due.get(fix.unit)
            if due is None or due.ts <= fix.ts:
                self._units_due[fix.unit] = fix
        self._live_incidents.extend(result.incidents)
        if result.units or result.incidents:
            self._live_pending.set()

    async def _live_forever(self) -> None:
        # Redis is updated beside the commits, not between them: a slow live update must not
        # delay the next batch's commit, acknowledgement and receipt.
        interval = self._cfg.live_interval_ms / 1000
        pause = interval
        outage = Outage("ingest units writer", log, "fixes are kept, the newest per unit",
                        cap_s=5.0)
        while True:
            await self._live_pending.wait()
            started = time.monotonic()
            self._live_pending.clear()
            units, self._live_units = list(self._live_units.values()), {}
            incidents, self._live_incidents = self._live_incidents, []
            try:
                await self._write_units()  # before Redis: a rebuild reads `units`
                pause = interval
                outage.recovered()
            except StoreUnavailable as exc:
                self.stats.store_retries += 1
                pause = outage.failed(exc)
                self._live_pending.set()
            await self._update_live(units, incidents)
            # Fixes arriving meanwhile are coalesced into the next update (one per unit).
            await asyncio.sleep(max(0.0, pause - (time.monotonic() - started)))

    async def _write_units(self) -> None:
        """Write the units' latest fixes of concurrently committed batches to `units`."""
        if not self._units_due:
            return
        fixes, self._units_due = self._units_due, {}
        try:
            await self._store.update_units(list(fixes.values()))
        except BaseException:
            for unit, fix in fixes.items():  # keep them, unless newer ones came meanwhile
                due = self._units_due.get(unit)
                if due is None or due.ts <= fix.ts:
                    self._units_due[unit] = fix
            raise

    async def _update_live(self, units: list[UnitState], incidents: list[Incident]) -> None:
        async with self._live_lock:
            if self._live_dirty:
                return  # the heartbeat rebuilds from PostgreSQL, which already has these
            try:
                await self._live.apply(units, incidents)
            except LiveUnavailable as exc:
                self.stats.live_failures += 1
                self._live_dirty = True
                log.warning("live state not updated (%s); rebuilding it from PostgreSQL", exc)

    async def _heartbeat_forever(self) -> None:
        outage = Outage("ingest heartbeat", log,
                        "the live state is rebuilt from PostgreSQL once both answer")
        while True:
            try:
                if self._live_dirty or not await self._live.has_epoch():
                    await self._rebuild_live()
                await self._learn_closures()
                status = self.stats.as_dict(len(self._inbox), self.connected)
                status["broker"] = self._address.url()
                status["subscribed"] = self.subscribed
                await self._live.set_status(f"ingest:{self._cfg.client_id}", status)
                outage.recovered()
            except (LiveUnavailable, StoreUnavailable) as exc:
                self._live_dirty = True
                outage.failed(exc)  # the beat keeps its pace: it is also the status
            await asyncio.sleep(self._cfg.heartbeat_s)

    async def _learn_closures(self) -> None:
        """Rule incidents closed by leaders since the last look; forgotten before the next
        batch, so a breach that returns later opens a new incident."""
        for key, closed_at in await self._store.closed_rule_keys(self._closures_seen):
            self._closed_keys.append(key)
            self._closures_seen = max(self._closures_seen, closed_at)

    async def _rebuild_live(self) -> None:
        async with self._live_lock:
            self._live_dirty = True
            units = await self._store.units()
            incidents = await self._store.open_incidents()
            await self._live.rebuild(units, incidents)
            self._live_dirty = False
        log.info("live state rebuilt from PostgreSQL: %d units, %d open incidents",
                 len(units), len(incidents))
