"""SQL of the leaders' commands: incident transitions, notes, merges, dispatches and orders.

Each command is one transaction: lock the rows it changes, let the pure life cycle decide,
write, and journal last (the chain head is the last lock everywhere).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from incidents.dispatch import OrderState
from incidents.errors import Conflict
from incidents.errors import not_found as _not_found
from incidents.journal import Event, JournalKeyError
from incidents.lifecycle import Outcome, State, merge_events
from incidents.model import Availability, Incident, IncidentStatus, Level, ReportCasualties
from incidents.orders import Order, override_data
from incidents.orders import new_order as _new_order
from incidents.plans import Requirement
from incidents.spatial import UnitChanges, UnitPoint
from incidents.store import unitstate_sql
from incidents.store.incident_sql import INCIDENT_COLUMNS, incident_from_row, insert_incident
from incidents.store.journal_sql import JournalWriter
from incidents.store.session import connection, transaction
from incidents.unitstate import Finding

_CHUNK = 1000
"""Rows turned into objects between two yields to the event loop."""

ORDER_COLUMNS = ("id, dispatch_id, incident_id, unit, agency, task_id, task, state, issued_by,"
                 " issued_at, deadline_at, sent_at, send_count, escalated_at, replaces,"
                 " updated_at, stale_at")


def order_from_row(r: asyncpg.Record) -> Order:
    """An order from a row with ORDER_COLUMNS."""
    return Order(
        id=r["id"], incident_id=str(r["incident_id"]),
        dispatch_id=str(r["dispatch_id"]) if r["dispatch_id"] else None, unit=r["unit"],
        agency=r["agency"], task_id=r["task_id"], task=json.loads(r["task"]),
        state=OrderState(r["state"]), issued_by=r["issued_by"], issued_at=r["issued_at"],
        deadline_at=r["deadline_at"], sent_at=r["sent_at"], send_count=r["send_count"],
        escalated_at=r["escalated_at"], replaces=r["replaces"], updated_at=r["updated_at"],
        stale_at=r["stale_at"],
    )


def _incident_key(incident_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(incident_id)
    except ValueError:
        raise _not_found("incident", incident_id) from None


class CommandStore:
    """Writes of the command service; reads that only it needs."""

    def __init__(self, pool: asyncpg.Pool, journal: JournalWriter | None) -> None:
        self._pool = pool
        self._journal = journal

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[asyncpg.Connection]:
        if self._journal is None:
            raise JournalKeyError("the store has no journal key: set SITROOM_JOURNAL_KEY")
        async with transaction(self._pool) as conn:
            yield conn

    async def _append(self, conn: asyncpg.Connection, events: Sequence[Event]) -> None:
        assert self._journal is not None  # checked by _tx
        await self._journal.append(conn, events)

    async def _lock(self, conn: asyncpg.Connection, incident_id: str) -> Incident:
        key = _incident_key(incident_id)
        row = await conn.fetchrow(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE", key)
        if row is None:
            raise _not_found("incident", incident_id)
        return incident_from_row(row)

    async def create(self, incident: Incident, actor: str, client: str | None,
                     data: dict[str, Any]) -> Incident:
        """Record an incident a person entered (接报) and journal it."""
        async with self._tx() as conn:
            await insert_incident(conn, incident)
            await self._append(conn, [Event(incident.id, actor, "reported", {
                "type": incident.type, "level": incident.level.value, "title": incident.title,
                **data}, client)])
        return incident

    async def transition(self, incident_id: str, decide: Callable[[State], Outcome],
                         actor: str, client: str | None, extra: dict[str, Any]) -> Incident:
        """Apply a life-cycle decision to the locked incident and journal it."""
        async with self._tx() as conn:
            current = await self._lock(conn, incident_id)
            outcome = decide(State(status=current.status, level=current.level))
            updated = await self._write_state(conn, current, outcome)
            events = [Event(incident_id, actor, outcome.action.value,
                            {**outcome.data, **extra}, client)]
            if outcome.state.status is IncidentStatus.CLOSED:  # closed, false alarm included
                events += await unitstate_sql.cancel_open_orders(
                    conn, incident_id, actor, client,
                    f"incident_closed:{outcome.data.get('resolution', '')}")
            await self._append(conn, events)
        return updated

    async def _write_state(self, conn: asyncpg.Connection, current: Incident,
                           outcome: Outcome, merged_into: str | None = None) -> Incident:
        state = outcome.state
        row = await conn.fetchrow(
            "UPDATE incidents SET status = $2, level = $3, updated_at = now(),"
            " verified_at = CASE WHEN $2 = 'verified' AND verified_at IS NULL THEN now()"
            " ELSE verified_at END,"
            " closed_at = CASE WHEN $2 = 'closed' THEN now() ELSE NULL END,"
            " resolution = CASE WHEN $2 = 'closed' THEN $4 ELSE NULL END,"
            " merged_into = coalesce($5, merged_into)"
            f" WHERE id = $1 RETURNING {INCIDENT_COLUMNS}",
            uuid.UUID(current.id), state.status.value, state.level.value,
            outcome.data.get("resolution"), uuid.UUID(merged_into) if merged_into else None)
        return incident_from_row(row)

    async def merge(self, target_id: str, absorbed_id: str,
                    decide: Callable[[State, State], tuple[Outcome, Outcome]],
                    actor: str, client: str | None) -> tuple[Incident, Incident]:
        """Merge one incident into another: reports and open orders move, the journal says so."""
        async with self._tx() as conn:
            # Lock in id order: two leaders merging the same pair both ways cannot deadlock.
            first, second = sorted([target_id, absorbed_id])
            locked = {first: await self._lock(conn, first)}
            if second != first:
                locked[second] = await self._lock(conn, second)
            target, absorbed = locked[target_id], locked[absorbed_id]
            kept, gone = decide(State(status=target.status, level=target.level),
                                State(status=absorbed.status, level=absorbed.level))
            new_target = await self._write_state(conn, target, kept)
            new_absorbed = await self._write_state(conn, absorbed, gone, merged_into=target_id)
            await conn.execute("UPDATE reports SET incident_id = $1 WHERE incident_id = $2",
                               uuid.UUID(target_id), uuid.UUID(absorbed_id))
            await conn.execute(
                "UPDATE dispatch_orders SET incident_id = $1 WHERE incident_id = $2"
                " AND state NOT IN ('done', 'rejected', 'cancelled')",
                uuid.UUID(target_id), uuid.UUID(absorbed_id))
            await self._append(conn, merge_events(target_id, absorbed_id, kept, gone, actor,
                                                  client))
        return new_target, new_absorbed

    async def note(self, incident_id: str, text: str, actor: str, client: str | None) -> None:
        """Add a note to an incident's journal."""
        await self.note_event(incident_id, actor, "note", {"text": text}, client)

    async def note_event(self, incident_id: str, actor: str, action: str,
                         data: dict[str, Any], client: str | None = None) -> None:
        """Journal an event that changes nothing else (a note, a report issued, a recording).

        The incident row is not locked (nothing of it changes); the journal's foreign key
        refuses an incident that does not exist.
        """
        key = _incident_key(incident_id)
        try:
            async with self._tx() as conn:
                await self._append(conn, [Event(str(key), actor, action, data, client)])
        except asyncpg.ForeignKeyViolationError:
            raise _not_found("incident", incident_id) from None

    async def casualties(self, incident_id: str) -> ReportCasualties:
        """Per figure, the sum of each source's latest report carrying casualty figures."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                "SELECT sum(deaths)::int AS deaths, sum(injured)::int AS injured,"
                " sum(missing)::int AS missing, sum(trapped)::int AS trapped FROM ("
                " SELECT DISTINCT ON (agency, source) deaths, injured, missing, trapped"
                " FROM reports WHERE incident_id = $1"
                " AND num_nonnulls(deaths, injured, missing, trapped) > 0"
                " ORDER BY agency, source, ts DESC, received_at DESC) AS latest",
                uuid.UUID(incident_id))
        return ReportCasualties(**dict(row.items())) if row else ReportCasualties()

    async def daily_rows(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Incidents reported in [start, end) with when they were verified and first reached."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT i.id::text AS id, i.type, i.level, i.status, i.lat, i.lon,"
                " i.reported_at, i.verified_at, (SELECT min(a.ts) FROM order_acks a"
                "  JOIN dispatch_orders o ON o.id = a.order_id"
                "  WHERE o.incident_id = i.id AND a.state = 'on_scene') AS first_on_scene_at"
                " FROM incidents i WHERE i.reported_at >= $1 AND i.reported_at < $2"
                " ORDER BY i.reported_at", start, end)
        return [dict(r.items()) for r in rows]

    async def latest_wind(self, lat: float, lon: float, radius_m: float, since: datetime
                          ) -> tuple[float, float, str, datetime] | None:
        """The nearest station's latest wind (from degrees, m/s, sensor, time), or None.

        Weather feeds publish `wind_direction` (degrees, where the wind blows from) and
        `wind_speed` (m/s) observations; both must come from the same sensor.
        """
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                "SELECT d.value AS from_deg, s.value AS speed, d.sensor, d.ts FROM observations d"
                " JOIN LATERAL (SELECT value FROM observations s WHERE s.sensor = d.sensor"
                "  AND s.quantity = 'wind_speed' AND s.ts >= $4 ORDER BY s.ts DESC LIMIT 1) s"
                "  ON true"
                " WHERE d.quantity = 'wind_direction' AND d.ts >= $4"
                " AND earth_distance(ll_to_earth($1, $2), ll_to_earth(d.lat, d.lon)) <= $3"
                " ORDER BY earth_distance(ll_to_earth($1, $2), ll_to_earth(d.lat, d.lon)),"
                " d.ts DESC LIMIT 1", lat, lon, radius_m, since)
        if row is None:
            return None
        return float(row["from_deg"]) % 360.0, float(row["speed"]), row["sensor"], row["ts"]

    async def unit_points(self, online_since: datetime) -> list[UnitPoint]:
        """Units seen since `online_since`; busy if out of service or holding an open order."""
        changes = await self.unit_changes(online_since, None)
        busy = await self.busy_units()
        return [msgspec.structs.replace(p, available=p.available and p.unit not in busy)
                for p in changes.points]

    async def unit_changes(self, online_since: datetime, changed_since: datetime | None
                           ) -> UnitChanges:
        """Units seen since `online_since` whose row changed after `changed_since` (all when
        None), with `available` from their own status only (orders aside)."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT unit, agency, unit_type, lat, lon, last_ts, updated_at,"
                " coalesce(availability, 'available') = 'available' AS available"
                " FROM units WHERE last_ts >= $1 AND ($2::timestamptz IS NULL"
                " OR updated_at > $2)", online_since, changed_since)
        points: list[UnitPoint] = []
        for start in range(0, len(rows), _CHUNK):
            points += [UnitPoint(unit=r["unit"], agency=r["agency"], unit_kind=r["unit_type"],
                                 lat=r["lat"], lon=r["lon"], available=r["available"])
                       for r in rows[start:start + _CHUNK]]
            await asyncio.sleep(0)  # let a waiting request (a proposal) run between chunks
        return UnitChanges(
            points=points, last_seen={r["unit"]: r["last_ts"] for r in rows},
            watermark=max((r["updated_at"] for r in rows), default=changed_since))

    async def busy_units(self) -> set[str]:
        """Every unit holding an open order (an index-only scan: see migration 0006)."""
        async with connection(self._pool) as conn:
            return {r["unit"] for r in await conn.fetch(
                "SELECT unit FROM dispatch_orders"
                " WHERE state NOT IN ('done', 'rejected', 'cancelled')")}

    async def dispatch(self, incident_id: str, plan: tuple[str, str] | None, level: Level,
                       assignments: Sequence[tuple[Requirement, str]], actor: str,
                       client: str | None, now: datetime,
                       respond: Callable[[State], Outcome] | None, *,
                       busy_ok: Collection[str] = (), reason: str | None = None
                       ) -> list[Order]:
        """Issue one order per (task, unit); they wait in the outbox until ingest sends them.

        `respond` moves a verified incident to responding in the same transaction. A unit in
        `busy_ok` that holds an open order is sent all the same, its order marked (0011).
        """
        async with self._tx() as conn:
            incident = await self._lock(conn, incident_id)
            units = [unit for _, unit in assignments]
            known = {r["unit"]: r["agency"] for r in await conn.fetch(
                "SELECT unit, agency FROM units WHERE unit = ANY($1::text[])", units)}
            missing = [u for u in units if u not in known]
            if missing:
                raise _not_found("unit", ", ".join(missing))
            held = {r["unit"] for r in await conn.fetch(
                "SELECT DISTINCT unit FROM dispatch_orders WHERE unit = ANY($1::text[])"
                " AND state NOT IN ('done', 'rejected', 'cancelled')", units)}
            busy = sorted(held - set(busy_ok))
            override = sorted(held & set(busy_ok))
            if busy or len(set(units)) != len(units):
                taken = busy or sorted({u for u in units if units.count(u) > 1})
                raise Conflict(f"单位 {', '.join(taken)} 已有未完成的任务或被重复指派",
                               f"unit(s) {', '.join(taken)} already hold an open order or are"
                               " assigned twice")
            events: list[Event] = []
            if respond is not None:
                outcome = respond(State(status=incident.status, level=incident.level))
                await self._write_state(conn, incident, outcome)
                events.append(Event(incident_id, actor, outcome.action.value, outcome.data,
                                    client))
            dispatch_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO dispatches (id, incident_id, plan_id, plan_version, level,"
                " created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                dispatch_id, uuid.UUID(incident_id), plan[0] if plan else "manual",
                plan[1] if plan else "-", level.value, actor, now)
            orders = [_new_order(req, unit, known[unit], incident_id, str(dispatch_id), actor,
                                 now) for req, unit in assignments]
            await _insert_orders(conn, orders, override, reason)
            events.append(Event(incident_id, actor, "dispatch", {
                "dispatch": str(dispatch_id), "plan": plan[0] if plan else None,
                "plan_version": plan[1] if plan else None, "level": level.value,
                "orders": [{"order": o.id, "unit": o.unit, "task": o.task_id} for o in orders],
                **override_data(override, reason),
            }, client))
            await self._append(conn, events)
        return orders

    async def orders(self, incident_id: str) -> list[Order]:
        """Every order of an incident, oldest first."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                f"SELECT {ORDER_COLUMNS} FROM dispatch_orders WHERE incident_id = $1"
                " ORDER BY issued_at, id", uuid.UUID(incident_id))
        return [order_from_row(r) for r in rows]

    async def order(self, order_id: str) -> Order:
        """One order, or NotFound."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                f"SELECT {ORDER_COLUMNS} FROM dispatch_orders WHERE id = $1", order_id)
        if row is None:
            raise _not_found("order", order_id)
        return order_from_row(row)

    async def unit_kind(self, unit: str) -> str | None:
        """The kind of a unit as it last reported it."""
        async with connection(self._pool) as conn:
            kind: str | None = await conn.fetchval(
                "SELECT unit_type FROM units WHERE unit = $1", unit)
        return kind

    async def reassign(self, order_id: str, unit: str, actor: str, client: str | None,
                       now: datetime, *, busy_ok: Collection[str] = (),
                       reason: str | None = None) -> Order:
        """Cancel an open order and issue the same task to another unit (which may hold an
        open order when in `busy_ok`)."""
        async with self._tx() as conn:
            row = await conn.fetchrow(
                f"SELECT {ORDER_COLUMNS} FROM dispatch_orders WHERE id = $1 FOR UPDATE",
                order_id)
            if row is None:
                raise _not_found("order", order_id)
            old = order_from_row(row)
            if old.state in (OrderState.DONE, OrderState.CANCELLED):
                raise Conflict(f"指令 {order_id} 已{old.state.value}，不能改派",
                               f"order {order_id} is {old.state.value} and cannot be reassigned")
            await self._lock(conn, old.incident_id)
            agency = await conn.fetchval("SELECT agency FROM units WHERE unit = $1", unit)
            if agency is None:
                raise _not_found("unit", unit)
            busy = await conn.fetchval(
                "SELECT count(*) FROM dispatch_orders WHERE unit = $1"
                " AND state NOT IN ('done', 'rejected', 'cancelled')", unit)
            override = [unit] if busy else []
            if busy and unit not in busy_ok:
                raise Conflict(f"单位 {unit} 已有未完成的任务", f"unit {unit} holds an open order")
            await conn.execute("UPDATE dispatch_orders SET state = 'cancelled', updated_at = $2"
                               " WHERE id = $1", order_id, now)
            await unitstate_sql.release_units(conn, [old.unit])
            deadline = old.deadline_at - old.issued_at
            new = msgspec.structs.replace(
                old, id=str(uuid.uuid4()), unit=unit, agency=agency, state=OrderState.ISSUED,
                issued_by=actor, issued_at=now, deadline_at=now + deadline, sent_at=None,
                send_count=0, escalated_at=None, replaces=order_id, updated_at=now)
            await _insert_orders(conn, [new], override, reason)
            await self._append(conn, [Event(old.incident_id, actor, "reassign", {
                "order": order_id, "from_unit": old.unit, "new_order": new.id, "unit": unit,
                "task": old.task_id, **override_data(override, reason)}, client)])
        return new

    async def release_unit(self, unit: str, status: Availability | None, actor: str,
                           client: str | None, reason: str, now: datetime) -> list[str]:
        """A leader releases a unit (status None) or sets its status, with a reason."""
        async with self._tx() as conn:
            known, events, cancelled = await unitstate_sql.release_unit(
                conn, unit, status, actor, client, reason, now)
            if not known:
                raise _not_found("unit", unit)
            await self._append(conn, events)
        return cancelled

    async def unit_events(self, unit: str) -> list[dict[str, Any]]:
        """What leaders did to a unit, oldest first."""
        async with connection(self._pool) as conn:
            return await unitstate_sql.unit_events(conn, unit)

    async def flag_stale(self, now: datetime, after: timedelta, actor: str) -> list[str]:
        """Flag open orders without progress for `after`; their units become unknown."""
        async with self._tx() as conn:
            events, flagged = await unitstate_sql.flag_stale(conn, now, after, actor)
            await self._append(conn, events)
        return flagged

    async def check(self) -> list[Finding]:
        """Every failed invariant of units, orders, incidents and the journal."""
        async with connection(self._pool) as conn:
            return await unitstate_sql.check(conn)

    async def list_incidents(self, *, status: Sequence[IncidentStatus] | None,
                             levels: Sequence[Level] | None, types: Sequence[str] | None,
                             since: datetime | None, limit: int) -> list[Incident]:
        """Incidents matching every given filter, most recent first."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                f"SELECT {INCIDENT_COLUMNS} FROM incidents"
                " WHERE ($1::text[] IS NULL OR status = ANY($1))"
                " AND ($2::text[] IS NULL OR level = ANY($2))"
                " AND ($3::text[] IS NULL OR type = ANY($3))"
                " AND ($4::timestamptz IS NULL OR reported_at >= $4)"
                " ORDER BY reported_at DESC LIMIT $5",
                [s.value for s in status] if status else None,
                [lv.value for lv in levels] if levels else None,
                list(types) if types else None, since, limit)
        return [incident_from_row(r) for r in rows]

    async def incident(self, incident_id: str) -> Incident:
        """One incident, or NotFound."""
        try:
            key = uuid.UUID(incident_id)
        except ValueError:
            raise _not_found("incident", incident_id) from None
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1",
                                      key)
        if row is None:
            raise _not_found("incident", incident_id)
        return incident_from_row(row)

    async def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's journal, oldest first."""
        await self.incident(incident_id)
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT seq, at, actor, action, client, data::text AS data FROM incident_events"
                " WHERE incident_id = $1 ORDER BY seq", uuid.UUID(incident_id))
        return [{"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"],
                 "client": r["client"], "data": json.loads(r["data"])} for r in rows]

    async def similar(self, incident: Incident, radius_m: float, days: int,
                      limit: int) -> list[Incident]:
        """Earlier incidents of the same type near this one, nearest first."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE type = $1 AND id <> $2"
                " AND reported_at >= $3::timestamptz - make_interval(days => $4)"
                " AND earth_box(ll_to_earth($5, $6), $7) @> ll_to_earth(lat, lon)"
                " AND earth_distance(ll_to_earth($5, $6), ll_to_earth(lat, lon)) <= $7"
                " ORDER BY earth_distance(ll_to_earth($5, $6), ll_to_earth(lat, lon))"
                " LIMIT $8", incident.type, uuid.UUID(incident.id), incident.reported_at, days,
                incident.lat, incident.lon, radius_m, limit)
        return [incident_from_row(r) for r in rows]


async def _insert_orders(conn: asyncpg.Connection, orders: Sequence[Order],
                         override: Collection[str] = (), reason: str | None = None) -> None:
    """Insert orders; those of the units in `override` are marked as sent on purpose."""
    try:
        await _insert_order_rows(conn, orders, override, reason)
    except asyncpg.UniqueViolationError as exc:  # another leader was faster (see 0006)
        raise Conflict("所选单位刚被指派了其他任务，请刷新后重试",
                       "a chosen unit was just given another order; refresh and retry") from exc


async def _insert_order_rows(conn: asyncpg.Connection, orders: Sequence[Order],
                             override: Collection[str], reason: str | None) -> None:
    # busy_override is non-NULL exactly for the orders that override (0011's unique index).
    await conn.executemany(
        "INSERT INTO dispatch_orders (id, dispatch_id, incident_id, unit, agency, task_id, task,"
        " state, issued_by, issued_at, deadline_at, replaces, updated_at, busy_override)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14)",
        [(o.id, uuid.UUID(o.dispatch_id) if o.dispatch_id else None, uuid.UUID(o.incident_id),
          o.unit, o.agency, o.task_id, json.dumps(o.task, ensure_ascii=False), o.state.value,
          o.issued_by, o.issued_at, o.deadline_at, o.replaces, o.updated_at,
          (reason or "") if o.unit in override else None) for o in orders])
