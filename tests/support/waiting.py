"""Polling helpers: wait for a condition with a deadline instead of sleeping blindly."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool],
                     timeout_s: float = ..., interval_s: float = ...) -> T: ...


@overload
async def eventually(probe: Callable[[], T], ok: Callable[[T], bool],
                     timeout_s: float = ..., interval_s: float = ...) -> T: ...


async def eventually(probe: Callable[[], Any], ok: Callable[[Any], bool],
                     timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Call `probe` (sync or async) until `ok(result)`; return it or fail with the last one."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        result = await found if inspect.isawaitable(found) else found
        if ok(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout_s}s; last value: {result!r}")
        await asyncio.sleep(interval_s)


def eventually_sync(probe: Callable[[], T], ok: Callable[[T], bool], timeout_s: float = 10.0,
                    interval_s: float = 0.05) -> T:
    """Blocking form of `eventually`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if ok(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout_s}s; last value: {result!r}")
        time.sleep(interval_s)
