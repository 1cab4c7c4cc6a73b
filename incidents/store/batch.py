"""The write path: one batch of decoded messages and dead letters, committed together."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

import asyncpg
import msgspec

from incidents.cap import CapAlertMessage
from incidents.feeds import BatchResult, Evaluate, UnitFix
from incidents.journal import Event, JournalKeyError
from incidents.model import (
    CASUALTY_FIELDS,
    Ack,
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
from incidents.store.cap import store_cap_alerts
from incidents.store.feeds import feed_ctes, store_feeds
from incidents.store.incident_sql import insert_incident
from incidents.store.journal_sql import JournalWriter
from incidents.store.orders_sql import apply_acks
from incidents.store.rules_sql import apply_outcomes


async def write_batch(
    conn: asyncpg.Connection, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
    journal: JournalWriter | None, evaluate: Evaluate | None = None,
    watched: Callable[[Position], bool] | None = None, defer_units: bool = False,
) -> BatchResult:
    """Store a batch atomically; ids already stored are ignored.

    With `evaluate`, the rules decide what new reports, observations and alarms do to
    incidents (in the same transaction); without it each new report opens an incident.
    With `defer_units` (for plain feeds: positions, observations and alarms, no rules), the
    units' latest fixes are not written but returned in `unit_fixes`, for the caller to
    write with `upsert_units`.
    """
    positions: list[tuple[Envelope, Position]] = []
    reports: list[tuple[Envelope, Report]] = []
    alerts: list[tuple[Envelope, CapAlertMessage]] = []
    others: list[Inbound] = []
    for item in inbound:
        if isinstance(item.message, Position):
            positions.append((item.envelope, item.message))
        elif isinstance(item.message, Report):
            reports.append((item.envelope, item.message))
        elif isinstance(item.message, CapAlertMessage):
            alerts.append((item.envelope, item.message))
        else:
            others.append(item)
    # Positions the rules follow (watched vehicles near sensitive areas): rare, and they take
    # the transactional path so that what the rules open commits with them.
    followed = {id(i) for i in inbound if evaluate is not None and watched is not None
                and isinstance(i.message, Position) and watched(i.message)}
    positions_new = 0
    orders_moved = 0
    units: list[UnitState] = []
    incidents: list[Incident] = []
    if defer_units and evaluate is None and not reports and not dead and not alerts and all(
            isinstance(i.message, Observation | Alarm) for i in others):
        # Plain feeds (no rule can act on them): every table's rows in one statement that is
        # its own transaction (one round trip); ids make it safe to repeat.
        latest = _latest_per_unit(positions)
        feeds, arguments = feed_ctes(others, 2)
        positions_new = await conn.fetchval(
            f"WITH stored AS ({_POSITION_ROWS} RETURNING 1){feeds}"
            " SELECT count(*) FROM stored", _encode_rows(positions), *arguments)
        return BatchResult(positions_new=positions_new, units=_states(latest),
                           incidents=[], dead_letters=0,
                           unit_fixes=[_position_row(e, p) for e, p in latest])
    if not reports and not dead and not others and not alerts and not followed:
        # The hot path: a single statement is its own transaction.
        if positions:
            positions_new, units = await _store_positions(conn, positions)
    else:
        events: list[Event] = []
        async with conn.transaction():
            if positions:
                positions_new, units = await _store_positions(conn, positions)
            new_ids: set[str] = set()
            if others:
                new_ids |= await store_feeds(conn, others, events)
                acks = [(i.envelope, i.message) for i in others
                        if isinstance(i.message, Ack) and i.message.id in new_ids]
                if acks:
                    orders_moved = await apply_acks(conn, acks, events)
            if reports:
                stored_reports, incidents = await _insert_reports(conn, reports,
                                                                  evaluate is None, events)
                new_ids |= stored_reports
            if alerts:
                incidents += await store_cap_alerts(conn, alerts, events)
            if evaluate is not None and (new_ids or followed):
                fresh = [i for i in inbound if id(i) in followed or (
                    i.message.id in new_ids
                    and isinstance(i.message, Report | Observation | Alarm))]
                incidents += await apply_outcomes(conn, evaluate(_first_of_each(fresh)),
                                                   events)
            if dead:
                await _insert_dead_letters(conn, dead)
            if events:
                if journal is None:
                    raise JournalKeyError("this batch opens or changes incidents, and the store"
                                          " has no journal key: set SITROOM_JOURNAL_KEY")
                await journal.append(conn, events)  # last: the chain head is the last lock
    return BatchResult(positions_new=positions_new, units=units, incidents=incidents,
                       dead_letters=len(dead), orders_moved=orders_moved)


def _first_of_each(items: list[Inbound]) -> list[Inbound]:
    """Each id once (a batch may hold a message and its redelivery), in arrival order."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.message.id not in seen:
            seen.add(item.message.id)
            unique.append(item)
    return unique


