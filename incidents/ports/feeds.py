"""The feed ports: what ingest needs from the store and from the live state, and no more.

`incidents.store.Store` and `incidents.live.LiveState` implement them against PostgreSQL and
Redis; `incidents.memory.feeds` implements them in memory. Both pass
tests/integration/test_feed_store_contract.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from incidents.deadletters import StoredDeadLetter
from incidents.dispatch import DispatchOrderMessage
from incidents.feeds import BatchResult, Evaluate, UnitFix
from incidents.model import DeadLetter, Inbound, Incident, Position, UnitState
from incidents.outcomes import KeyedIncident

PublishOrders = Callable[[Sequence[tuple[str, DispatchOrderMessage]]], Awaitable[None]]
"""Publishes (unit, message) pairs at QoS 1 and returns once the broker has them all."""


class OrderOutbox(Protocol):
    """Dispatch orders waiting to be sent to units."""

    async def send_pending(self, publish: PublishOrders, now: datetime,
                           limit: int = 500) -> int:
        """Escalate overdue orders, publish every unsent one, mark them sent; return how many."""
        ...


class FeedStore(Protocol):
    """The durable side of ingest: batches in, and what ingest resumes from at start."""

    async def write_batch(
        self, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
        evaluate: Evaluate | None = None, watched: Callable[[Position], bool] | None = None,
        defer_units: bool = False,
    ) -> BatchResult:
        """Store a batch atomically; ids already stored are ignored.

        With `evaluate`, the rules decide what new messages do to incidents; without it each
        new report opens an incident. With `defer_units`, units are not moved: their latest
        fixes come back in `unit_fixes` for `update_units`.
        """
        ...

    async def open_reports(self, inbound: Sequence[Inbound], evaluate: Evaluate
                           ) -> BatchResult | None:
        """Store new reports that open one incident each at once, or write nothing and return
        None (the batch then goes through `write_batch`)."""
        ...

    async def update_units(self, fixes: Sequence[UnitFix]) -> None:
        """Move units to the latest of `fixes` (an older fix never replaces a newer one)."""
        ...

    async def catch_up_units(self, window: timedelta = timedelta(minutes=1)) -> int:
        """Move units to stored fixes a stopped worker had not written yet; return how many."""
        ...

    async def open_rule_incidents(self) -> list[KeyedIncident]:
        """Open incidents that rules manage, for the rules to resume after a restart."""
        ...

    async def closed_rule_keys(self, since: datetime) -> list[tuple[str, datetime]]:
        """Rule keys of incidents closed after `since`, with when, oldest first."""
        ...

    async def units(self, seen_since: datetime | None = None) -> list[UnitState]:
        """Latest state of every unit, by unit name."""
        ...

    async def open_incidents(self) -> list[Incident]:
        """Every incident that is not closed, most recent first."""
        ...

    def outbox(self, actor: str) -> OrderOutbox:
        """The dispatch orders' outbox, sent by `actor`."""
        ...


class FeedView(Protocol):
    """What was stored, as audits and the contract tests read it."""

    async def position_ids(self) -> list[str]:
        """Every stored position id."""
        ...

    async def dead_letters(self, limit: int = 100, *, reason: str | None = None,
                           pending_only: bool = False,
                           row_ids: Sequence[int] | None = None) -> list[StoredDeadLetter]:
        """The most recent dead letters first, optionally of one reason."""
        ...


class LiveWriter(Protocol):
    """What ingest writes to the live state (Redis): changes, rebuilds and its status."""

    async def apply(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> int:
        """Record newer unit fixes and incident changes; return how many entries changed."""
        ...

    async def rebuild(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> None:
        """Replace the whole live state (after it was lost or missed updates)."""
        ...

    async def has_epoch(self) -> bool:
        """False when the live state was lost (flushed, restarted) since its last rebuild."""
        ...

    async def set_status(self, component: str, status: dict[str, Any],
                         ttl_s: int = 10) -> None:
        """Publish a component's heartbeat document."""
        ...
