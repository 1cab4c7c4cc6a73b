"""The feed ports in memory: a FeedStore/FeedView and a LiveWriter for unit tests.

They keep what the PostgreSQL store and the Redis live state keep, as far as ingest and the
contract tests (tests/integration/test_feed_store_contract.py) can see it. Not modelled:
the journal, dispatch orders moved by acks (`orders_moved` is always 0), units' availability
from statuses, and CAP alerts (refused: use PostgreSQL). `available = False` makes every
call fail as an unreachable server does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from incidents.cap import CapAlertMessage
from incidents.clock import Clock
from incidents.deadletters import StoredDeadLetter
from incidents.dispatch import DispatchOrderMessage
from incidents.errors import LiveUnavailable, StoreUnavailable
from incidents.feeds import BatchResult, Evaluate, UnitFix
from incidents.model import (
    Alarm,
    DeadLetter,
    Envelope,
    Inbound,
    Incident,
    IncidentStatus,
    Level,
    Observation,
    Position,
    Report,
    UnitState,
)
from incidents.outcomes import Correlated, KeyedIncident, OpenIncident, Outcome, UpdateIncident
from incidents.ports.feeds import PublishOrders

_SEVERITY = [Level.I, Level.II, Level.III, Level.IV]


class MemoryOutbox:
    """Dispatch orders waiting to be sent, in a list; `orders` is what tests add to it."""

    def __init__(self) -> None:
        self.orders: list[tuple[str, DispatchOrderMessage]] = []
        """(unit, order) pairs not yet sent, oldest first."""

    async def send_pending(self, publish: PublishOrders, now: datetime,
                           limit: int = 500) -> int:
        """Publish up to `limit` waiting orders; they stay if publishing fails."""
        batch = self.orders[:limit]
        if batch:
            await publish(batch)
            del self.orders[:len(batch)]
        return len(batch)


class MemoryFeedStore:
    """Feeds, units, incidents and dead letters in dictionaries."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.available = True
        """False: every call raises StoreUnavailable (an outage)."""
        self.writes = 0
        """Batches written (calls of `write_batch` that committed)."""
        self._positions: dict[str, UnitFix] = {}
        self._feeds: dict[tuple[str, str], Inbound] = {}
        self._reports: dict[str, Inbound] = {}
        self._units: dict[str, UnitState] = {}
        self._incidents: dict[str, Incident] = {}
        self._rule_keys: dict[str, str] = {}
        """Rule key -> incident id, for incidents the rules opened."""
        self._closed: dict[str, tuple[str, datetime]] = {}
        """Incident id -> (rule key, when closed)."""
        self._dead: list[StoredDeadLetter] = []
        self._outbox = MemoryOutbox()

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("the in-memory store is switched off")

    async def write_batch(
        self, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
        evaluate: Evaluate | None = None, watched: Callable[[Position], bool] | None = None,
        defer_units: bool = False,
    ) -> BatchResult:
        """Store a batch; ids already stored are ignored (see FeedStore.write_batch)."""
        self._check()
        if any(isinstance(i.message, CapAlertMessage) for i in inbound):
            raise NotImplementedError("CAP alerts are stored by PostgreSQL only")
        positions = [(i.envelope, i.message) for i in inbound
                     if isinstance(i.message, Position)]
        fixes = [_fix(e, p) for e, p in positions]
        positions_new = 0
        for fix in fixes:
            if fix.id not in self._positions:
                self._positions[fix.id] = fix
                positions_new += 1
        latest = _latest_per_unit(fixes)
        new_ids: set[str] = set()
        incidents: list[Incident] = []
        for item in inbound:
            message = item.message
            if isinstance(message, Position):
                continue
            if isinstance(message, Report):
                if message.id not in self._reports:
                    self._reports[message.id] = item
                    new_ids.add(message.id)
                    if evaluate is None:
                        incidents.append(self._open_for_report(item.envelope, message))
            elif (type(message).__name__, message.id) not in self._feeds:
                self._feeds[(type(message).__name__, message.id)] = item
                new_ids.add(message.id)
        followed = {id(i) for i in inbound if evaluate is not None and watched is not None
                    and isinstance(i.message, Position) and watched(i.message)}
        if evaluate is not None and (new_ids or followed):
            seen: set[str] = set()
            fresh = []
            for i in inbound:
                if (id(i) in followed or (i.message.id in new_ids and isinstance(
                        i.message, Report | Observation | Alarm))) and i.message.id not in seen:
                    seen.add(i.message.id)
                    fresh.append(i)
            incidents += self._apply(evaluate(fresh))
        for letter in dead:
            self._dead.append(StoredDeadLetter(len(self._dead) + 1, letter, None))
        plain = evaluate is None and not dead and all(
            isinstance(i.message, Position | Observation | Alarm) for i in inbound)
        if defer_units and plain:  # as PostgreSQL: only plain feeds leave units for later
            unit_fixes = latest
        else:
            self._move_units(latest)
            unit_fixes = []
        self.writes += 1
        return BatchResult(positions_new=positions_new, units=[_state(f) for f in latest],
                           incidents=incidents, dead_letters=len(dead),
                           unit_fixes=unit_fixes)

    async def open_reports(self, inbound: Sequence[Inbound], evaluate: Evaluate
                           ) -> BatchResult | None:
        """Always None: every batch takes `write_batch` (which the contract allows)."""
        self._check()
        return None

    async def update_units(self, fixes: Sequence[UnitFix]) -> None:
        """Move units to the latest of `fixes`; an older fix never moves a unit back."""
        self._check()
        self._move_units(_latest_per_unit(fixes))

    async def catch_up_units(self, window: timedelta = timedelta(minutes=1)) -> int:
        """Move units to the newest stored fix where `units` lags behind; return how many."""
        self._check()
        behind = [f for f in _latest_per_unit(list(self._positions.values()))
                  if f.unit not in self._units or self._units[f.unit].ts < f.ts]
        self._move_units(behind)
        return len(behind)

    async def open_rule_incidents(self) -> list[KeyedIncident]:
        """Open incidents the rules opened, for the rules to resume."""
        self._check()
        out = []
        for key, incident_id in self._rule_keys.items():
            incident = self._incidents[incident_id]
            if incident.status is IncidentStatus.CLOSED:
                continue
            out.append(KeyedIncident(key=key, level=incident.level, lat=incident.lat,
                                     lon=incident.lon, opened_at=incident.reported_at,
                                     last_report_at=None))
        return out

    async def closed_rule_keys(self, since: datetime) -> list[tuple[str, datetime]]:
        """Rule keys of incidents closed after `since`, oldest first."""
        self._check()
        return sorted((v for v in self._closed.values() if v[1] > since), key=lambda v: v[1])

    async def units(self, seen_since: datetime | None = None) -> list[UnitState]:
        """Every unit's latest state, by name."""
        self._check()
        return [u for _, u in sorted(self._units.items())
                if seen_since is None or u.ts >= seen_since]

    async def open_incidents(self) -> list[Incident]:
        """Incidents not closed, most recent first."""
        self._check()
        return sorted((i for i in self._incidents.values()
                       if i.status is not IncidentStatus.CLOSED),
                      key=lambda i: i.reported_at, reverse=True)

    def outbox(self, actor: str) -> MemoryOutbox:
        """The one outbox (every actor shares it)."""
        return self._outbox

    async def position_ids(self) -> list[str]:
        """Every stored position id."""
        self._check()
        return list(self._positions)

    async def dead_letters(self, limit: int = 100, *, reason: str | None = None,
                           pending_only: bool = False,
                           row_ids: Sequence[int] | None = None) -> list[StoredDeadLetter]:
        """The most recent dead letters first, filtered as asked."""
        self._check()
        wanted = None if row_ids is None else set(row_ids)
        return [d for d in reversed(self._dead)
                if (reason is None or d.letter.reason == reason)
                and (not pending_only or d.replayed_at is None)
                and (wanted is None or d.row_id in wanted)][:limit]

    def close_rule_incident(self, key: str) -> None:
        """Close the incident a rule opened under `key` (as a leader does)."""
        incident_id = self._rule_keys[key]
        now = self._clock.now()
        self._incidents[incident_id] = _replace(self._incidents[incident_id],
                                                status=IncidentStatus.CLOSED, updated_at=now)
        self._closed[incident_id] = (key, now)

    def _open_by_key(self, key: str) -> bool:
        incident_id = self._rule_keys.get(key)
        return incident_id is not None and incident_id not in self._closed

    def _move_units(self, fixes: Sequence[UnitFix]) -> None:
        for fix in fixes:
            unit = self._units.get(fix.unit)
            if unit is None or unit.ts < fix.ts:
                self._units[fix.unit] = _state(fix)

    def _open_for_report(self, envelope: Envelope, report: Report) -> Incident:
        incident = Incident(
            id=str(uuid.uuid4()), type=report.type, level=report.level or Level.IV,
            status=IncidentStatus.REPORTED, title=report.text[:120], lat=report.lat,
            lon=report.lon, reported_at=report.ts, updated_at=envelope.received_at,
            agency=envelope.agency, source_report=report.id)
        self._incidents[incident.id] = incident
        return incident

    def _apply(self, outcomes: Sequence[Outcome]) -> list[Incident]:
        now = self._clock.now()
        changed: dict[str, Incident] = {}
        for o in outcomes:
            if isinstance(o, OpenIncident):
                incident = Incident(
                    id=str(uuid.uuid4()), type=o.type, level=o.level,
                    status=IncidentStatus.REPORTED, title=o.title_zh[:120], lat=o.lat,
                    lon=o.lon, reported_at=now, updated_at=now, agency="rules",
                    source_report=o.evidence[0] if o.evidence else None)
                self._rule_keys[o.key] = incident.id
            elif isinstance(o, UpdateIncident) and self._open_by_key(o.key):
                current = self._incidents[self._rule_keys[o.key]]
                # Rules only ever raise the level (I is the most severe).
                level = min(o.level, current.level, key=_SEVERITY.index)
                incident = _replace(current, level=level, updated_at=now)
            elif isinstance(o, Correlated) and self._open_by_key(o.key):
                incident = self._incidents[self._rule_keys[o.key]]
            else:
                continue
            self._incidents[incident.id] = changed[incident.id] = incident
        return list(changed.values())