_POSITION_ROWS = """
    INSERT INTO positions (id, unit, agency, source, ts, lat, lon, speed, heading, accuracy,
                           received_at)
    SELECT id, unit, agency, source, ts, lat, lon, speed, heading, accuracy, received_at
    FROM json_to_recordset($1::json) AS p(id text, unit text, agency text, source text,
         ts timestamptz, lat float8, lon float8, speed float4, heading float4, accuracy float4,
         received_at timestamptz)
    ON CONFLICT (id) DO NOTHING
"""
_UNIT_ROWS = """
    INSERT INTO units AS u (unit, agency, unit_type, source, lat, lon, speed, heading, last_ts,
                            position_id)
    SELECT unit, agency, unit_type, source, lat, lon, speed, heading, ts, id
    FROM json_to_recordset($%d::json) AS p(unit text, agency text, unit_type text, source text,
         lat float8, lon float8, speed float4, heading float4, ts timestamptz, id text)
    ON CONFLICT (unit) DO UPDATE SET agency = EXCLUDED.agency,
        unit_type = COALESCE(EXCLUDED.unit_type, u.unit_type), source = EXCLUDED.source,
        lat = EXCLUDED.lat, lon = EXCLUDED.lon, speed = EXCLUDED.speed,
        heading = EXCLUDED.heading, last_ts = EXCLUDED.last_ts,
        position_id = EXCLUDED.position_id, updated_at = now()
    WHERE u.last_ts <= EXCLUDED.last_ts
"""
_UNITS = _UNIT_ROWS % 1

# Positions and the units' latest fixes in ONE statement: with no explicit transaction this is
# one round trip and one commit per batch (four round trips before; measured 2-3x slower).
# The rows travel as one JSON document per table: encoding 21 arrays value by value cost
# ingest ~13 µs per position, msgspec's one encode ~4 µs, and PostgreSQL reads the JSON no
# slower than the arrays. A late, older fix must not move a unit back: units are updated
# only by newer fixes.
_POSITIONS_AND_UNITS = f"""
WITH stored AS ({_POSITION_ROWS} RETURNING 1), latest AS ({_UNIT_ROWS % 2} RETURNING 1)
SELECT (SELECT count(*) FROM stored) AS stored
"""

# Units whose latest fix is stored in `positions` but not in `units`: those a worker had
# committed and not yet written to `units` when it died (see `upsert_units`). `stored_at`
# has a BRIN index, so only the last minutes of positions are read.
_CATCH_UP_UNITS = """
INSERT INTO units AS u (unit, agency, source, lat, lon, speed, heading, last_ts, position_id)
SELECT DISTINCT ON (unit) unit, agency, source, lat, lon, speed, heading, ts, id
FROM positions
WHERE stored_at >= (SELECT coalesce(max(updated_at), '-infinity') FROM units) - $1::interval
ORDER BY unit, ts DESC
ON CONFLICT (unit) DO UPDATE SET agency = EXCLUDED.agency, source = EXCLUDED.source,
    lat = EXCLUDED.lat, lon = EXCLUDED.lon, speed = EXCLUDED.speed,
    heading = EXCLUDED.heading, last_ts = EXCLUDED.last_ts,
    position_id = EXCLUDED.position_id, updated_at = now()
WHERE u.last_ts < EXCLUDED.last_ts
"""


_rows_encoder = msgspec.json.Encoder()


def _position_row(envelope: Envelope, p: Position) -> UnitFix:
    return UnitFix(p.id, p.unit, envelope.agency, envelope.source, p.ts, p.lat, p.lon,
                        p.speed, p.heading, p.accuracy, envelope.received_at, p.unit_type)


def _latest_per_unit(
    positions: list[tuple[Envelope, Position]],
) -> list[tuple[Envelope, Position]]:
    latest: dict[str, tuple[Envelope, Position]] = {}
    for envelope, p in positions:
        seen = latest.get(p.unit)
        if seen is None or seen[1].ts <= p.ts:
            latest[p.unit] = (envelope, p)
    # Always lock unit rows in the same order: two workers upserting the same units in
    # different orders deadlocked (PostgreSQL aborts one of them).
    return [latest[unit] for unit in sorted(latest)]


def _encode_rows(positions: list[tuple[Envelope, Position]]) -> str:
    return _rows_encoder.encode([_position_row(e, p) for e, p in positions]).decode()


