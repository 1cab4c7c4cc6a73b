"""The store's errors, and which driver errors mean "try again later"."""

from __future__ import annotations

import asyncpg

# Defined with the pure errors, so services catch them without importing the driver; the
# store's modules and callers keep importing them from here.
from incidents.errors import StoreError, StoreUnavailable

__all__ = ["UNAVAILABLE", "StoreError", "StoreUnavailable", "safe_dsn"]

# Errors after which the same request may succeed later (server restarting, failing over,
# restored from backup): callers hold their data and retry. Anything else is a bug or a
# configuration error and propagates.
UNAVAILABLE = (
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
    # Concurrency conflicts between workers: the whole transaction can simply be retried.
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    if "@" not in dsn:
        return dsn
    scheme, _, rest = dsn.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def server_of(pool: asyncpg.Pool) -> str:
    """The DSN a pool was opened with, without its password; "PostgreSQL" if unknown."""
    # asyncpg keeps the pool's connect arguments only privately; the store opens every pool
    # with the DSN as the one positional argument (session.open_pool).
    args = getattr(pool, "_connect_args", ())
    dsn = args[0] if args and isinstance(args[0], str) else None
    return safe_dsn(dsn) if dsn else "PostgreSQL"
