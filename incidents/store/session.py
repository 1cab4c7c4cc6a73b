"""The store's one boundary with PostgreSQL: pools, connections and transactions.

Every statement the store runs goes through `connection` or `transaction` here, which turn
the driver's "try again later" errors (errors.UNAVAILABLE) into StoreUnavailable naming the
server (never its password). Callers above the store see only the project's errors, and
tests/integration/test_store_boundary.py proves each public store method does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from incidents.store.errors import UNAVAILABLE, StoreUnavailable, safe_dsn, server_of

ARRAY_TYPES = ("bigint", "bytea", "float8", "int", "jsonb", "timestamptz", "uuid")
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


def unavailable(exc: BaseException, where: str, connecting: bool = False) -> StoreUnavailable:
    """The StoreUnavailable for a driver error talking to `where` (raise it `from exc`)."""
    # Some driver errors (a timeout, a reset) have no text: their type is the message.
    reason = str(exc) or type(exc).__name__
    if connecting:
        return StoreUnavailable(f"cannot connect to PostgreSQL at {where}: {reason}")
    return StoreUnavailable(f"PostgreSQL at {where} is unavailable: {reason}")


async def open_pool(dsn: str, **options: Any) -> asyncpg.Pool:
    """A pool to `dsn` (asyncpg.create_pool `options`), or StoreUnavailable."""
    try:
        return await asyncpg.create_pool(dsn, **options)
    except UNAVAILABLE as exc:
        raise unavailable(exc, safe_dsn(dsn), connecting=True) from exc


@asynccontextmanager
async def direct_connection(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection to `dsn` outside any pool (to create a database), closed after the block;
    driver outages raise StoreUnavailable."""
    try:
        conn = await asyncpg.connect(dsn)
        try:
            yield conn
        finally:
            await conn.close()
    except UNAVAILABLE as exc:
        raise unavailable(exc, safe_dsn(dsn)) from exc


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for the block; driver outages in it raise StoreUnavailable."""
    try:
        async with pool.acquire() as conn:
            yield conn
    except UNAVAILABLE as exc:
        raise unavailable(exc, server_of(pool)) from exc


@asynccontextmanager
async def transaction(pool: asyncpg.Pool, isolation: str | None = None
                      ) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in one transaction for the block (committed when it ends)."""
    async with connection(pool) as conn, conn.transaction(isolation=isolation):
        yield conn
