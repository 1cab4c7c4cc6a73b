"""The live state port: the rebuildable picture of units and open incidents that the command
service updates and the dashboard reads and follows.

`incidents.live.LiveState` implements it on Redis, `incidents.memory.live.MemoryLiveState` in
memory. Every method raises `LiveUnavailable` (incidents.errors) when the state cannot be
reached; the store stays the truth, so callers carry on without it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol

from incidents.live_wire import LiveDelta, LiveSnapshot
from incidents.model import Incident, UnitState


class LiveState(Protocol):
    """Units' latest positions and open incidents, versioned, with a change feed."""

    async def ping(self) -> None:
        """Return when the state is reachable, else raise LiveUnavailable."""
        ...

    async def apply(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> int:
        """Record newer unit fixes and incident changes (closed incidents leave); return how
        many entries changed."""
        ...

    async def version(self) -> int:
        """A number that grows with every change; 0 when nothing was recorded yet."""
        ...

    async def units(self) -> list[UnitState]:
        """Every unit's latest position, by unit id."""
        ...

    async def incidents(self) -> list[Incident]:
        """Every open incident, most recently reported first."""
        ...

    async def snapshot(self) -> LiveSnapshot:
        """Every unit and open incident as compact rows, with their version."""
        ...

    def watch(self, idle_s: float = 1.0
              ) -> AsyncGenerator[LiveSnapshot | LiveDelta | None, None]:
        """A snapshot, then each change in version order (None after `idle_s` of quiet)."""
        ...

    async def status(self, component: str) -> dict[str, Any] | None:
        """The last heartbeat of a component, or None when it is silent."""
        ...

    async def statuses(self, prefix: str) -> dict[str, dict[str, Any]]:
        """The live heartbeats of every component whose name starts with `prefix`."""
        ...
