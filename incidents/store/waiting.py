"""Waiting at start-up until PostgreSQL can serve: it may still be starting or replaying its
WAL after an unclean stop (SQLSTATE 57P03, "the database system is starting up"), or its
container may come up after ours. Each start-up step (create the database, migrate, open a
pool) retries through `until_ready`, showing progress, up to the `startup_wait_s` setting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg

from incidents.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

REPORT_EVERY_S = 5.0
"""Seconds between two progress lines while waiting."""


def server_address(dsn: str) -> str:
    """host:port of a PostgreSQL DSN, for people (never the user or password)."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def _reason(exc: StoreUnavailable) -> str:
    cause = exc.__cause__
    return (str(cause) or type(cause).__name__) if cause is not None else str(exc)


async def until_ready(step: Callable[[], Awaitable[T]], dsn: str, timeout_s: float, *,
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                      rand: Callable[[], float] = random.random) -> T:
    """Run `step` until PostgreSQL at `dsn` lets it succeed, for at most `timeout_s`.

    Only StoreUnavailable is retried, and not when the database does not exist (waiting
    will not create it); anything else is a configuration error and propagates at once.
    """
    where = server_address(dsn)
    started = clock()
    next_report = started + REPORT_EVERY_S
    attempt = 0
    while True:
        try:
            return await step()
        except StoreUnavailable as exc:
            if isinstance(exc.__cause__, asyncpg.exceptions.InvalidCatalogNameError):
                raise
            waited = clock() - started
            if waited >= timeout_s:
                raise StoreUnavailable(
                    f"PostgreSQL at {where} did not become ready within {timeout_s:.0f} s"
                    f" ({_reason(exc)}). Check that it is running and that database_url"
                    " points at it; if it is replaying a long WAL, let it finish or raise"
                    " startup_wait_s (SITROOM_STARTUP_WAIT_S).") from exc
            if attempt == 0 or clock() >= next_report:
                log.warning("waiting for PostgreSQL at %s (%s), %.0f s of at most %.0f s…",
                            where, _reason(exc), waited, timeout_s)
                next_report = clock() + REPORT_EVERY_S
            # Jittered doubling from 0.25 s to 2 s: quick once the server is up, and several
            # processes starting together do not knock in step.
            delay = min(2.0, 0.25 * 2 ** min(attempt, 4)) * (0.5 + 0.5 * rand())
            attempt += 1
            await sleep(min(delay, max(0.0, timeout_s - waited)))
