"""The clock port: what time it is, injected wherever time decides something."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall and monotonic time; services take one so tests can move time by hand."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def time(self) -> float:
        """Seconds since the epoch (wall clock), as `time.time()`."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for deadlines and intervals."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._wall = (start or datetime(2026, 1, 1, tzinfo=UTC)).timestamp()
        self._mono = 1000.0

    def now(self) -> datetime:
        """The current manual time, UTC."""
        return datetime.fromtimestamp(self._wall, UTC)

    def time(self) -> float:
        """The current manual epoch seconds."""
        return self._wall

    def monotonic(self) -> float:
        """The current manual monotonic seconds."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._wall += seconds
        self._mono += seconds
