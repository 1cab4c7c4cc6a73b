"""Ingest's heartbeat: keeps the live state rebuilt, learns closed rule incidents, and
reports its counters for the health page."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from incidents.clock import Clock
from incidents.errors import LiveUnavailable, StoreUnavailable
from incidents.outage import Outage
from incidents.ports.feeds import LiveWriter
from ingest.live_writer import LiveUpdater
from ingest.rules_lane import RulesLane
from ingest.source import MessageSource
from ingest.stats import IngestStats

log = logging.getLogger(__name__)


class Heartbeat:
    """Every `interval_s`: rebuild a lost live state, learn closures, publish the status."""

    def __init__(self, live: LiveWriter, updater: LiveUpdater, rules: RulesLane,
                 source: MessageSource, stats: IngestStats, clock: Clock, *,
                 component: str, interval_s: float) -> None:
        self._live = live
        self._updater = updater
        self._rules = rules
        self._source = source
        self._stats = stats
        self._clock = clock
        self._component = component
        self._interval = interval_s

    def status(self) -> dict[str, Any]:
        """The heartbeat document as it would be sent now."""
        source = self._source
        status = self._stats.as_dict(source.stats, source.backlog, source.connected,
                                     self._clock.time())
        status["broker"] = source.broker
        status["subscribed"] = source.subscribed
        return status

    async def run(self) -> None:
        """Beat until cancelled; an outage of Redis or PostgreSQL is logged and retried."""
        outage = Outage("ingest heartbeat", log,
                        "the live state is rebuilt from PostgreSQL once both answer",
                        clock=self._clock.monotonic)
        while True:
            try:
                await self._updater.rebuild_if_lost()
                await self._rules.learn_closures()
                await self._live.set_status(self._component, self.status())
                outage.recovered()
            except (LiveUnavailable, StoreUnavailable) as exc:
                self._updater.dirty = True
                outage.failed(exc)  # the beat keeps its pace: it is also the status
            await asyncio.sleep(self._interval)
