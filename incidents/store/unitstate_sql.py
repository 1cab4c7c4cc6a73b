"""SQL of unit and order states that stay true: cancel an incident's open orders and release
their units, flag stale orders, a leader's release or status, and the invariants of
`sitroom check` (the pure rules are in incidents/unitstate.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from incidents.journal import Event
from incidents.model import Availability
from incidents.unitstate import (
    ORDER_STAGES,
    OWN_WORD,
    STALE_STATES,
    Finding,
    busy_without_order,
    open_order_on_closed,
    released_by_leader,
    without_journal,
)

_OPEN = "state NOT IN ('done', 'rejected', 'cancelled')"
_STAGES = [a.value for a in ORDER_STAGES]


async def release_units(conn: asyncpg.Connection, units: Sequence[str]) -> None:
    """Units whose order the system ended: an order stage becomes available; what the unit
    said of itself (out of service, off duty) and unknown stay (see unitstate.released)."""
    if units:
        await conn.execute(
            "UPDATE units SET availability = 'available', updated_at = now()"
            " WHERE unit = ANY($1::text[]) AND availability = ANY($2::text[])",
            sorted(set(units)), _STAGES)


async def cancel_open_orders(conn: asyncpg.Connection, incident_id: str, actor: str,
                             client: str | None, reason: str) -> list[Event]:
    """Cancel the incident's open orders and release their units; one journal row lists them
    (as one dispatch row lists the orders it issued), none when there were none."""
    rows = await conn.fetch(
        "UPDATE dispatch_orders o SET state = 'cancelled', updated_at = now()"
        " FROM dispatch_orders old WHERE o.id = old.id AND o.incident_id = $1"
        f" AND old.{_OPEN} RETURNING o.id, o.unit, o.task_id, old.state AS from_state",
        uuid.UUID(incident_id))
    if not rows:
        return []
    await release_units(conn, [r["unit"] for r in rows])
    return [Event(incident_id, actor, "orders_cancelled", {
        "reason": reason, "orders": [
            {"order": r["id"], "unit": r["unit"], "task": r["task_id"],
             "from_state": r["from_state"]} for r in sorted(rows, key=lambda r: r["id"])]},
        client)]


async def cancel_on_own_report(conn: asyncpg.Connection, reports: Sequence[tuple[str, datetime]],
                               agency_of: dict[str, str], source: dict[str, str]
                               ) -> list[Event]:
    """Units that reported themselves available after their open order last moved: the unit's
    word wins, so the order is cancelled (journaled on its incident, the unit as actor)."""
    if not reports:
        return []
    rows = await conn.fetch(
        "UPDATE dispatch_orders o SET state = 'cancelled', updated_at = r.ts"
        " FROM unnest($1::text[], $2::timestamptz[]) AS r(unit, ts), dispatch_orders old"
        f" WHERE o.id = old.id AND o.unit = r.unit AND old.{_OPEN} AND old.updated_at <= r.ts"
        " RETURNING o.id, o.incident_id, o.unit, o.task_id, old.state AS from_state",
        [u for u, _ in reports], [ts for _, ts in reports])
    return [Event(str(r["incident_id"]), f"{agency_of.get(r['unit'], '')}/{r['unit']}",
                  "orders_cancelled", {"reason": "unit_reported_available", "orders": [
                      {"order": r["id"], "unit": r["unit"], "task": r["task_id"],
                       "from_state": r["from_state"]}]}, source.get(r["unit"]))
            for r in rows]


async def release_unit(conn: asyncpg.Connection, unit: str, status: Availability | None,
                       actor: str, client: str | None, reason: str, now: datetime
                       ) -> tuple[bool, list[Event], list[str]]:
    """A leader releases a unit (status None) or sets its status: its open order is
    cancelled, the change kept in unit_events. Returns (unit known, journal events,
    cancelled order ids); the caller appends the events."""
    current = await conn.fetchrow(
        "SELECT availability FROM units WHERE unit = $1 FOR UPDATE", unit)
    if current is None:
        return False, [], []
    was = Availability(current["availability"]) if current["availability"] else None
    rows = await conn.fetch(
        "UPDATE dispatch_orders o SET state = 'cancelled', updated_at = $2"
        f" FROM dispatch_orders old WHERE o.id = old.id AND o.unit = $1 AND old.{_OPEN}"
        " RETURNING o.id, o.incident_id, o.task_id, old.state AS from_state", unit, now)
    new = released_by_leader(was) if status is None else status
    if new is not None:
        await conn.execute(
            "UPDATE units SET availability = $2, availability_ts = $3, updated_at = now()"
            " WHERE unit = $1", unit, new.value, now)
    action = "release" if status is None else "set_status"
    await conn.execute(
        "INSERT INTO unit_events (unit, at, actor, action, data, client)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6)", unit, now, actor, action, json.dumps({
            "reason": reason, "from": was.value if was else None,
            "to": (new or was or Availability.AVAILABLE).value,
            "orders": [r["id"] for r in rows]}, ensure_ascii=False), client)
    events = [Event(str(r["incident_id"]), actor, "orders_cancelled", {
        "reason": reason, "by": action, "orders": [
            {"order": r["id"], "unit": unit, "task": r["task_id"],
             "from_state": r["from_state"]}]}, client) for r in rows]
    return True, events, [r["id"] for r in rows]


async def unit_events(conn: asyncpg.Connection, unit: str) -> list[dict[str, object]]:
    """What leaders did to a unit, oldest first."""
    rows = await conn.fetch(
        "SELECT seq, at, actor, action, client, data::text AS data FROM unit_events"
        " WHERE unit = $1 ORDER BY seq", unit)
    return [{"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"],
             "client": r["client"], "data": json.loads(r["data"])} for r in rows]


async def flag_stale(conn: asyncpg.Connection, now: datetime, after: timedelta, actor: str
                     ) -> tuple[list[Event], list[str]]:
    """Flag open orders without progress for `after`; their units become unknown unless they
    reported since the order last moved (or said they are out of service / off duty)."""
    rows = await conn.fetch(
        "UPDATE dispatch_orders SET stale_at = $1 WHERE state = ANY($2::text[])"
        " AND stale_at IS NULL AND updated_at <= $3"
        " RETURNING id, incident_id, unit, task_id, state, updated_at",
        now, [s.value for s in STALE_STATES], now - after)
    if not rows:
        return [], []
    await conn.execute(
        "UPDATE units u SET availability = 'unknown', updated_at = now()"
        " FROM unnest($1::text[], $2::timestamptz[]) AS o(unit, moved)"
        " WHERE u.unit = o.unit AND coalesce(u.availability, 'available') <> ALL($3::text[])"
        " AND (u.availability_ts IS NULL OR u.availability_ts <= o.moved)",
        [r["unit"] for r in rows], [r["updated_at"] for r in rows],
        [a.value for a in OWN_WORD])
    minutes = round(after.total_seconds() / 60)
    events = [Event(str(r["incident_id"]), actor, "order_stale", {
        "order": r["id"], "unit": r["unit"], "task": r["task_id"], "state": r["state"],
        "minutes": minutes}) for r in rows]
    return events, [r["id"] for r in rows]


async def check(conn: asyncpg.Connection) -> list[Finding]:
    """Every failed invariant (cheap: three index-backed anti-joins)."""
    findings = [busy_without_order(r["unit"], r["availability"]) for r in await conn.fetch(
        "SELECT unit, availability FROM units u WHERE availability = ANY($1::text[])"
        f" AND NOT EXISTS (SELECT 1 FROM dispatch_orders o WHERE o.unit = u.unit AND o.{_OPEN})"
        " ORDER BY unit", _STAGES)]
    findings += [open_order_on_closed(r["unit"], r["id"], str(r["incident_id"]), r["state"])
                 for r in await conn.fetch(
                     "SELECT o.unit, o.id, o.incident_id, o.state FROM dispatch_orders o"
                     " JOIN incidents i ON i.id = o.incident_id"
                     f" WHERE o.{_OPEN} AND i.status = 'closed' ORDER BY o.unit")]
    findings += [without_journal(str(r["id"])) for r in await conn.fetch(
        "SELECT id FROM incidents i WHERE NOT EXISTS"
        " (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id) ORDER BY reported_at")]
    return findings
