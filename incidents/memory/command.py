"""The command store in memory: the `CommandStore` port for unit tests and simulations.

It keeps what the PostgreSQL store keeps for the command side (incidents, journal, orders,
units, wind observations, order acks) in dicts, and answers as the SQL does; the contract
suite (tests/integration/test_command_store_contract.py) runs against both. What ingest would
write (unit fixes and statuses, acks, observations) is fed in with the `record_*` methods.
Every command runs without awaiting in between, so on one event loop it is atomic as a
transaction is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from incidents.clock import Clock, SystemClock
from incidents.dispatch import FINAL, OrderState, after_ack
from incidents.errors import Conflict, StoreUnavailable, not_found
from incidents.journal import Event
from incidents.lifecycle import Outcome, State, merge_events
from incidents.memory.switch import OutageSwitch
from incidents.model import (
    CASUALTY_FIELDS,
    AckState,
    Availability,
    Incident,
    IncidentStatus,
    Level,
    ReportCasualties,
)
from incidents.orders import Order, new_order, override_data, reassigned
from incidents.plans import Requirement
from incidents.ports.command import Decide, DecideMerge
from incidents.spatial import UnitChanges, UnitPoint
from incidents.unitstate import (
    ORDER_STAGES,
    OWN_WORD,
    Finding,
    busy_without_order,
    is_stale,
    open_order_on_closed,
    released,
    released_by_leader,
    without_journal,
)

DistanceM = Callable[[float, float, float, float], float]
"""Great-circle metres between (lat1, lon1) and (lat2, lon2)."""

# What a unit's availability becomes as its order moves on (as ingest's ack path sets it).
_AVAILABILITY = {
    OrderState.ACKNOWLEDGED: Availability.ENGAGED, OrderState.EN_ROUTE: Availability.EN_ROUTE,
    OrderState.ON_SCENE: Availability.ON_SCENE, OrderState.DONE: Availability.AVAILABLE,
    OrderState.REJECTED: Availability.AVAILABLE,
}


def _listed(order: Order) -> dict[str, str]:
    """An order as a journal row lists it."""
    return {"order": order.id, "unit": order.unit, "task": order.task_id,
            "from_state": order.state.value}


@dataclass(slots=True)
class _Row:
    """An incident with the columns the Incident record does not carry."""

    incident: Incident
    verified_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    merged_into: str | None = None


@dataclass(slots=True)
class _Unit:
    """A unit as the units table holds it."""

    unit: str
    agency: str
    unit_type: str | None
    lat: float
    lon: float
    last_ts: datetime
    updated_at: datetime
    availability: Availability | None = None
    availability_ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Observation:
    sensor: str
    quantity: str
    value: float
    lat: float
    lon: float
    ts: datetime


@dataclass(slots=True)
class _Tables:
    incidents: dict[str, _Row] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    units: dict[str, _Unit] = field(default_factory=dict)
    observations: list[_Observation] = field(default_factory=list)
    acks: list[tuple[str, AckState, datetime]] = field(default_factory=list)
    casualties: list[tuple[str, str, datetime, ReportCasualties]] = field(default_factory=list)
    """Reports with casualty figures: (incident, agency/source, report time, figures)."""


class MemoryCommandStore(OutageSwitch):
    """Incidents, journal, orders and units in memory; `outage()` makes it unavailable.

    `distance_m` measures radii: `incidents/` does not import `maps/`, so the caller passes
    maps' haversine (PostgreSQL's earthdistance uses a 0.1 % larger sphere; the contract
    keeps clear of that margin).
    """

    def __init__(self, distance_m: DistanceM, clock: Clock | None = None) -> None:
        self._distance_m = distance_m
        self._clock = clock or SystemClock()
        self._t = _Tables()
        self._unit_events: list[dict[str, Any]] = []

    # --- test and simulation controls -----------------------------------------------------


    def record_fix(self, unit: str, agency: str, lat: float, lon: float, ts: datetime,
                   unit_type: str | None = None) -> None:
        """A unit's position fix, as ingest stores it (an older fix never moves a unit)."""
        self._check()
        now = self._clock.now()
        seen = self._t.units.get(unit)
        if seen is None:
            self._t.units[unit] = _Unit(unit, agency, unit_type, lat, lon, ts, now)
        elif seen.last_ts <= ts:  # as the SQL upsert: an equal time moves it too
            seen.agency, seen.lat, seen.lon, seen.last_ts, seen.updated_at = (
                agency, lat, lon, ts, now)
            seen.unit_type = unit_type or seen.unit_type

    def record_status(self, unit: str, availability: Availability, ts: datetime) -> None:
        """A unit's own status report (out of service, available …); an older one is ignored."""
        self._check()
        seen = self._t.units.get(unit)
        if seen is not None and (seen.availability_ts is None or seen.availability_ts <= ts):
            seen.availability, seen.availability_ts = availability, ts
            seen.updated_at = self._clock.now()
            if availability is Availability.AVAILABLE:  # its word wins over its open order
                for order in self._open_of(unit):
                    if order.updated_at <= ts:
                        self._cancel(order, ts)
                        self._append([Event(order.incident_id, f"{seen.agency}/{unit}",
                                            "orders_cancelled", {
                                                "reason": "unit_reported_available",
                                                "orders": [_listed(order)]}, unit)])

    def record_ack(self, order_id: str, unit: str, state: AckState, ts: datetime,
                   agency: str = "") -> None:
        """A unit's ack of an order: kept, and the order moves on when it is its own unit's."""
        self._check()
        self._t.acks.append((order_id, state, ts))
        order = self._t.orders.get(order_id)
        if order is None:
            return
        actor = f"{agency}/{unit}"
        if unit != order.unit:
            self._append([Event(order.incident_id, actor, "order_ack_refused", {
                "order": order.id, "unit": unit, "order_unit": order.unit,
                "reason": "unit_mismatch"})])
            return
        moved = after_ack(order.state, state)
        if moved is None:
            return
        self._t.orders[order_id] = msgspec.structs.replace(order, state=moved, updated_at=ts,
                                                           stale_at=None)
        held = self._t.units.get(order.unit)
        if held is not None:  # the order's stage decides, whatever the unit said before
            held.availability, held.availability_ts = _AVAILABILITY[moved], ts
            held.updated_at = self._clock.now()
        self._append([Event(order.incident_id, actor, "order_ack", {
            "order": order.id, "unit": order.unit, "task": order.task_id,
            "from_state": order.state.value, "state": moved.value})])

    def record_casualties(self, incident_id: str, source: str, ts: datetime,
                          figures: ReportCasualties) -> None:
        """A report's casualty figures, as ingest stores a report linked to the incident."""
        self._check()
        self._t.casualties.append((incident_id, source, ts, figures))

    def record_observation(self, sensor: str, quantity: str, value: float, lat: float,
                           lon: float, ts: datetime) -> None:
        """A sensor's observation (wind_direction in degrees from, wind_speed in m/s …)."""
        self._check()
        self._t.observations.append(_Observation(sensor, quantity, value, lat, lon, ts))

    # --- the port -------------------------------------------------------------------------

    async def create(self, incident: Incident, actor: str, client: str | None,
                     data: dict[str, Any]) -> Incident:
        """Record an incident a person entered and journal it."""
        self._check()
        self._t.incidents[incident.id] = _Row(incident)
        self._append([Event(incident.id, actor, "reported", {
            "type": incident.type, "level": incident.level.value, "title": incident.title,
            **data}, client)])
        return incident

    async def transition(self, incident_id: str, decide: Decide, actor: str,
                         client: str | None, extra: dict[str, Any]) -> Incident:
        """Apply a life-cycle decision to the incident and journal it."""
        row = self._row(incident_id)
        outcome = decide(State(status=row.incident.status, level=row.incident.level))
        updated = self._write_state(row, outcome)
        events = [Event(incident_id, actor, outcome.action.value, {**outcome.data, **extra},
                        client)]
        if outcome.state.status is IncidentStatus.CLOSED:  # closed, false alarm included
            now = self._clock.now()
            ended = sorted((o for o in self._t.orders.values()
                            if o.incident_id == incident_id and o.state not in FINAL),
                           key=lambda o: o.id)
            for order in ended:
                self._cancel(order, now)
                self._release_by_system(order.unit)
            if ended:
                events.append(Event(incident_id, actor, "orders_cancelled", {
                    "reason": f"incident_closed:{outcome.data.get('resolution', '')}",
                    "orders": [_listed(o) for o in ended]}, client))
        self._append(events)
        return updated

    async def merge(self, target_id: str, absorbed_id: str, decide: DecideMerge, actor: str,
                    client: str | None) -> tuple[Incident, Incident]:
        """Merge one incident into another: open orders move, the journal says so."""
        target, absorbed = self._row(target_id), self._row(absorbed_id)
        kept, gone = decide(State(status=target.incident.status, level=target.incident.level),
                            State(status=absorbed.incident.status,
                                  level=absorbed.incident.level))
        new_target = self._write_state(target, kept)
        new_absorbed = self._write_state(absorbed, gone, merged_into=target_id)
        for order in list(self._t.orders.values()):
            if order.incident_id == absorbed_id and order.state not in FINAL:
                self._t.orders[order.id] = msgspec.structs.replace(order,
                                                                   incident_id=target_id)
        self._append(merge_events(target_id, absorbed_id, kept, gone, actor, client))
        return new_target, new_absorbed

    async def note(self, incident_id: str, text: str, actor: str, client: str | None) -> None:
        """Add a note to an incident's journal."""
        await self.note_event(incident_id, actor, "note", {"text": text}, client)

    async def note_event(self, incident_id: str, actor: str, action: str,
                         data: dict[str, Any], client: str | None = None) -> None:
        """Journal an event that changes nothing else."""
        self._row(incident_id)
        self._append([Event(incident_id, actor, action, data, client)])

    async def incident(self, incident_id: str) -> Incident:
        """One incident, or NotFound."""
        return self._row(incident_id).incident

    async def list_incidents(self, *, status: Sequence[IncidentStatus] | None,
                             levels: Sequence[Level] | None, types: Sequence[str] | None,
                             since: datetime | None, limit: int) -> list[Incident]:
        """Incidents matching every given filter, most recent first."""
        self._check()
        found = [r.incident for r in self._t.incidents.values()
                 if (not status or r.incident.status in status)
                 and (not levels or r.incident.level in levels)
                 and (not types or r.incident.type in types)
                 and (since is None or r.incident.reported_at >= since)]
        return sorted(found, key=lambda i: i.reported_at, reverse=True)[:limit]

    async def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's journal, oldest first."""
        self._row(incident_id)
        return [{"seq": e["seq"], "at": e["at"], "actor": e["actor"], "action": e["action"],
                 "client": e["client"], "data": json.loads(e["data"])}
                for e in self._t.journal if e["incident_id"] == incident_id]

    async def similar(self, incident: Incident, radius_m: float, days: int,
                      limit: int) -> list[Incident]:
        """Earlier incidents of the same type near this one, nearest first."""
        self._check()
        earliest = incident.reported_at - timedelta(days=days)
        near = [(d, r.incident) for r in self._t.incidents.values()
                if r.incident.type == incident.type and r.incident.id != incident.id
                and r.incident.reported_at >= earliest
                and (d := self._distance_m(incident.lat, incident.lon, r.incident.lat,
                                           r.incident.lon)) <= radius_m]
        return [i for _, i in sorted(near, key=lambda pair: pair[0])][:limit]

    async def dispatch(self, incident_id: str, plan: tuple[str, str] | None, level: Level,
                       assignments: Sequence[tuple[Requirement, str]], actor: str,
                       client: str | None, now: datetime,
                       respond: Decide | None, *, busy_ok: Collection[str] = (),
                       reason: str | None = None) -> list[Order]:
        """Issue one order per (task, unit); units in `busy_ok` may hold an open order."""
        row = self._row(incident_id)
        units = [unit for _, unit in assignments]
        missing = [u for u in units if u not in self._t.units]
        if missing:
            raise not_found("unit", ", ".join(missing))
        held = set(units) & self._busy()
        busy = sorted(held - set(busy_ok))
        override = sorted(held & set(busy_ok))
        if busy or len(set(units)) != len(units):
            taken = busy or sorted({u for u in units if units.count(u) > 1})
            raise Conflict(f"单位 {', '.join(taken)} 已有未完成的任务或被重复指派",
                           f"unit(s) {', '.join(taken)} already hold an open order or are"
                           " assigned twice")
        events: list[Event] = []
        if respond is not None:
            outcome = respond(State(status=row.incident.status, level=row.incident.level))
            self._write_state(row, outcome)
            events.append(Event(incident_id, actor, outcome.action.value, outcome.data, client))
        dispatch_id = str(uuid.uuid4())
        orders = [new_order(req, unit, self._t.units[unit].agency, incident_id, dispatch_id,
                            actor, now) for req, unit in assignments]
        self._t.orders.update((o.id, o) for o in orders)
        events.append(Event(incident_id, actor, "dispatch", {
            "dispatch": dispatch_id, "plan": plan[0] if plan else None,
            "plan_version": plan[1] if plan else None, "level": level.value,
            "orders": [{"order": o.id, "unit": o.unit, "task": o.task_id} for o in orders],
            **override_data(override, reason),
        }, client))
        self._append(events)
        return orders

    async def orders(self, incident_id: str) -> list[Order]:
        """Every order of an incident, oldest first."""
        self._check()
        return sorted((o for o in self._t.orders.values() if o.incident_id == incident_id),
                      key=lambda o: (o.issued_at, o.id))

    async def order(self, order_id: str) -> Order:
        """One order, or NotFound."""
        self._check()
        found = self._t.orders.get(order_id)
        if found is None:
            raise not_found("order", order_id)
        return found

    async def reassign(self, order_id: str, unit: str, actor: str, client: str | None,
                       now: datetime, *, busy_ok: Collection[str] = (),
                       reason: str | None = None) -> Order:
        """Cancel an open order and issue the same task to another unit (which may hold an
        open order when in `busy_ok`)."""
        old = await self.order(order_id)
        if old.state in (OrderState.DONE, OrderState.CANCELLED):
            raise Conflict(f"指令 {order_id} 已{old.state.value}，不能改派",
                           f"order {order_id} is {old.state.value} and cannot be reassigned")
        self._row(old.incident_id)
        if unit not in self._t.units:
            raise not_found("unit", unit)
        override = [unit] if unit in self._busy() else []
        if override and unit not in busy_ok:
            raise Conflict(f"单位 {unit} 已有未完成的任务", f"unit {unit} holds an open order")
        self._t.orders[order_id] = msgspec.structs.replace(
            old, state=OrderState.CANCELLED, updated_at=now)
        self._release_by_system(old.unit)
        new = reassigned(old, unit, self._t.units[unit].agency, actor, now)
        self._t.orders[new.id] = new
        self._append([Event(old.incident_id, actor, "reassign", {
            "order": order_id, "from_unit": old.unit, "new_order": new.id, "unit": unit,
            "task": old.task_id, **override_data(override, reason)}, client)])
        return new

    async def release_unit(self, unit: str, status: Availability | None, actor: str,
                           client: str | None, reason: str, now: datetime) -> list[str]:
        """A leader releases a unit (status None) or sets its status, with a reason."""
        self._check()
        held = self._t.units.get(unit)
        if held is None:
            raise not_found("unit", unit)
        was = held.availability
        ended = self._open_of(unit)
        for order in ended:
            self._cancel(order, now)
        new = released_by_leader(was) if status is None else status
        if new is not None:
            held.availability, held.availability_ts = new, now
            held.updated_at = self._clock.now()
        action = "release" if status is None else "set_status"
        self._unit_events.append({
            "seq": len(self._unit_events) + 1, "at": now, "unit": unit, "actor": actor,
            "action": action, "client": client, "data": json.dumps({
                "reason": reason, "from": was.value if was else None,
                "to": (new or was or Availability.AVAILABLE).value,
                "orders": [o.id for o in ended]}, ensure_ascii=False)})
        self._append([Event(o.incident_id, actor, "orders_cancelled", {
            "reason": reason, "by": action, "orders": [_listed(o)]}, client) for o in ended])
        return [o.id for o in ended]

    async def unit_events(self, unit: str) -> list[dict[str, Any]]:
        """What leaders did to a unit, oldest first."""
        self._check()
        return [{"seq": e["seq"], "at": e["at"], "actor": e["actor"], "action": e["action"],
                 "client": e["client"], "data": json.loads(e["data"])}
                for e in self._unit_events if e["unit"] == unit]

    async def flag_stale(self, now: datetime, after: timedelta, actor: str) -> list[str]:
        """Flag open orders without progress for `after`; their units become unknown."""
        self._check()
        flagged = sorted((o for o in self._t.orders.values()
                          if is_stale(o.state, o.updated_at, o.stale_at, now, after)),
                         key=lambda o: o.id)
        for order in flagged:
            self._t.orders[order.id] = msgspec.structs.replace(order, stale_at=now)
            held = self._t.units.get(order.unit)
            if held is not None and held.availability not in OWN_WORD and (
                    held.availability_ts is None or held.availability_ts <= order.updated_at):
                held.availability = Availability.UNKNOWN
                held.updated_at = self._clock.now()
        minutes = round(after.total_seconds() / 60)
        self._append([Event(o.incident_id, actor, "order_stale", {
            "order": o.id, "unit": o.unit, "task": o.task_id, "state": o.state.value,
            "minutes": minutes}) for o in flagged])
        return [o.id for o in flagged]

    async def check(self) -> list[Finding]:
        """Every failed invariant of units, orders, incidents and the journal."""
        self._check()
        busy = self._busy()
        findings = [busy_without_order(u.unit, u.availability.value)
                    for u in sorted(self._t.units.values(), key=lambda u: u.unit)
                    if u.availability in ORDER_STAGES and u.unit not in busy]
        findings += [open_order_on_closed(o.unit, o.id, o.incident_id, o.state.value)
                     for o in sorted(self._t.orders.values(), key=lambda o: o.unit)
                     if o.state not in FINAL and (row := self._t.incidents.get(o.incident_id))
                     is not None and row.incident.status is IncidentStatus.CLOSED]
        journaled = {e["incident_id"] for e in self._t.journal}
        findings += [without_journal(r.incident.id)
                     for r in sorted(self._t.incidents.values(),
                                     key=lambda r: r.incident.reported_at)
                     if r.incident.id not in journaled]
        return findings

    async def busy_units(self) -> set[str]:
        """Every unit holding an open order."""
        self._check()
        return self._busy()

    async def unit_kind(self, unit: str) -> str | None:
        """The kind of a unit as it last reported it."""
        self._check()
        found = self._t.units.get(unit)
        return found.unit_type if found else None

    async def unit_points(self, online_since: datetime) -> list[UnitPoint]:
        """Units seen since `online_since`; busy if out of service or holding an open order."""
        changes = await self.unit_changes(online_since, None)
        busy = self._busy()
        return [msgspec.structs.replace(p, available=p.available and p.unit not in busy)
                for p in changes.points]

    async def unit_changes(self, online_since: datetime, changed_since: datetime | None
                           ) -> UnitChanges:
        """Units seen since `online_since` whose record changed after `changed_since`."""
        self._check()
        rows = [u for u in self._t.units.values() if u.last_ts >= online_since
                and (changed_since is None or u.updated_at > changed_since)]
        return UnitChanges(
            points=[UnitPoint(unit=u.unit, agency=u.agency, unit_kind=u.unit_type, lat=u.lat,
                              lon=u.lon, available=u.availability in (None,
                                                                      Availability.AVAILABLE))
                    for u in rows],
            last_seen={u.unit: u.last_ts for u in rows},
            watermark=max((u.updated_at for u in rows), default=changed_since))

    async def latest_wind(self, lat: float, lon: float, radius_m: float, since: datetime
                          ) -> tuple[float, float, str, datetime] | None:
        """The nearest station's latest wind (from degrees, m/s, sensor, time), or None."""
        self._check()
        recent = [o for o in self._t.observations if o.ts >= since]
        speeds: dict[str, _Observation] = {}
        for o in recent:
            if o.quantity == "wind_speed" and (o.sensor not in speeds
                                               or speeds[o.sensor].ts < o.ts):
                speeds[o.sensor] = o
        found = [(d, -o.ts.timestamp(), o) for o in recent
                 if o.quantity == "wind_direction" and o.sensor in speeds
                 and (d := self._distance_m(lat, lon, o.lat, o.lon)) <= radius_m]
        if not found:
            return None
        _, _, best = min(found, key=lambda f: (f[0], f[1]))
        return best.value % 360.0, speeds[best.sensor].value, best.sensor, best.ts

    async def casualties(self, incident_id: str) -> ReportCasualties:
        """Per figure, the sum of each source's latest report carrying casualty figures."""
        self._check()
        latest: dict[str, tuple[datetime, ReportCasualties]] = {}
        for incident, source, ts, figures in self._t.casualties:
            said = any(getattr(figures, f) is not None for f in CASUALTY_FIELDS)
            if incident == incident_id and said and (
                    source not in latest or latest[source][0] <= ts):
                latest[source] = (ts, figures)
        sums: dict[str, int | None] = {}
        for f in CASUALTY_FIELDS:
            values = [getattr(c, f) for _, c in latest.values() if getattr(c, f) is not None]
            sums[f] = sum(values) if values else None
        return ReportCasualties(**sums)

    async def daily_rows(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Incidents reported in [start, end) with when they were verified and first reached."""
        self._check()
        on_scene: dict[str, datetime] = {}
        for order_id, state, ts in self._t.acks:
            order = self._t.orders.get(order_id)
            if order is not None and state is AckState.ON_SCENE:
                seen = on_scene.get(order.incident_id)
                on_scene[order.incident_id] = ts if seen is None else min(seen, ts)
        rows = sorted((r for r in self._t.incidents.values()
                       if start <= r.incident.reported_at < end),
                      key=lambda r: r.incident.reported_at)
        return [{"id": i.id, "type": i.type, "level": i.level.value, "status": i.status.value,
                 "lat": i.lat, "lon": i.lon, "reported_at": i.reported_at,
                 "verified_at": r.verified_at, "first_on_scene_at": on_scene.get(i.id)}
                for r in rows for i in (r.incident,)]

    # --- helpers --------------------------------------------------------------------------

    def _check(self) -> None:
        if self._down:
            raise StoreUnavailable("the in-memory store is in a simulated outage")

    def _row(self, incident_id: str) -> _Row:
        self._check()
        found = self._t.incidents.get(incident_id)
        if found is None:
            raise not_found("incident", incident_id)
        return found

    def _busy(self) -> set[str]:
        return {o.unit for o in self._t.orders.values() if o.state not in FINAL}

    def _open_of(self, unit: str) -> list[Order]:
        return [o for o in self._t.orders.values() if o.unit == unit and o.state not in FINAL]

    def _cancel(self, order: Order, now: datetime) -> None:
        self._t.orders[order.id] = msgspec.structs.replace(order, state=OrderState.CANCELLED,
                                                           updated_at=now)

    def _release_by_system(self, unit: str) -> None:
        held = self._t.units.get(unit)
        if held is not None and (new := released(held.availability)) is not None:
            held.availability, held.updated_at = new, self._clock.now()

    def _write_state(self, row: _Row, outcome: Outcome, merged_into: str | None = None
                     ) -> Incident:
        state, now = outcome.state, self._clock.now()
        closed = state.status is IncidentStatus.CLOSED
        row.incident = msgspec.structs.replace(row.incident, status=state.status,
                                               level=state.level, updated_at=now)
        if state.status is IncidentStatus.VERIFIED and row.verified_at is None:
            row.verified_at = now
        row.closed_at = now if closed else None
        row.resolution = outcome.data.get("resolution") if closed else None
        row.merged_into = merged_into or row.merged_into
        return row.incident

    def _append(self, events: Sequence[Event]) -> None:
        # Stored as the JSON PostgreSQL keeps, so a reader never shares the caller's dicts.
        at = self._clock.now()
        for event in events:
            self._t.journal.append({
                "seq": len(self._t.journal) + 1, "at": at, "incident_id": event.incident_id,
                "actor": event.actor, "action": event.action, "client": event.client,
                "data": json.dumps(event.data, ensure_ascii=False)})

