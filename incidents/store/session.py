"""What every pooled connection gets when it opens and when it goes back to the pool."""

from __future__ import annotations

import asyncpg

ARRAY_TYPES = ("bigint", "bytea", "float8", "jsonb", "timestamptz", "uuid")
"""Array types the store's SQL sends as parameters (`$n::type[]`), besides text[].

asyncpg knows their element types but not the arrays: the first statement on a connection
that uses one runs its type introspection (three round trips and a re-prepare, 10-15 ms on
an idle box). Measured on ingest: the first batches after a start took 40-90 ms instead of
5, each of the pool's connections paying for each type, and that start-up burst alone was
most of the 1 % slowest messages of a 10 s benchmark run. The unit test
tests/unit/incidents/test_store_session.py keeps this list complete.
"""

_INTROSPECT = "SELECT " + ", ".join(
    f"${n}::{name}[] IS NULL" for n, name in enumerate(ARRAY_TYPES, start=1))


async def open_session(conn: asyncpg.Connection) -> None:
    """Learn the store's array types when a connection opens, not in its first batch."""
    await conn.fetchrow(_INTROSPECT, *([None] * len(ARRAY_TYPES)))


async def keep_session(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is (asyncpg still rolls back an open transaction).

    asyncpg's default reset (unlock advisory locks, close cursors, UNLISTEN, RESET ALL) is a
    round trip on every release, in the path of every ingest commit. The store's SQL changes
    no session state: its only session-level lock is the migration lock, released (with a
    full reset) by migrate itself; everything else is scoped to a transaction.
    """
