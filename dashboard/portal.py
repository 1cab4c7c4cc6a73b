"""The bridge between the dashboard's WSGI threads and the async store and live state.

Flask and Dash run callbacks in the WSGI server's threads; asyncpg and redis.asyncio need an
event loop. One loop runs in a daemon thread, and every async call is handed to it, so the
connection pools live in a single loop however many request threads there are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import TypeVar, TypeVarTuple, Unpack

from anyio.from_thread import BlockingPortal, start_blocking_portal

from config.settings import Settings
from incidents.live import LiveState
from incidents.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class AsyncBridge:
    """One event loop in a daemon thread that owns the Store and the LiveState."""

    def __init__(self, settings: Settings) -> None:
        if settings.redis_url is None:
            raise ValueError("the dashboard needs redis_url (sitroom up sets it for the "
                             "embedded redis-server)")
        self._database_url = settings.database_url
        key = settings.journal_key
        self._journal_key = key.get_secret_value().encode() if key is not None else None
        self._stack = ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(
            start_blocking_portal(backend="asyncio", name="sitroom-dashboard-loop")
        )
        self._live = self._portal.call(_make_live, settings.redis_url, settings.redis_prefix)
        self._store: Store | None = None
        self._store_lock = self._portal.call(_make_lock)
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._failed: dict[str, str] = {}

    @property
    def live(self) -> LiveState:
        """The Redis live state; use its coroutines through `call`."""
        return self._live

    def call(self, coro_fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
        """Run `coro_fn(*args)` on the bridge's loop and wait for its result (or exception)."""
        if self._closed:
            # A request still in flight while the dashboard stops: 503, retry, not a crash.
            raise StoreUnavailable("the dashboard is shutting down; retry in a moment")
        return self._portal.call(coro_fn, *args)

    async def store(self) -> Store:
        """The PostgreSQL store, connected on first use (call from the bridge's loop).

        Raises StoreUnavailable when there is no database_url or PostgreSQL cannot be reached;
        the next call tries again.
        """
        if self._store is not None:
            return self._store
        async with self._store_lock:
            if self._store is None:
                if self._database_url is None:
                    raise StoreUnavailable("no database_url is configured")
                self._store = await Store.connect(self._database_url, min_size=1, max_size=4,
                                                  journal_key=self._journal_key)
        return self._store

    def close(self) -> None:
        """Close the store and the live state, then stop the loop. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self._close_clients)
        except Exception:  # closing must go on: the loop has to stop even if a pool fails
            log.exception("closing the dashboard's connections failed")
        finally:
            self._stack.close()

    def keep(self, task: asyncio.Task[None]) -> None:
        """Own a background task of the bridge's loop: it is cancelled before the store and
        the live state close (call from the bridge's loop). Its tasks run forever and live
        through outages themselves: one that ends with an error is logged and listed by
        `failed_tasks` (the health report shows it)."""
        self._tasks.add(task)
        task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self._failed[task.get_name()] = f"{type(error).__name__}: {error}"
            log.error("background task %s died; its work stops until the dashboard restarts",
                      task.get_name(), exc_info=error)

    def failed_tasks(self) -> dict[str, str]:
        """Background tasks that died, by name, with their error (safe from any thread)."""
        return dict(self._failed)

    async def _close_clients(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            if self._store is not None:
                await self._store.close()
                self._store = None
        finally:
            await self._live.close()


async def _make_live(url: str, prefix: str) -> LiveState:
    # redis.asyncio binds its pool to the loop that first uses it: build it on the bridge's loop.
    return LiveState.from_url(url, prefix)


async def _make_lock() -> asyncio.Lock:
    return asyncio.Lock()
