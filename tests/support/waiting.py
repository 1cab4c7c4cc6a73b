"""Polling helpers: wait for a condition with a deadline instead of sleeping blindly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool],
                     timeout_s: float = 10.0, interval_s: float = 0.05) -> T:
    """Call `probe` until `ok(result)`; return the result or fail with the last one."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
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
