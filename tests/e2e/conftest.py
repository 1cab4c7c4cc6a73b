"""What the browser tests share: a chromium page kept off the network, and the desk served
with sign-in on the test's settings, watching no feed (most agencies publish nothing in these
tests; silent feeds on the desk are tests/fault/test_feeds_silent.py's)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from config.settings import FeedWatchSettings, Settings
from tests.support.auth import Served, served_dashboard, with_auth
from tests.support.browser import Browsing, open_browser


@pytest.fixture
async def browsing() -> AsyncIterator[Browsing]:
    """A chromium page at 1920×1080, kept off the network."""
    async with open_browser() as seen:
        yield seen


@pytest.fixture
def desk(settings: Settings) -> Iterator[Served]:
    """The dashboard with sign-in, on the test's settings, watching no feed."""
    quiet = settings.model_copy(update={"feeds": FeedWatchSettings(agencies=())})
    with served_dashboard(with_auth(quiet)) as served:
        yield served
