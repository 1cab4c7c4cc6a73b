"""The command store port: what the command service, the briefings and the dashboard's command
routes ask of the store that keeps incidents, their journal, orders and units.

`incidents.store.command.CommandStore` implements it on PostgreSQL and
`incidents.memory.command.MemoryCommandStore` in memory; both pass
tests/integration/test_command_store_contract.py. Every method raises `StoreUnavailable`
(incidents.errors) when the store cannot be reached, and the `CommandRefused` errors
(NotFound, Conflict) for what the data refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from incidents.lifecycle import Outcome, State
from incidents.model import Availability, Incident, IncidentStatus, Level, ReportCasualties
from incidents.orders import Order
from incidents.plans import Requirement
from incidents.spatial import UnitChanges, UnitPoint
from incidents.unitstate import Finding

Decide = Callable[[State], Outcome]
"""A life-cycle decision on the incident's current state (may raise IllegalTransition)."""
DecideMerge = Callable[[State, State], tuple[Outcome, Outcome]]
"""A merge decision on (target, absorbed): what becomes of each."""


class CommandStore(Protocol):
    """Incidents, their journal, dispatch orders and units, one atomic command at a time."""

    async def create(self, incident: Incident, actor: str, client: str | None,
                     data: dict[str, Any]) -> Incident:
        """Record an incident a person entered and journal it as `reported` (with `data`)."""
        ...

    async def transition(self, incident_id: str, decide: Decide, actor: str,
                         client: str | None, extra: dict[str, Any]) -> Incident:
        """Apply `decide` to the incident's current state atomically and journal it; when it
        closes the incident (resolved or false alarm), its open orders are cancelled and their
        units released in the same transaction, one `orders_cancelled` row listing them.
        NotFound for an unknown incident."""
        ...

    async def merge(self, target_id: str, absorbed_id: str, decide: DecideMerge, actor: str,
                    client: str | None) -> tuple[Incident, Incident]:
        """Merge one incident into another: open orders move to the target (its units work
        the same incident); both journaled."""
        ...

    async def note(self, incident_id: str, text: str, actor: str, client: str | None) -> None:
        """Add a note to an incident's journal."""
        ...

    async def note_event(self, incident_id: str, actor: str, action: str,
                         data: dict[str, Any], client: str | None = None) -> None:
        """Journal an event that changes nothing else; NotFound for an unknown incident."""
        ...

    async def incident(self, incident_id: str) -> Incident:
        """One incident, or NotFound."""
        ...

    async def list_incidents(self, *, status: Sequence[IncidentStatus] | None,
                             levels: Sequence[Level] | None, types: Sequence[str] | None,
                             since: datetime | None, limit: int) -> list[Incident]:
        """Incidents matching every given filter, most recently reported first."""
        ...

    async def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's journal, oldest first: dicts of seq, at, actor, action, client,
        data; NotFound for an unknown incident."""
        ...

    async def similar(self, incident: Incident, radius_m: float, days: int,
                      limit: int) -> list[Incident]:
        """Other incidents of its type within `radius_m`, reported at most `days` before it,
        nearest first."""
        ...

    async def dispatch(self, incident_id: str, plan: tuple[str, str] | None, level: Level,
                       assignments: Sequence[tuple[Requirement, str]], actor: str,
                       client: str | None, now: datetime,
                       respond: Decide | None, *, busy_ok: Collection[str] = (),
                       reason: str | None = None) -> list[Order]:
        """Issue one order per (task, unit), atomically: NotFound for an unknown unit,
        Conflict for a unit holding an open order (unless in `busy_ok`: sent on purpose, the
        dispatch's journal row names them under `busy_override` with `reason`) or named twice.
        `respond` moves the incident on in the same command."""
        ...

    async def orders(self, incident_id: str) -> list[Order]:
        """Every order of an incident, oldest first."""
        ...

    async def order(self, order_id: str) -> Order:
        """One order, or NotFound."""
        ...

    async def reassign(self, order_id: str, unit: str, actor: str, client: str | None,
                       now: datetime, *, busy_ok: Collection[str] = (),
                       reason: str | None = None) -> Order:
        """Cancel an open order and issue its task to `unit`, with the same time to
        acknowledge; Conflict when the order is done or cancelled or the unit is busy (unless
        in `busy_ok`: the journal row then carries `busy_override` and `reason`)."""
        ...

    async def release_unit(self, unit: str, status: Availability | None, actor: str,
                           client: str | None, reason: str, now: datetime) -> list[str]:
        """A leader releases a unit (status None: an order stage or unknown becomes available,
        out of service / off duty stay) or sets its status, with a reason: its open order is
        cancelled (journaled on its incident), the change kept in the unit's events; returns
        the cancelled order ids; NotFound for an unknown unit."""
        ...

    async def unit_events(self, unit: str) -> list[dict[str, Any]]:
        """What leaders did to a unit, oldest first: dicts of seq, at, actor, action, client,
        data (reason, from, to, orders)."""
        ...

    async def flag_stale(self, now: datetime, after: timedelta, actor: str) -> list[str]:
        """Flag open orders (issued, acknowledged, en route) without progress for `after`,
        journaled as `order_stale`; their units become unknown unless they reported since the
        order last moved or said they are out of service / off duty. Returns the ids flagged
        now (an order is flagged once; the unit's next ack clears it)."""
        ...

    async def check(self) -> list[Finding]:
        """Every failed invariant: a unit busy without an open order, an open order on a
        closed incident, an incident without a journal row."""
        ...

    async def busy_units(self) -> set[str]:
        """Every unit holding an open order."""
        ...

    async def unit_kind(self, unit: str) -> str | None:
        """The kind of a unit as it last reported it; None when unknown."""
        ...

    async def unit_points(self, online_since: datetime) -> list[UnitPoint]:
        """Units seen since `online_since`; unavailable if out of service or busy."""
        ...

    async def unit_changes(self, online_since: datetime, changed_since: datetime | None
                           ) -> UnitChanges:
        """Units seen since `online_since` whose record changed after `changed_since` (all
        when None); `available` from their own status only."""
        ...

    async def latest_wind(self, lat: float, lon: float, radius_m: float, since: datetime
                          ) -> tuple[float, float, str, datetime] | None:
        """The nearest station's latest wind since `since` within `radius_m`: (from degrees,
        m/s, sensor, time), or None."""
        ...

    async def casualties(self, incident_id: str) -> ReportCasualties:
        """The incident's casualty figures: per figure, the sum over sources (agency/source)
        of each source's latest report that carries figures; None where no source says."""
        ...

    async def daily_rows(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Incidents reported in [start, end), oldest first: id, type, level, status, lat,
        lon, reported_at, verified_at, first_on_scene_at."""
        ...
