"""The live writer: committed changes go to `units` and to the live state (Redis) beside the
commits, never between them, and the live state is rebuilt from PostgreSQL when it was lost."""

from __future__ import annotations

import asyncio
import logging

from incidents.clock import Clock
from incidents.errors import LiveUnavailable, StoreUnavailable
from incidents.feeds import BatchResult, UnitFix
from incidents.model import Incident, UnitState
from incidents.outage import Outage
from incidents.ports.feeds import FeedStore, LiveWriter
from ingest.stats import IngestStats

log = logging.getLogger(__name__)


class LiveUpdater:
    """Coalesces committed batches' changes and writes them every `interval_s` at most."""

    def __init__(self, store: FeedStore, live: LiveWriter, stats: IngestStats, clock: Clock,
                 interval_s: float) -> None:
        self._store = store
        self._live = live
        self._stats = stats
        self._clock = clock
        self._interval = interval_s
        self.dirty = True
        """The live state may have missed changes: rebuild it (at start: Redis may have lost
        everything)."""
        self._lock = asyncio.Lock()  # a rebuild and a batch's update never interleave
        self._units: dict[str, UnitState] = {}
        self._units_due: dict[str, UnitFix] = {}
        """Latest fixes of units whose positions were committed but not yet written to
        `units` (batches committed side by side leave that to the live writer)."""
        self._incidents: list[Incident] = []
        self._pending = asyncio.Event()

    @property
    def units_due(self) -> int:
        """Units whose latest fix is not written to `units` yet."""
        return len(self._units_due)

    def queue(self, result: BatchResult) -> None:
        """Take a batch's changes; newer fixes replace queued older ones."""
        for unit in result.units:
            queued = self._units.get(unit.unit)
            if queued is None or queued.ts <= unit.ts:
                self._units[unit.unit] = unit
        for fix in result.unit_fixes:
            due = self._units_due.get(fix.unit)
            if due is None or due.ts <= fix.ts:
                self._units_due[fix.unit] = fix
        self._incidents.extend(result.incidents)
        if result.units or result.incidents:
            self._pending.set()

    async def run(self) -> None:
        """Write queued changes until cancelled."""
        # Redis is updated beside the commits, not between them: a slow live update must not
        # delay the next batch's commit, acknowledgement and receipt.
        pause = self._interval
        outage = Outage("ingest units writer", log, "fixes are kept, the newest per unit",
                        cap_s=5.0, clock=self._clock.monotonic)
        while True:
            await self._pending.wait()
            started = self._clock.monotonic()
            self._pending.clear()
            units, self._units = list(self._units.values()), {}
            incidents, self._incidents = self._incidents, []
            try:
                await self.write_units()  # before Redis: a rebuild reads `units`
                pause = self._interval
                outage.recovered()
            except StoreUnavailable as exc:
                self._stats.store_retries += 1
                pause = outage.failed(exc)
                self._pending.set()
            await self._update_live(units, incidents)
            # Fixes arriving meanwhile are coalesced into the next update (one per unit).
            await asyncio.sleep(max(0.0, pause - (self._clock.monotonic() - started)))

    async def write_units(self) -> None:
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
        async with self._lock:
            if self.dirty:
                return  # the heartbeat rebuilds from PostgreSQL, which already has these
            try:
                await self._live.apply(units, incidents)
            except LiveUnavailable as exc:
                self._stats.live_failures += 1
                self.dirty = True
                log.warning("live state not updated (%s); rebuilding it from PostgreSQL", exc)

    async def rebuild_if_lost(self) -> None:
        """Rebuild the live state from PostgreSQL if it missed changes or Redis lost it."""
        if self.dirty or not await self._live.has_epoch():
            await self.rebuild()

    async def rebuild(self) -> None:
        """Replace the live state with what PostgreSQL holds."""
        async with self._lock:
            self.dirty = True
            units = await self._store.units()
            incidents = await self._store.open_incidents()
            await self._live.rebuild(units, incidents)
            self.dirty = False
        log.info("live state rebuilt from PostgreSQL: %d units, %d open incidents",
                 len(units), len(incidents))
