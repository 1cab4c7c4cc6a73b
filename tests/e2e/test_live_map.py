"""The situation map in a real browser: a unit's position published over MQTT shows on screen.

The dashboard runs in this process (werkzeug in a thread) on the test's own database, Redis
prefix and topic root; ingest runs in the test's event loop; Debian's chromium renders the page
with every request to a host other than loopback blocked and recorded.

One broker is enough here: the browser path (Redis → dashboard → page) does not depend on it.
Both brokers are covered by tests/integration/test_ingest.py, and the embedded amqtt broker
end to end by tests/e2e/test_up.py; this runs over Mosquitto, the production broker.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from config.settings import FeedWatchSettings, Settings
from dashboard.auth import Role
from dashboard.geojson import AGENCY_COLOURS
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.auth import create_user, sign_in_page, with_auth
from tests.support.browser import Browsing, open_browser
from tests.support.http import served_dashboard
from tests.support.ingest import publisher, running_ingest

pytestmark = pytest.mark.e2e

DISTRICTS = 18
"""County-level divisions of Xingtai drawn by the basemap."""

# The map has no per-unit hook in the DOM, so the page records when the first unit marker
# (an SVG path with class sitroom-unit, from sitroom_map.js unitToLayer) is added.
WATCH_UNITS_JS = """() => {
  window.__sitroomUnitShownAt = null;
  const seen = () => {
    if (window.__sitroomUnitShownAt === null && document.querySelector("path.sitroom-unit")) {
      window.__sitroomUnitShownAt = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(seen).observe(document.body, {childList: true, subtree: true});
  seen();
}"""


@pytest.fixture
def dashboard_url(settings: Settings) -> Iterator[str]:
    """The real dashboard app, served on a free loopback port for the test's settings."""
    # LIVE before anything is published: no feed is watched here (test_feeds_silent.py).
    quiet = settings.model_copy(update={"feeds": FeedWatchSettings(agencies=())})
    with served_dashboard(with_auth(quiet)) as url:
        yield url + "/"


@pytest.fixture
async def browsing() -> AsyncIterator[Browsing]:
    """Debian's chromium, kept off the network: every non-loopback request is blocked."""
    async with open_browser({"width": 1600, "height": 900}) as seen:
        yield seen


def position_json(message_id: str, unit: str, lat: float, lon: float) -> str:
    return json.dumps({"id": message_id, "ts": datetime.now(UTC).isoformat(), "unit": unit,
                       "lat": lat, "lon": lon})


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_published_position_appears_on_the_live_map(
    settings: Settings, store: Store, live: LiveState, broker: Broker, dashboard_url: str,
    browsing: Browsing,
) -> None:
    page = browsing.page
    assert settings.database_url is not None
    await create_user(settings.database_url, "wall", Role.OPERATOR)
    await sign_in_page(page, dashboard_url, "wall")
    async with running_ingest(settings, store, live):
        await page.goto(dashboard_url)

        # The offline basemap: one filled path per district, the outline, 18 name labels.
        pane = page.locator(".leaflet-sitroomDistricts-pane")
        await expect(pane.locator("path:not([fill='none'])")).to_have_count(DISTRICTS,
                                                                           timeout=15_000)
        await expect(pane.locator("path[fill='none']")).to_have_count(1)
        await expect(page.locator(".sitroom-district-label")).to_have_count(DISTRICTS)
        await expect(page.locator(".sitroom-district-label .district-zh").first).not_to_be_empty()

        # The first poll has come back: live, and nobody on the map yet.
        await expect(page.locator("#shell-live")).to_have_class(re.compile(r"\blive-ok\b"),
                                                                timeout=10_000)
        await expect(page.locator("#kpi-units")).to_have_text("0 / 0")
        markers = page.locator("path.sitroom-unit")
        await expect(markers).to_have_count(0)
        await page.evaluate(WATCH_UNITS_JS)

        with publisher(broker.url, broker.protocol) as pub:
            sent_at = time.time()
            started = time.perf_counter()
            pub.publish(f"{settings.topic_root}/police/position/car-7",
                        position_json(str(uuid.uuid4()), "car-7", 37.07, 114.5))
            await expect(markers).to_have_count(1, timeout=5_000)
            waited_s = time.perf_counter() - started
        shown_at = await page.evaluate("window.__sitroomUnitShownAt")
        assert isinstance(shown_at, float | int)
        print(f"\npublish → marker on screen: {shown_at - sent_at * 1000:.0f} ms "
              f"(browser clock; {waited_s * 1000:.0f} ms until the test saw it)")

        marker = markers.first
        await expect(page.locator("#kpi-units")).to_have_text("1 / 1")
        await expect(marker).to_have_attribute("fill", AGENCY_COLOURS["police"])
        await expect(marker).not_to_have_class(re.compile(r"\bsitroom-unit-offline\b"))
        await marker.hover()
        tooltip = page.locator(".sitroom-tooltip")
        await expect(tooltip.locator(".tip-title")).to_have_text("car-7")
        await expect(tooltip.locator(".tip-line").first).to_have_text("police")

    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"
