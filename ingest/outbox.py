"""An on-disk outbox: messages stay here until ingest's receipt says they are committed."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Pending:
    """A message waiting for its receipt."""

    id: str
    topic: str
    payload: bytes


class Outbox:
    """SQLite-backed store of unreceipted messages; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            # WAL + NORMAL survives a crash of this process; FULL would also survive power loss.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " id TEXT UNIQUE NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,"
                " created REAL NOT NULL, sent REAL NOT NULL DEFAULT 0)"
            )

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> int:
        """Run one statement over `rows` in a transaction; return the rows changed."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                before = self._db.total_changes
                self._db.executemany(sql, rows)
                changed = self._db.total_changes - before
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return changed

    def put_many(self, items: Iterable[Pending]) -> None:
        """Keep messages until their receipt arrives (an id already kept is ignored)."""
        now = time.time()
        self._write(
            "INSERT OR IGNORE INTO outbox (id, topic, payload, created) VALUES (?, ?, ?, ?)",
            [(p.id, p.topic, p.payload, now) for p in items],
        )

    def mark_sent(self, ids: Iterable[str]) -> None:
        """Remember when messages were last handed to the broker."""
        now = time.time()
        self._write("UPDATE outbox SET sent = ? WHERE id = ?", [(now, i) for i in ids])

    def remove(self, ids: Iterable[str]) -> int:
        """Forget receipted messages; return how many were pending."""
        return self._write("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def due(self, older_than_s: float, limit: int = 5000) -> list[Pending]:
        """Messages never sent, or sent more than `older_than_s` ago, oldest first."""
        cutoff = time.time() - older_than_s
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM outbox WHERE sent <= ? ORDER BY seq LIMIT ?",
                (cutoff, limit),
            ).fetchall()
        return [Pending(r[0], r[1], bytes(r[2])) for r in rows]

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()
