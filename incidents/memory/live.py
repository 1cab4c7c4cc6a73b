"""The live state in memory: the `LiveState` port for unit tests and simulations.

Units keep their newest fix, closed incidents leave, every change bumps the version and goes
to each watcher as the same `LiveDelta` the Redis script publishes. Heartbeats expire by the
injected clock. `outage()` makes every call raise LiveUnavailable, as with Redis gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from incidents.clock import Clock, SystemClock
from incidents.errors import LiveUnavailable
from incidents.live_wire import LiveDelta, LiveSnapshot, incident_row, unit_row
from incidents.memory.switch import OutageSwitch
from incidents.model import Incident, IncidentStatus, UnitState


class MemoryLiveState(OutageSwitch):
    """Units and open incidents in dicts, versioned, with a change feed per watcher."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._units: dict[str, UnitState] = {}
        self._incidents: dict[str, Incident] = {}
        self._version = 0
        self._statuses: dict[str, tuple[float, dict[str, Any]]] = {}
        self._watchers: set[asyncio.Queue[LiveDelta]] = set()


    async def ping(self) -> None:
        """Return when reachable, else raise LiveUnavailable."""
        self._check()

    async def apply(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> int:
        """Record newer unit fixes and incident changes; return how many entries changed."""
        self._check()
        moved = []
        for unit in units:
            seen = self._units.get(unit.unit)
            if seen is None or unit.ts >= seen.ts:
                self._units[unit.unit] = unit
                moved.append(unit_row(unit))
        opened, removed = [], []
        for incident in incidents:
            if incident.status is IncidentStatus.CLOSED:
                self._incidents.pop(incident.id, None)
                removed.append(incident.id)
            else:
                self._incidents[incident.id] = incident
                opened.append(incident_row(incident))
        changed = len(moved) + len(opened) + len(removed)
        if changed:
            self._version += 1
            self._publish(LiveDelta(v=self._version, u=moved, i=opened, r=removed))
        return changed

    async def rebuild(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> None:
        """Replace the state with what the store holds (watchers re-read the snapshot)."""
        self._check()
        self._units = {u.unit: u for u in units}
        self._incidents = {i.id: i for i in incidents}
        self._version += 1
        self._publish(LiveDelta(v=self._version, rebuilt=True))

    async def version(self) -> int:
        """A number that grows with every change; 0 before the first."""
        self._check()
        return self._version

    async def units(self) -> list[UnitState]:
        """Every unit's latest position, by unit id."""
        self._check()
        return sorted(self._units.values(), key=lambda u: u.unit)

    async def incidents(self) -> list[Incident]:
        """Every open incident, most recently reported first."""
        self._check()
        return sorted(self._incidents.values(), key=lambda i: i.reported_at, reverse=True)

    async def snapshot(self) -> LiveSnapshot:
        """Every unit and open incident as compact rows, with their version."""
        self._check()
        return LiveSnapshot(version=self._version,
                            units=sorted(unit_row(u) for u in self._units.values()),
                            incidents=sorted(incident_row(i) for i in self._incidents.values()))

    async def watch(self, idle_s: float = 1.0
                    ) -> AsyncGenerator[LiveSnapshot | LiveDelta | None, None]:
        """A snapshot, then each change in order (None after `idle_s` of quiet); a rebuild
        yields a fresh snapshot."""
        queue: asyncio.Queue[LiveDelta] = asyncio.Queue()
        self._watchers.add(queue)
        try:
            yield await self.snapshot()
            while True:
                try:
                    delta = await asyncio.wait_for(queue.get(), idle_s)
                except TimeoutError:
                    self._check()
                    yield None
                    continue
                yield await self.snapshot() if delta.rebuilt else delta
        finally:
            self._watchers.discard(queue)

    async def set_status(self, component: str, status: dict[str, Any], ttl_s: int = 10) -> None:
        """Publish a component's heartbeat, expiring after `ttl_s`."""
        self._check()
        self._statuses[component] = (self._clock.monotonic() + ttl_s, dict(status))

    async def status(self, component: str) -> dict[str, Any] | None:
        """The last heartbeat of a component, or None when it is silent."""
        return (await self.statuses(component)).get(component)

    async def statuses(self, prefix: str) -> dict[str, dict[str, Any]]:
        """The live heartbeats of every component whose name starts with `prefix`."""
        self._check()
        now = self._clock.monotonic()
        return {name: dict(status) for name, (expires, status) in sorted(self._statuses.items())
                if name.startswith(prefix) and expires > now}

    def _check(self) -> None:
        if self._down:
            raise LiveUnavailable("the in-memory live state is in a simulated outage")

    def _publish(self, delta: LiveDelta) -> None:
        for queue in self._watchers:
            queue.put_nowait(delta)
