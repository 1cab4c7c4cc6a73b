"""The ingest service: wires the message source, the commit pipeline, the rules' lane, the
live writer, the heartbeat and the dispatch-order sender, and runs them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from config.settings import Settings
from incidents.clock import Clock, SystemClock
from incidents.errors import StoreUnavailable
from incidents.ports.feeds import FeedStore, LiveWriter
from ingest.codecs import CrsPolicy
from ingest.heartbeat import Heartbeat
from ingest.live_writer import LiveUpdater
from ingest.order_sender import OrderSender
from ingest.paho_source import PahoSource
from ingest.pipeline import CommitPipeline, Decoder
from ingest.rules import RuleEngine, RuleSet, load_rules
from ingest.rules_lane import RulesLane
from ingest.source import MessageSource
from ingest.stats import IngestStats
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)

STOP_DRAIN_S = 5.0
"""On stopping, how long the final commit of what was received may wait for the store."""


class IngestService:
    """Consumes the feeds from the broker into the store and the live state."""

    def __init__(self, settings: Settings, store: FeedStore, live: LiveWriter,
                 rules: RuleSet | None = None, crs: CrsPolicy | None = None, *,
                 source: MessageSource | None = None, clock: Clock | None = None) -> None:
        cfg = settings.ingest
        clock = clock or SystemClock()
        scheme = TopicScheme(settings.topic_root, frozenset(settings.agencies))
        self._store = store
        source = source or PahoSource.from_settings(settings, clock)
        self.source = source
        """Where the feed messages come from."""
        self.stats = IngestStats()
        """The pipeline's counters (the source counts what it received: `source.stats`)."""
        self.rules = RulesLane(
            store, RuleEngine(rules or load_rules(settings.rules_file), clock.now),
            self.stats, clock)
        """The rules' lane, and the rules' state."""
        self.updater = LiveUpdater(store, live, self.stats, clock, cfg.live_interval_ms / 1000)
        """The live writer (units and Redis)."""
        self.pipeline = CommitPipeline(
            source, store, self.rules, self.updater,
            Decoder(scheme, cfg.max_payload_bytes, crs, self.stats.heard), scheme,
            self.stats, clock,
            batch_max=cfg.batch_max, gather_s=cfg.batch_delay_ms / 1000,
            commits_in_flight=cfg.commits_in_flight)
        """Commits, acknowledges and receipts what the source delivers."""
        self.heartbeat = Heartbeat(live, self.updater, self.rules, source, self.stats, clock,
                                   component=f"ingest:{cfg.client_id}",
                                   interval_s=cfg.heartbeat_s)
        """Reports ingest's status and keeps the live state rebuilt."""
        self.orders = OrderSender(store.outbox(f"ingest/{cfg.client_id}"), source, scheme,
                                  clock)
        """Publishes dispatch orders from the store's outbox."""

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        return self.source.connected

    @property
    def subscribed(self) -> bool:
        """True once the broker confirmed the feed subscription on this connection."""
        return self.source.subscribed

    async def run(self) -> None:
        """Consume until cancelled; on cancel, commit what was received, then disconnect."""
        await _until_stored(self.rules.resume, "load open rule incidents")
        await _until_stored(self._catch_up_units, "catch up unit positions")
        try:
            async with self.source, asyncio.TaskGroup() as group:
                group.create_task(self.pipeline.run(), name="ingest-flush")
                group.create_task(self.heartbeat.run(), name="ingest-heartbeat")
                group.create_task(self.updater.run(), name="ingest-live")
                group.create_task(self.orders.run(), name="ingest-orders")
        finally:
            # Commit what arrived, if the store answers soon; whatever is not committed was
            # not acknowledged either, so the broker redelivers it (and ids dedupe).
            try:
                await asyncio.shield(self.pipeline.drain(STOP_DRAIN_S))
                await asyncio.shield(self.updater.write_units())
            except StoreUnavailable as exc:
                log.warning("stopping with %d uncommitted messages, which the broker will"
                            " redeliver, and %d unit fixes for the next start to catch up: %s",
                            self.pipeline.uncommitted, self.updater.units_due, exc)

    async def _catch_up_units(self) -> None:
        moved = await self._store.catch_up_units()
        if moved:
            log.warning("units: %d moved to fixes a stopped worker had not written", moved)


async def _until_stored(step: Callable[[], Awaitable[None]], what: str) -> None:
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
