"""The outage switch the in-memory twins share: a block in which their server is "gone"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class OutageSwitch:
    """Adds `outage()`; the twin checks `self._down` at the top of every call."""

    _down: bool = False

    @contextmanager
    def outage(self) -> Iterator[None]:
        """Within the block every call fails as if the twin's server were gone."""
        self._down = True
        try:
            yield
        finally:
            self._down = False
