"""Jittered exponential pauses between retries of a store that is away."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Pauses of `first` seconds, doubling up to `most`, each within ±20 % (so workers that
    lost the store together do not all come back in the same instant)."""

    def __init__(self, first: float = 0.2, most: float = 5.0) -> None:
        self.delay = first
        """The next pause, before jitter."""
        self._most = most

    async def pause(self) -> None:
        """Sleep for the next pause, then lengthen the one after."""
        await asyncio.sleep(self.delay * random.uniform(0.8, 1.2))
        self.delay = min(self.delay * 2, self._most)
