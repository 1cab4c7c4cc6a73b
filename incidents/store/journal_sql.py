"""Appending to and reading the HMAC-chained journal (incident_events and journal_head)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from incidents.journal import Event, JournalEntry, head_mac, seal

_READ_CHUNK = 5000


_ROWS = (" SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[],"
         " $5::text[], $6::text[], $7::jsonb[], $8::bytea[], $9::bytea[])")
_INSERT = ("INSERT INTO incident_events"
           " (seq, incident_id, at, actor, action, client, data, prev_mac, mac)")
_APPEND = (f"WITH rows AS ({_INSERT}{_ROWS})"
           " UPDATE journal_head SET seq = $10, mac = $11, head_mac = $12")
# The same, only if the head is still where this writer last left it ($13, $14): the UPDATE
# waits for a concurrent appender's commit and then finds the head moved, inserting nothing.
# Other statements that must write only with the journal take these two CTEs ($1..$14).
AFTER_LAST_CTES = (
    "head AS (UPDATE journal_head SET seq = $10, mac = $11, head_mac = $12"
    " WHERE seq = $13 AND mac = $14 RETURNING seq),"
    f" rows AS ({_INSERT}{_ROWS} WHERE EXISTS (SELECT FROM head))")
"""CTEs `head` and `rows`: the journal rows appended after the last head, if still the head."""
_APPEND_AFTER = f"WITH {AFTER_LAST_CTES} SELECT count(*) FROM head"


class JournalWriter:
    """Seals events with the journal key and appends them after the chain head.

    Call inside the caller's transaction, after every other write of it: the head row stays
    locked until the commit, so appends from every worker form one chain, and taking it last
    everywhere keeps one lock order (incident and order rows, then the head).

    The writer remembers the head it last wrote and first tries to append after it in one
    statement; only when another process has appended since (or that transaction rolled
    back) does it read and lock the head first (two round trips, as before).
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._start: int | None = None  # the chain's start, which the head MAC covers
        self._last: tuple[int, bytes] | None = None
        # After the head was found moved (another writer is busy too), the next appends go
        # the locked way: 1, 2, 4 ... 64 of them, back to 1 once the one-statement way works.
        self._skip = 0
        self._penalty = 1

    async def append(self, conn: asyncpg.Connection, events: Sequence[Event]
                     ) -> list[JournalEntry]:
        """Append the events in order; return them as sealed."""
        if not events:
            return []
        after_last = self.after_last(events)
        if after_last is not None:
            entries, arguments = after_last
            if await conn.fetchval(_APPEND_AFTER, *arguments):
                self.appended(entries, after_last=True)
                return entries
            self.moved()
        at = datetime.now(UTC)
        head = await conn.fetchrow("SELECT seq, mac, chain_start FROM journal_head FOR UPDATE")
        if head is None:
            raise RuntimeError("journal_head is missing: run `sitroom migrate`")
        self.chain_starts_at(int(head["chain_start"]))
        entries = self._seal(events, int(head["seq"]), bytes(head["mac"]), at)
        await conn.execute(_APPEND, *self._arguments(entries))
        self.appended(entries)
        return entries

    def after_last(self, events: Sequence[Event]
                   ) -> tuple[list[JournalEntry], tuple[Any, ...]] | None:
        """The events sealed after the head this writer last wrote, with the parameters
        $1..$14 of AFTER_LAST_CTES; None before its first append."""
        if self._last is None or self._start is None or not events:
            return None
        if self._skip:
            self._skip -= 1
            return None
        entries = self._seal(events, *self._last, datetime.now(UTC))
        return entries, (*self._arguments(entries), *self._last)

    def appended(self, entries: Sequence[JournalEntry], after_last: bool = False) -> None:
        """Remember the head these entries left (once their statement wrote them);
        `after_last`: written by a statement with AFTER_LAST_CTES."""
        self._last = (entries[-1].seq, entries[-1].mac)
        if after_last:
            self._penalty = 1

    def chain_starts_at(self, start: int) -> None:
        """Tell the writer where the chain starts (read with the head: it never moves)."""
        self._start = start

    def moved(self) -> None:
        """A statement with AFTER_LAST_CTES found the head moved and wrote nothing."""
        self._skip = self._penalty
        self._penalty = min(self._penalty * 2, 64)

    def _seal(self, events: Sequence[Event], seq: int, prev: bytes, at: datetime
              ) -> list[JournalEntry]:
        entries: list[JournalEntry] = []
        for event in events:
            seq += 1
            entry = seal(self._key, prev, seq, event.incident_id, at, event.actor, event.action,
                         event.client, event.data)
            entries.append(entry)
            prev = entry.mac
        return entries

    def _arguments(self, entries: Sequence[JournalEntry]) -> tuple[Any, ...]:
        """$1..$12 of _APPEND: the rows' columns, then the new head and its MAC."""
        seq, mac = entries[-1].seq, entries[-1].mac
        if self._start is None:
            raise RuntimeError("the journal writer seals only after reading the chain head")
        return ([e.seq for e in entries], [uuid.UUID(e.incident_id) for e in entries],
                [e.at for e in entries], [e.actor for e in entries],
                [e.action for e in entries], [e.client for e in entries],
                [json.dumps(e.data, ensure_ascii=False) for e in entries],
                [e.prev_mac for e in entries], [e.mac for e in entries],
                seq, mac, head_mac(self._key, self._start, seq, mac))


