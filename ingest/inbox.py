"""Received messages waiting for a batch: filled by a source, emptied by `batches`."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator

from incidents.clock import Clock
from ingest.source import Received


class Inbox:
    """A queue of received messages that hands them out in batches by size and age.

    `put` is on the hot path (every message): an append and, at most once per batch, setting
    an event. Nothing is awaited per message.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.items: deque[Received] = deque()
        """Messages waiting, oldest first. A source's per-message callback may append here
        itself, then call `wake` unless `woken` (what `put` does, one Python call less)."""
        self.woken = False
        """True from a wake-up until `batches` has emptied the inbox and waits again."""
        self._wake = asyncio.Event()
        self._closed = False
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: Received) -> None:
        """Add a message (from the event loop's thread)."""
        self.items.append(item)
        if not self.woken:
            self.wake()

    def wake(self) -> None:
        """Wake `batches` up: messages are waiting."""
        self.woken = True
        self._wake.set()

    def close(self) -> None:
        """No more messages will come: `batches` ends once the inbox is empty."""
        self._closed = True
        self._wake.set()

    def fail(self, exc: BaseException) -> None:
        """The source broke: `batches` raises `exc` instead of waiting for more."""
        self._failure = exc
        self._wake.set()

    async def batches(self, max_size: int, gather_s: float) -> AsyncGenerator[list[Received], None]:
        """Batches of at most `max_size`, a smaller one once its oldest is `gather_s` old."""
        items = self.items
        while True:
            if self._failure is not None:
                raise self._failure
            while not items:
                if self._failure is not None:
                    raise self._failure
                if self._closed:
                    return
                self.woken = False
                self._wake.clear()
                await self._wake.wait()
            if len(items) < max_size and gather_s > 0:
                # Let a batch gather, but never hold the oldest message longer than
                # `gather_s`: messages that waited through a commit go at once.
                wait = gather_s - (self._clock.time() - items[0].received_at)
                if wait > 0:
                    await asyncio.sleep(wait)
            count = min(len(items), max_size)
            yield [items.popleft() for _ in range(count)]