def _states(rows: list[tuple[Envelope, Position]]) -> list[UnitState]:
    return [UnitState(unit=p.unit, agency=e.agency, lat=p.lat, lon=p.lon, ts=p.ts,
                      speed=p.speed, heading=p.heading, unit_type=p.unit_type)
            for e, p in rows]


async def _store_positions(
    conn: asyncpg.Connection, positions: list[tuple[Envelope, Position]]
) -> tuple[int, list[UnitState]]:
    """Insert positions (skipping stored ids) and move units; return (new rows, unit states)."""
    rows = _latest_per_unit(positions)
    stored: int = await conn.fetchval(_POSITIONS_AND_UNITS, _encode_rows(positions),
                                      _encode_rows(rows))
    return stored, _states(rows)


async def upsert_units(conn: asyncpg.Connection, fixes: Sequence[UnitFix]) -> None:
    """Move units to their latest fixes (an older fix never moves a unit back).

    Ingest writes `units` this way for batches of positions committed side by side: in the
    positions' own statement, every batch would lock the same unit rows and wait for the
    one before it to commit. It writes them a moment after the positions, a unit's fixes of
    that moment coalesced into its newest; a worker that dies in between leaves them to
    `catch_up_units` when a worker starts.
    """
    latest: dict[str, UnitFix] = {}
    for fix in fixes:
        seen = latest.get(fix.unit)
        if seen is None or seen.ts <= fix.ts:
            latest[fix.unit] = fix
    ordered = [latest[unit] for unit in sorted(latest)]  # one lock order for every writer
    await conn.execute(_UNITS, _rows_encoder.encode(ordered).decode())


async def catch_up_units(conn: asyncpg.Connection, window: timedelta) -> int:
    """Move units to fixes stored up to `window` before the last unit update but missing
    from `units`; return how many units moved."""
    status: str = await conn.execute(_CATCH_UP_UNITS, window)
    return int(status.rsplit(" ", 1)[-1])


async def _insert_reports(
    conn: asyncpg.Connection, reports: list[tuple[Envelope, Report]], open_incidents: bool,
    events: list[Event],
) -> tuple[set[str], list[Incident]]:
    """Insert reports; return the ids stored now and, without rules, one incident per report."""
    inserted = await conn.fetch(
        "INSERT INTO reports (id, agency, source, ts, type, lat, lon, text, level, reporter,"
        " received_at, deaths, injured, missing, trapped) SELECT * FROM unnest($1::text[],"
        " $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::float8[], $7::float8[],"
        " $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::int[], $13::int[],"
        " $14::int[], $15::int[]) ON CONFLICT (id) DO NOTHING RETURNING id",
        [r.id for _, r in reports],
        [e.agency for e, _ in reports],
        [e.source for e, _ in reports],
        [r.ts for _, r in reports],
        [r.type for _, r in reports],
        [r.lat for _, r in reports],
        [r.lon for _, r in reports],
        [r.text for _, r in reports],
        [r.level.value if r.level else None for _, r in reports],
        [r.reporter for _, r in reports],
        [e.received_at for e, _ in reports],
        *([getattr(r.casualties, f) if r.casualties else None for _, r in reports]
          for f in CASUALTY_FIELDS),
    )
    new_ids = {row["id"] for row in inserted}
    incidents: list[Incident] = []
    if not open_incidents:
        return new_ids, incidents
    pending = set(new_ids)
    for envelope, report in reports:
        if report.id not in pending:
            continue
        pending.discard(report.id)  # the same id twice in one batch opens one incident
        incident = Incident(
            id=str(uuid.uuid4()), type=report.type, level=report.level or Level.IV,
            status=IncidentStatus.REPORTED, title=report.text[:120], lat=report.lat,
            lon=report.lon, reported_at=report.ts, updated_at=envelope.received_at,
            agency=envelope.agency, source_report=report.id,
        )
        await insert_incident(conn, incident)
        await conn.execute(
            "UPDATE reports SET incident_id = $1 WHERE id = $2", uuid.UUID(incident.id), report.id
        )
        events.append(Event(incident.id, f"{envelope.agency}/{envelope.source}", "reported",
                            {"report": report.id, "type": report.type,
                             "level": incident.level.value, "text": report.text}))
        incidents.append(incident)
    return new_ids, incidents


async def _insert_dead_letters(conn: asyncpg.Connection, dead: Sequence[DeadLetter]) -> None:
    await conn.executemany(
        "INSERT INTO dead_letters (received_at, topic, payload, reason, detail, message_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(d.received_at, d.topic, d.payload, d.reason, d.detail, d.message_id) for d in dead],
    )


