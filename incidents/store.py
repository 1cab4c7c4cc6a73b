"""The PostgreSQL store: the only module that speaks SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import asyncpg

from incidents.model import (
    DeadLetter,
    Envelope,
    Inbound,
    Incident,
    IncidentStatus,
    Level,
    Position,
    Report,
    UnitState,
)

_MIGRATION_LOCK = 0x51770001  # advisory lock id: one migrator at a time


class StoreError(RuntimeError):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):
    """PostgreSQL cannot be reached or went away; the caller should retry later."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch changed."""

    positions_new: int
    """Positions stored now (the rest of the batch's positions were already there)."""
    units: list[UnitState]
    """Latest position per unit in the batch."""
    incidents: list[Incident]
    """Incidents opened by the batch's new reports."""
    dead_letters: int


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as stored, with its row id."""

    row_id: int
    letter: DeadLetter
    replayed_at: datetime | None


# Errors after which the same request may succeed later (server restarting, failing over,
# restored from backup): callers hold their data and retry. Anything else is a bug or a
# configuration error and propagates.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def migrations() -> list[tuple[str, str]]:
    """The shipped migrations as (version, sql), in order."""
    folder = resources.files("incidents") / "migrations"
    found = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text("utf-8")) for name in found]


class Store:
    """Async access to PostgreSQL through one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 4) -> Store:
        """Open a pool to `dsn`, or raise StoreUnavailable."""
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, command_timeout=30
            )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {_safe(dsn)}: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self._pool.close()

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL is unavailable: {exc}") from exc

    async def ping(self) -> None:
        """Round-trip to the server, or raise StoreUnavailable."""
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their versions. Safe to run twice."""
        applied: list[str] = []
        async with self._conn() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                rows = await conn.fetch("SELECT version FROM schema_migrations")
                done = {r["version"] for r in rows}
                for version, sql in migrations():
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES ($1)", version
                        )
                    applied.append(version)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        return applied

    async def write_batch(
        self, inbound: Sequence[Inbound], dead: Sequence[DeadLetter]
    ) -> BatchResult:
        """Store a batch in one transaction; ids already stored are ignored."""
        positions = [(m.envelope, m.message) for m in inbound if isinstance(m.message, Position)]
        reports = [(m.envelope, m.message) for m in inbound if isinstance(m.message, Report)]
        positions_new = 0
        units: list[UnitState] = []
        incidents: list[Incident] = []
        async with self._conn() as conn:
            if not reports and not dead:
                # The hot path: a single statement is its own transaction.
                if positions:
                    positions_new, units = await _store_positions(conn, positions)
            else:
                async with conn.transaction():
                    if positions:
                        positions_new, units = await _store_positions(conn, positions)
                    incidents = await _insert_reports(conn, reports) if reports else []
                    if dead:
                        await _insert_dead_letters(conn, dead)
        return BatchResult(positions_new=positions_new, units=units, incidents=incidents,
                           dead_letters=len(dead))

    async def units(self, seen_since: datetime | None = None) -> list[UnitState]:
        """Latest state of every unit, optionally only those seen since a time."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT unit, agency, lat, lon, last_ts, speed, heading, unit_type FROM units"
                " WHERE $1::timestamptz IS NULL OR last_ts >= $1 ORDER BY unit",
                seen_since,
            )
        return [_unit(r) for r in rows]

    async def open_incidents(self) -> list[Incident]:
        """Every incident that is not closed, most recent first."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE status <> 'closed'"
                " ORDER BY reported_at DESC"
            )
        return [_incident(r) for r in rows]

    async def incident_events(self, incident_id: str) -> list[dict[str, Any]]:
        """The journal of one incident, oldest first."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT seq, at, actor, action, data FROM incident_events"
                " WHERE incident_id = $1 ORDER BY seq", uuid.UUID(incident_id)
            )
        return [
            {"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"],
             "data": json.loads(r["data"])}
            for r in rows
        ]

    async def dead_letters(self, limit: int = 100) -> list[StoredDeadLetter]:
        """The most recent dead letters."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT id, received_at, topic, payload, reason, detail, message_id, replayed_at"
                " FROM dead_letters ORDER BY id DESC LIMIT $1", limit
            )
        return [
            StoredDeadLetter(
                row_id=r["id"],
                letter=DeadLetter(topic=r["topic"], payload=bytes(r["payload"]),
                                  received_at=r["received_at"], reason=r["reason"],
                                  detail=r["detail"], message_id=r["message_id"]),
                replayed_at=r["replayed_at"],
            )
            for r in rows
        ]

    async def counts(self) -> dict[str, int]:
        """Row counts that the health page and tests look at."""
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM positions) AS positions,"
                " (SELECT count(*) FROM units) AS units,"
                " (SELECT count(*) FROM reports) AS reports,"
                " (SELECT count(*) FROM incidents WHERE status <> 'closed') AS open_incidents,"
                " (SELECT count(*) FROM dead_letters) AS dead_letters"
            )
        assert row is not None
        return dict(row.items())

    async def position_ids(self) -> list[str]:
        """Every stored position id (for audits and tests of exactly-once storage)."""
        async with self._conn() as conn:
            rows = await conn.fetch("SELECT id FROM positions")
        return [r["id"] for r in rows]


_INCIDENT_COLUMNS = (
    "id, type, level, status, title, lat, lon, agency, source_report, reported_at, updated_at"
)


# Positions and the units' latest fixes in ONE statement: with no explicit transaction this is
# one round trip and one commit per batch (four round trips before; measured 2-3x slower).
# A late, older fix must not move a unit back: units are updated only by newer fixes.
_POSITIONS_AND_UNITS = """
WITH stored AS (
    INSERT INTO positions (id, unit, agency, source, ts, lat, lon, speed, heading, accuracy,
                           received_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                         $6::float8[], $7::float8[], $8::float4[], $9::float4[], $10::float4[],
                         $11::timestamptz[])
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
), latest AS (
    INSERT INTO units AS u (unit, agency, unit_type, source, lat, lon, speed, heading, last_ts,
                            position_id)
    SELECT * FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::float8[],
                         $17::float8[], $18::float4[], $19::float4[], $20::timestamptz[],
                         $21::text[])
    ON CONFLICT (unit) DO UPDATE SET agency = EXCLUDED.agency,
        unit_type = COALESCE(EXCLUDED.unit_type, u.unit_type), source = EXCLUDED.source,
        lat = EXCLUDED.lat, lon = EXCLUDED.lon, speed = EXCLUDED.speed,
        heading = EXCLUDED.heading, last_ts = EXCLUDED.last_ts,
        position_id = EXCLUDED.position_id, updated_at = now()
    WHERE u.last_ts <= EXCLUDED.last_ts
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored) AS stored
"""


def _latest_per_unit(
    positions: list[tuple[Envelope, Position]],
) -> list[tuple[Envelope, Position]]:
    latest: dict[str, tuple[Envelope, Position]] = {}
    for envelope, p in positions:
        seen = latest.get(p.unit)
        if seen is None or seen[1].ts <= p.ts:
            latest[p.unit] = (envelope, p)
    return list(latest.values())


async def _store_positions(
    conn: asyncpg.Connection, positions: list[tuple[Envelope, Position]]
) -> tuple[int, list[UnitState]]:
    """Insert positions (skipping stored ids) and move units; return (new rows, unit states)."""
    rows = _latest_per_unit(positions)
    stored: int = await conn.fetchval(
        _POSITIONS_AND_UNITS,
        [p.id for _, p in positions], [p.unit for _, p in positions],
        [e.agency for e, _ in positions], [e.source for e, _ in positions],
        [p.ts for _, p in positions], [p.lat for _, p in positions],
        [p.lon for _, p in positions], [p.speed for _, p in positions],
        [p.heading for _, p in positions], [p.accuracy for _, p in positions],
        [e.received_at for e, _ in positions],
        [p.unit for _, p in rows], [e.agency for e, _ in rows], [p.unit_type for _, p in rows],
        [e.source for e, _ in rows], [p.lat for _, p in rows], [p.lon for _, p in rows],
        [p.speed for _, p in rows], [p.heading for _, p in rows], [p.ts for _, p in rows],
        [p.id for _, p in rows],
    )
    units = [
        UnitState(unit=p.unit, agency=e.agency, lat=p.lat, lon=p.lon, ts=p.ts, speed=p.speed,
                  heading=p.heading, unit_type=p.unit_type)
        for e, p in rows
    ]
    return stored, units


async def _insert_reports(
    conn: asyncpg.Connection, reports: list[tuple[Envelope, Report]]
) -> list[Incident]:
    inserted = await conn.fetch(
        "INSERT INTO reports (id, agency, source, ts, type, lat, lon, text, level, reporter,"
        " received_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
        " $4::timestamptz[], $5::text[], $6::float8[], $7::float8[], $8::text[], $9::text[],"
        " $10::text[], $11::timestamptz[]) ON CONFLICT (id) DO NOTHING RETURNING id",
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
    )
    new_ids = {row["id"] for row in inserted}
    incidents: list[Incident] = []
    for envelope, report in reports:
        if report.id not in new_ids:
            continue
        new_ids.discard(report.id)  # the same id twice in one batch opens one incident
        incident = Incident(
            id=str(uuid.uuid4()), type=report.type, level=report.level or Level.IV,
            status=IncidentStatus.REPORTED, title=report.text[:120], lat=report.lat,
            lon=report.lon, reported_at=report.ts, updated_at=envelope.received_at,
            agency=envelope.agency, source_report=report.id,
        )
        await conn.execute(
            f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES"
            " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            uuid.UUID(incident.id), incident.type, incident.level.value, incident.status.value,
            incident.title, incident.lat, incident.lon, incident.agency, incident.source_report,
            incident.reported_at, incident.updated_at,
        )
        await conn.execute(
            "UPDATE reports SET incident_id = $1 WHERE id = $2", uuid.UUID(incident.id), report.id
        )
        await conn.execute(
            "INSERT INTO incident_events (incident_id, actor, action, data) VALUES"
            " ($1, $2, 'reported', $3::jsonb)",
            uuid.UUID(incident.id), f"{envelope.agency}/{envelope.source}",
            json.dumps({"report": report.id, "type": report.type,
                        "level": incident.level.value, "text": report.text},
                       ensure_ascii=False),
        )
        incidents.append(incident)
    return incidents


async def _insert_dead_letters(conn: asyncpg.Connection, dead: Sequence[DeadLetter]) -> None:
    await conn.executemany(
        "INSERT INTO dead_letters (received_at, topic, payload, reason, detail, message_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(d.received_at, d.topic, d.payload, d.reason, d.detail, d.message_id) for d in dead],
    )


def _unit(r: asyncpg.Record) -> UnitState:
    return UnitState(unit=r["unit"], agency=r["agency"], lat=r["lat"], lon=r["lon"],
                     ts=r["last_ts"], speed=r["speed"], heading=r["heading"],
                     unit_type=r["unit_type"])


def _incident(r: asyncpg.Record) -> Incident:
    return Incident(
        id=str(r["id"]), type=r["type"], level=Level(r["level"]),
        status=IncidentStatus(r["status"]), title=r["title"], lat=r["lat"], lon=r["lon"],
        reported_at=r["reported_at"], updated_at=r["updated_at"], agency=r["agency"],
        source_report=r["source_report"],
    )


def _safe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    if "@" not in dsn:
        return dsn
    scheme, _, rest = dsn.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


async def ensure_database(server_dsn: str, name: str) -> None:
    """Create database `name` on the server at `server_dsn` unless it exists."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"database name {name!r} must be letters, digits and '_'")
    try:
        conn = await asyncpg.connect(server_dsn)
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"cannot connect to {_safe(server_dsn)}: {exc}") from exc
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
