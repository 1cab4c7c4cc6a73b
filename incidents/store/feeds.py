"""Storing observations, alarms, unit statuses and order acknowledgements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from incidents.geo import snap_degrees
from incidents.journal import Event
from incidents.model import Ack, Alarm, Envelope, Inbound, Observation, Status
from incidents.store.unitstate_sql import cancel_on_own_report


@dataclass(frozen=True, slots=True)
class _Table:
    """How one message type maps to one table: columns, their SQL types, and a row maker."""

    name: str
    columns: tuple[tuple[str, str], ...]
    row: Callable[[Envelope, Any], tuple[Any, ...]]

    def insert_sql(self, first: int = 1) -> str:
        names = ", ".join(c for c, _ in self.columns)
        arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, start=first))
        return (f"INSERT INTO {self.name} ({names}) SELECT * FROM unnest({arrays})"
                " ON CONFLICT (id) DO NOTHING")


_COMMON = (("id", "text"), ("agency", "text"), ("source", "text"), ("ts", "timestamptz"),
           ("received_at", "timestamptz"))

_TABLES: dict[type, _Table] = {
    Observation: _Table(
        "observations",
        _COMMON + (("sensor", "text"), ("quantity", "text"), ("value", "float8"),
                   ("unit", "text"), ("lat", "float8"), ("lon", "float8"), ("station", "text")),
        # Snapped: the wind query takes ll_to_earth of them (incidents.geo.snap_degrees).
        lambda e, m: (m.id, e.agency, e.source, m.ts, e.received_at, m.sensor, m.quantity,
                      m.value, m.unit, snap_degrees(m.lat), snap_degrees(m.lon), m.station),
    ),
    Alarm: _Table(
        "alarms",
        _COMMON + (("device", "text"), ("type", "text"), ("state", "text"), ("lat", "float8"),
                   ("lon", "float8"), ("text", "text"), ("level", "text")),
        lambda e, m: (m.id, e.agency, e.source, m.ts, e.received_at, m.device, m.type,
                      m.state.value, m.lat, m.lon, m.text,
                      m.level.value if m.level else None),
    ),
    Status: _Table(
        "unit_statuses",
        _COMMON + (("unit", "text"), ("availability", "text"), ("note", "text")),
        lambda e, m: (m.id, e.agency, e.source, m.ts, e.received_at, m.unit,
                      m.availability.value, m.note),
    ),
    Ack: _Table(
        "order_acks",
        _COMMON + (("order_id", "text"), ("unit", "text"), ("state", "text"), ("note", "text")),
        lambda e, m: (m.id, e.agency, e.source, m.ts, e.received_at, m.order, m.unit,
                      m.state.value, m.note),
    ),
}


def _by_table(items: Sequence[Inbound]) -> list[tuple[_Table, list[list[Any]]]]:
    """Each table the messages go to, with their rows as columns."""
    by_type: dict[type, list[tuple[Any, ...]]] = {}
    for item in items:
        table = _TABLES[type(item.message)]
        by_type.setdefault(type(item.message), []).append(table.row(item.envelope, item.message))
    return [(_TABLES[t], [list(c) for c in zip(*rows, strict=True)])
            for t, rows in by_type.items()]


def feed_ctes(items: Sequence[Inbound], first: int) -> tuple[str, list[Any]]:
    """CTEs (each `, name AS (INSERT ...)`) that insert each message into its table, and their
    parameters, numbered from `first`: to ride along with another statement."""
    sql: list[str] = []
    arguments: list[Any] = []
    for table, columns in _by_table(items):
        sql.append(f", {table.name}_new AS ({table.insert_sql(first + len(arguments))})")
        arguments.extend(columns)
    return "".join(sql), arguments


async def store_feeds(conn: asyncpg.Connection, items: Sequence[Inbound],
                      events: list[Event]) -> set[str]:
    """Insert each message into its table; return the ids stored now (not before).

    A unit that reports itself available ends its open order (its word wins): the journal
    rows saying so are added to `events`.
    """
    new_ids: set[str] = set()
    for table, columns in _by_table(items):
        stored = await conn.fetch(table.insert_sql() + " RETURNING id", *columns)
        new_ids.update(r["id"] for r in stored)
    statuses = [i.message for i in items if isinstance(i.message, Status)]
    if statuses:
        freed = await _update_availability(conn, statuses)
        senders = {i.message.unit: i.envelope for i in items if isinstance(i.message, Status)}
        events += await cancel_on_own_report(
            conn, freed, {u: e.agency for u, e in senders.items()},
            {u: e.source for u, e in senders.items()})
    return new_ids


async def _update_availability(conn: asyncpg.Connection, statuses: list[Status]
                               ) -> list[tuple[str, datetime]]:
    """Apply the latest status of each unit; return (unit, ts) of those now available."""
    latest: dict[str, Status] = {}
    for status in statuses:
        seen = latest.get(status.unit)
        if seen is None or seen.ts <= status.ts:
            latest[status.unit] = status
    # Units that have not reported a position yet get their row with the first fix. Rows are
    # locked in unit order, like the position upsert, so concurrent workers cannot deadlock.
    rows = await conn.fetch(
        "UPDATE units AS u SET availability = s.availability, availability_ts = s.ts,"
        " updated_at = now()"
        " FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS s(unit, availability, ts)"
        " WHERE u.unit = s.unit AND (u.availability_ts IS NULL OR u.availability_ts <= s.ts)"
        " RETURNING u.unit, s.availability, s.ts",
        sorted(latest), [latest[u].availability.value for u in sorted(latest)],
        [latest[u].ts for u in sorted(latest)],
    )
    return [(r["unit"], r["ts"]) for r in rows if r["availability"] == "available"]
