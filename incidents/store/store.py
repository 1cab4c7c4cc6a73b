"""Store: reads, migrations and the connection pool; the write path is in batch.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import asyncpg
import msgspec

from incidents.cap import CapAlert
from incidents.deadletters import StoredDeadLetter
from incidents.feeds import BatchResult, Evaluate, UnitFix
from incidents.journal import ChainCheck, Finding, JournalKeyError, Problem
from incidents.model import DeadLetter, Inbound, Incident, Level, Position, UnitState
from incidents.outcomes import KeyedIncident
from incidents.store.batch import catch_up_units, upsert_units, write_batch
from incidents.store.command import CommandStore
from incidents.store.incident_sql import INCIDENT_COLUMNS, incident_from_row
from incidents.store.journal_sql import (
    JournalWriter,
    chain_start,
    read_chain,
    read_head,
    sealed_before_start,
    unjournaled,
)
from incidents.store.orders_sql import OrderOutbox
from incidents.store.reports_at_once import plan_reports_at_once, write_reports_at_once
from incidents.store.session import (
    connection,
    direct_connection,
    keep_session,
    open_pool,
    open_session,
    transaction,
)
from incidents.store.waiting import until_ready

_MIGRATION_LOCK = 0x51770001  # advisory lock id: one migrator at a time


def migrations() -> list[tuple[str, str]]:
    """The shipped migrations as (version, sql), in order."""
    folder = resources.files("incidents") / "migrations"
    found = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text("utf-8")) for name in found]


_NAMED = 10
"""Incidents named in a finding before "and N more"."""


class Store:
    """Async access to PostgreSQL through one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, journal_key: bytes | None = None) -> None:
        self._pool = pool
        self._journal = JournalWriter(journal_key) if journal_key is not None else None

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 4,
                      journal_key: bytes | None = None, wait_s: float = 0.0) -> Store:
        """Open a pool to `dsn`, or raise StoreUnavailable.

        Without `journal_key` the store reads everything but refuses to write journal events.
        With `wait_s`, a server not ready yet (starting, in recovery) is waited for that long.
        """
        async def open_() -> asyncpg.Pool:
            return await open_pool(dsn, min_size=min_size, max_size=max_size,
                                   command_timeout=30, init=open_session, reset=keep_session)

        pool = await until_ready(open_, dsn, wait_s) if wait_s > 0 else await open_()
        return cls(pool, journal_key)

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool, for the store's other SQL modules (layers, users)."""
        return self._pool

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self._pool.close()

    async def ping(self) -> None:
        """Round-trip to the server, or raise StoreUnavailable."""
        async with connection(self._pool) as conn:
            await conn.fetchval("SELECT 1")

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their versions. Safe to run twice."""
        applied: list[str] = []
        async with connection(self._pool) as conn:
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
                await conn.reset()  # whatever a migration set stays out of the pool
        return applied

    async def write_batch(
        self, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
        evaluate: Evaluate | None = None, watched: Callable[[Position], bool] | None = None,
        defer_units: bool = False,
    ) -> BatchResult:
        """Store a batch atomically; ids already stored are ignored (see batch.write_batch)."""
        async with connection(self._pool) as conn:
            return await write_batch(conn, inbound, dead, self._journal, evaluate, watched,
                                     defer_units)

    async def open_reports(self, inbound: Sequence[Inbound], evaluate: Evaluate
                           ) -> BatchResult | None:
        """New reports that open one incident each, in one statement; None (nothing written)
        when the batch needs write_batch (see reports_at_once)."""
        if self._journal is None:
            return None
        planned = plan_reports_at_once(inbound, evaluate, self._journal)
        if planned is None:
            return None  # decided without taking a connection from the pool
        async with connection(self._pool) as conn:
            return await write_reports_at_once(conn, planned, self._journal)

    async def update_units(self, fixes: Sequence[UnitFix]) -> None:
        """Move units to the latest of `fixes` (see batch.upsert_units)."""
        async with connection(self._pool) as conn:
            await upsert_units(conn, fixes)

    async def catch_up_units(self, window: timedelta = timedelta(minutes=1)) -> int:
        """Move units to stored fixes a stopped worker had not written to `units` yet."""
        async with connection(self._pool) as conn:
            return await catch_up_units(conn, window)

    async def open_rule_incidents(self) -> list[KeyedIncident]:
        """Open incidents that rules manage, for the rules engine to resume after a restart."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT i.rule_key, i.level, i.lat, i.lon, i.reported_at,"
                " (SELECT max(r.ts) FROM reports r WHERE r.incident_id = i.id) AS last_report"
                " FROM incidents i WHERE i.rule_key IS NOT NULL AND i.status <> 'closed'")
        return [KeyedIncident(key=r["rule_key"], level=Level(r["level"]), lat=r["lat"],
                              lon=r["lon"], opened_at=r["reported_at"],
                              last_report_at=r["last_report"]) for r in rows]

    async def closed_rule_keys(self, since: datetime) -> list[tuple[str, datetime]]:
        """Rule keys of incidents closed (by a leader) after `since`, with when."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT rule_key, closed_at FROM incidents WHERE rule_key IS NOT NULL"
                " AND status = 'closed' AND closed_at > $1 ORDER BY closed_at", since)
        return [(r["rule_key"], r["closed_at"]) for r in rows]

    async def units(self, seen_since: datetime | None = None) -> list[UnitState]:
        """Latest state of every unit, optionally only those seen since a time."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT unit, agency, lat, lon, last_ts, speed, heading, unit_type FROM units"
                " WHERE $1::timestamptz IS NULL OR last_ts >= $1 ORDER BY unit",
                seen_since,
            )
        return [_unit(r) for r in rows]

    async def open_incidents(self) -> list[Incident]:
        """Every incident that is not closed, most recent first."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE status <> 'closed'"
                " ORDER BY reported_at DESC"
            )
        return [incident_from_row(r) for r in rows]

    async def incident_events(self, incident_id: str) -> list[dict[str, Any]]:
        """The journal of one incident, oldest first."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT seq, at, actor, action, data FROM incident_events"
                " WHERE incident_id = $1 ORDER BY seq", uuid.UUID(incident_id)
            )
        return [
            {"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"],
             "data": json.loads(r["data"])}
            for r in rows
        ]

    async def dead_letters(self, limit: int = 100, *, reason: str | None = None,
                           pending_only: bool = False,
                           row_ids: Sequence[int] | None = None) -> list[StoredDeadLetter]:
        """The most recent dead letters, optionally of one reason, not yet replayed, or by id."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, received_at, topic, payload, reason, detail, message_id, replayed_at"
                " FROM dead_letters WHERE ($2::text IS NULL OR reason = $2)"
                " AND (NOT $3 OR replayed_at IS NULL)"
                " AND ($4::bigint[] IS NULL OR id = ANY($4))"
                " ORDER BY id DESC LIMIT $1",
                limit, reason, pending_only, list(row_ids) if row_ids is not None else None,
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

    async def cap_alert(self, alert_id: str) -> CapAlert | None:
        """One stored CAP alert, or None."""
        async with connection(self._pool) as conn:
            doc = await conn.fetchval("SELECT alert::text FROM cap_alerts WHERE id = $1", alert_id)
        return None if doc is None else msgspec.json.decode(doc, type=CapAlert)

    async def cap_alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent CAP alerts with their state (superseded, cancelled, incident)."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, sender, identifier, sent, status, msg_type, level, headline, event,"
                " superseded_by, cancelled_by, incident_id::text AS incident_id"
                " FROM cap_alerts ORDER BY sent DESC LIMIT $1", limit)
        return [dict(r.items()) for r in rows]

    async def verify_journal(self, key: bytes, anchor: tuple[int, bytes] | None = None
                             ) -> tuple[int, list[Finding], int]:
        """Check the whole journal chain: (rows checked, findings, unsealed rows before it).

        `anchor`: a (seq, MAC) of the chain kept outside the database; a journal behind it or
        different at it was rolled back or rewritten.
        """
        async with transaction(self._pool, isolation="repeatable_read") as conn:
            start = await chain_start(conn)
            head = await read_head(conn)
            check = ChainCheck(key, start, anchor)
            async for row in read_chain(conn, start):  # streamed: a journal outgrows memory
                check.add(row)
            moved = await sealed_before_start(conn, start)
            missing, some = await unjournaled(conn, _NAMED)
        checked, findings = check.finish(head)
        if moved:
            findings.insert(0, Finding(
                seq=start, problem=Problem.RESET,
                detail=f"{moved} sealed rows lie before the chain's start {start}: the start"
                       " was moved to hide them"))
        if missing:
            more = f" and {missing - len(some)} more" if missing > len(some) else ""
            findings.append(Finding(
                seq=0, problem=Problem.UNJOURNALED,
                detail=f"{missing} incidents have no journal row ({', '.join(some)}{more}):"
                       " their rows were removed"))
        return checked, findings, start

    async def journal_head(self) -> tuple[int, tuple[int, bytes, bytes] | None]:
        """The chain's start and its head (last seq, its MAC, the head's MAC; None if unsealed)."""
        async with connection(self._pool) as conn:
            return await chain_start(conn), await read_head(conn)

    @property
    def commands(self) -> CommandStore:
        """The leaders' commands (transitions, notes, dispatch) on this store's pool."""
        return CommandStore(self._pool, self._journal)

    def outbox(self, actor: str) -> OrderOutbox:
        """The dispatch-order outbox, journaling escalations as `actor`."""
        return OrderOutbox(self._pool, self.journal, actor)

    @property
    def journal(self) -> JournalWriter:
        """The journal writer, or JournalKeyError when the store has no key."""
        if self._journal is None:
            raise JournalKeyError("the store has no journal key: set SITROOM_JOURNAL_KEY")
        return self._journal

    async def mark_replayed(self, row_ids: Sequence[int]) -> None:
        """Record that these dead letters were re-ingested (they are kept, never deleted)."""
        async with connection(self._pool) as conn:
            await conn.execute(
                "UPDATE dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[])",
                list(row_ids),
            )

    async def counts(self) -> dict[str, int]:
        """Row counts that the health page and tests look at."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM positions) AS positions,"
                " (SELECT count(*) FROM units) AS units,"
                " (SELECT count(*) FROM reports) AS reports,"
                " (SELECT count(*) FROM incidents WHERE status <> 'closed') AS open_incidents,"
                " (SELECT count(*) FROM dead_letters) AS dead_letters,"
                " (SELECT count(*) FROM observations) + (SELECT count(*) FROM alarms)"
                " + (SELECT count(*) FROM unit_statuses) + (SELECT count(*) FROM order_acks)"
                " AS feeds"
            )
        assert row is not None
        return dict(row.items())

    async def drain_seconds(self) -> float:
        """Seconds from the first position received to the last one stored (benchmarks)."""
        async with connection(self._pool) as conn:
            value = await conn.fetchval(
                "SELECT extract(epoch FROM max(stored_at) - min(received_at)) FROM positions")
        return float(value or 0.0)

    async def position_ids(self) -> list[str]:
        """Every stored position id (for audits and tests of exactly-once storage)."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch("SELECT id FROM positions")
        return [r["id"] for r in rows]


def _unit(r: asyncpg.Record) -> UnitState:
    return UnitState(unit=r["unit"], agency=r["agency"], lat=r["lat"], lon=r["lon"],
                     ts=r["last_ts"], speed=r["speed"], heading=r["heading"],
                     unit_type=r["unit_type"])


async def ensure_database(server_dsn: str, name: str, wait_s: float = 0.0) -> None:
    """Create database `name` on the server at `server_dsn` unless it exists, waiting up to
    `wait_s` for a server that is not ready yet."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"database name {name!r} must be letters, digits and '_'")

    async def create() -> None:
        async with direct_connection(server_dsn) as conn:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')

    await (until_ready(create, server_dsn, wait_s) if wait_s > 0 else create())