async def chain_start(conn: asyncpg.Connection) -> int:
    """The seq after which rows are sealed (rows up to it predate the chain)."""
    return int(await conn.fetchval("SELECT chain_start FROM journal_head") or 0)


async def read_chain(conn: asyncpg.Connection, after: int) -> AsyncIterator[JournalEntry]:
    """Every row after seq `after`, in seq order, streamed in chunks."""
    while True:
        rows = await conn.fetch(
            "SELECT seq, incident_id, at, actor, action, client, data::text AS data, prev_mac,"
            " mac FROM incident_events WHERE seq > $1 ORDER BY seq LIMIT $2", after, _READ_CHUNK)
        for r in rows:
            yield JournalEntry(
                seq=r["seq"], incident_id=str(r["incident_id"]), at=r["at"], actor=r["actor"],
                action=r["action"], client=r["client"], data=json.loads(r["data"]),
                prev_mac=bytes(r["prev_mac"] or b""), mac=bytes(r["mac"] or b""),
            )
        if len(rows) < _READ_CHUNK:
            return
        after = rows[-1]["seq"]


async def sealed_before_start(conn: asyncpg.Connection, start: int) -> int:
    """How many rows at or before the chain's start carry a MAC (rows from before the chain
    have none, so any such row means the start was moved past sealed rows)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM incident_events WHERE seq <= $1 AND mac IS NOT NULL", start))


async def unjournaled(conn: asyncpg.Connection, limit: int) -> tuple[int, list[str]]:
    """Incidents without any journal row: (how many, up to `limit` of their ids)."""
    rows = await conn.fetch(
        "SELECT id::text AS id, count(*) OVER () AS n FROM incidents i WHERE NOT EXISTS"
        " (SELECT FROM incident_events e WHERE e.incident_id = i.id) ORDER BY id LIMIT $1",
        limit)
    return (int(rows[0]["n"]) if rows else 0), [r["id"] for r in rows]


async def read_head(conn: asyncpg.Connection) -> tuple[int, bytes, bytes] | None:
    """The chain head as (last seq, its MAC, the head's MAC); None when never written."""
    row = await conn.fetchrow("SELECT seq, mac, head_mac, chain_start FROM journal_head")
    if row is None or row["head_mac"] is None:
        return None if row is None or row["seq"] == row["chain_start"] else (
            int(row["seq"]), bytes(row["mac"]), b"")
    return int(row["seq"]), bytes(row["mac"]), bytes(row["head_mac"])