class MemoryLive:
    """The live state in dictionaries: units, open incidents, an epoch and statuses."""

    def __init__(self) -> None:
        self.available = True
        """False: every call raises LiveUnavailable (Redis away)."""
        self.units: dict[str, UnitState] = {}
        self.incidents: dict[str, Incident] = {}
        self.epoch = False
        """Set by a rebuild; clear it to simulate Redis losing everything."""
        self.statuses: dict[str, dict[str, Any]] = {}
        self.rebuilds = 0

    def _check(self) -> None:
        if not self.available:
            raise LiveUnavailable("the in-memory live state is switched off")

    async def apply(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> int:
        """Record newer unit fixes and incident changes; return how many entries changed."""
        self._check()
        changed = 0
        for unit in units:
            known = self.units.get(unit.unit)
            if known is None or known.ts < unit.ts:
                self.units[unit.unit] = unit
                changed += 1
        for incident in incidents:
            if incident.status is IncidentStatus.CLOSED:
                changed += self.incidents.pop(incident.id, None) is not None
            else:
                self.incidents[incident.id] = incident
                changed += 1
        return changed

    async def rebuild(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> None:
        """Replace everything."""
        self._check()
        self.units = {u.unit: u for u in units}
        self.incidents = {i.id: i for i in incidents}
        self.epoch = True
        self.rebuilds += 1

    async def has_epoch(self) -> bool:
        """False until the first rebuild (or after `epoch` was cleared)."""
        self._check()
        return self.epoch

    async def set_status(self, component: str, status: dict[str, Any],
                         ttl_s: int = 10) -> None:
        """Keep the component's latest heartbeat."""
        self._check()
        self.statuses[component] = status


def _fix(envelope: Envelope, p: Position) -> UnitFix:
    return UnitFix(p.id, p.unit, envelope.agency, envelope.source, p.ts, p.lat, p.lon,
                   p.speed, p.heading, p.accuracy, envelope.received_at, p.unit_type)


def _latest_per_unit(fixes: Sequence[UnitFix]) -> list[UnitFix]:
    latest: dict[str, UnitFix] = {}
    for fix in fixes:
        seen = latest.get(fix.unit)
        if seen is None or seen.ts <= fix.ts:
            latest[fix.unit] = fix
    return [latest[unit] for unit in sorted(latest)]


def _state(fix: UnitFix) -> UnitState:
    return UnitState(unit=fix.unit, agency=fix.agency, lat=fix.lat, lon=fix.lon, ts=fix.ts,
                     speed=fix.speed, heading=fix.heading, unit_type=fix.unit_type)


def _replace(incident: Incident, **changes: Any) -> Incident:
    return msgspec.structs.replace(incident, **changes)
