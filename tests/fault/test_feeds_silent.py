"""Feeds stop arriving: the wall and the desk stop saying LIVE and name the silent agencies,
first one agency that goes quiet, then all of them when ingest itself is frozen (SIGSTOP);
LIVE comes back when the feeds do.

Ingest runs as its own process (`sitroom ingest`, so it can be frozen) on the test servers;
the dashboard is served from this process; police and fire publish positions twice a second
over Mosquitto; the stale threshold is 5 s so the whole story takes well under a minute.
Debian's chromium shows /wall (Chinese names) and the desk at /?lang=en (English names).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from config.settings import FeedWatchSettings, IngestSettings, Settings
from dashboard.auth import Role
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.auth import create_user, served_dashboard, sign_in_page, with_auth
from tests.support.browser import open_browser
from tests.support.ingest import Publisher, publisher
from tests.support.processes import start_sitroom
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.e2e]

STALE_S = 5.0
SOON_MS = int((STALE_S + 6) * 1000)
"""The threshold, plus ingest's beat (1 s) and the pages' (3 s), plus slack."""


@pytest.fixture
def feeds_settings(database_url: str, redis_server: str, redis_prefix: str, mosquitto: Broker,
                   tmp_path: Path) -> Settings:
    return with_auth(Settings(
        database_url=database_url, redis_url=redis_server, redis_prefix=redis_prefix,
        mqtt_url=mosquitto.url, mqtt_protocol=mosquitto.protocol,
        topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
        agencies=("police", "fire"), feeds=FeedWatchSettings(stale_s=STALE_S),
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}",
                              session_expiry_s=120)))


@pytest.fixture
def ingest_process(feeds_settings: Settings, store: Store,
                   tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`sitroom ingest` on the migrated test database; thawed and stopped afterwards."""
    process = start_sitroom(["ingest"], feeds_settings, tmp_path / "ingest.log")
    try:
        yield process
    finally:
        process.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Feed:
    """One agency's unit, publishing its position twice a second while `on`."""

    def __init__(self, pub: Publisher, root: str, agency: str, unit: str) -> None:
        self.topic = f"{root}/{agency}/position/{unit}"
        self.unit = unit
        self.on = True
        self._pub = pub

    async def run(self) -> None:
        while True:
            if self.on:
                payload = json.dumps({"id": str(uuid.uuid4()), "unit": self.unit,
                                      "ts": datetime.now(UTC).isoformat(), "lat": 37.07,
                                      "lon": 114.5})
                await asyncio.to_thread(self._pub.publish, self.topic, payload)
            await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def feeding(*feeds: Feed) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(feed.run(), name=f"feed-{feed.unit}") for feed in feeds]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def shows_live(wall: Page, desk: Page, timeout_ms: int = SOON_MS) -> None:
    await expect(wall.locator("#wall-live")).to_have_class("shell-live live-ok",
                                                          timeout=timeout_ms)
    await expect(wall.locator("#wall-live")).to_have_text("● 实时 LIVE")
    await expect(desk.locator("#shell-live")).to_have_class(re.compile(r"\blive-ok\b"),
                                                           timeout=timeout_ms)
    await expect(wall.locator("#wall-feeds")).to_be_hidden()
    await expect(desk.locator("#shell-feeds")).to_be_hidden()


async def test_the_wall_and_the_desk_name_silent_feeds_and_go_live_again(
    feeds_settings: Settings, ingest_process: subprocess.Popen[bytes], live: LiveState,
    mosquitto: Broker, database_url: str,
) -> None:
    settings = feeds_settings
    await create_user(database_url, "duty", Role.LEADER)
    await eventually(lambda: live.status(f"ingest:{settings.ingest.client_id}"),
                     lambda s: s is not None and s["broker_connected"], timeout_s=20)
    with (served_dashboard(settings) as served,
          publisher(mosquitto.url, mosquitto.protocol) as pub):
        police = Feed(pub, settings.topic_root, "police", "xt-110-01")
        fire = Feed(pub, settings.topic_root, "fire", "xt-119-01")
        async with feeding(police, fire), open_browser() as browsing:
            wall = browsing.page
            await sign_in_page(wall, served.url, "duty", next_path="/wall")
            desk = await wall.context.new_page()
            await desk.goto(f"{served.url}/?lang=en")
            await shows_live(wall, desk)

            # Fire goes quiet: named within the threshold and a few seconds; police is not.
            fire.on = False
            banner = wall.locator("#wall-feeds")
            await expect(banner).to_be_visible(timeout=SOON_MS)
            await expect(banner).to_contain_text("数据源中断 FEEDS SILENT：消防救援（")
            await expect(banner).not_to_contain_text("公安")
            await expect(wall.locator("#wall-live")).to_have_text("● 数据源中断 FEEDS SILENT")
            await expect(wall.locator("#wall-live")).to_have_class("shell-live live-down")
            await expect(wall.locator("#wall-stale")).to_be_hidden()  # the stream is fine
            header = desk.locator("#shell-feeds")
            await expect(header).to_be_visible(timeout=SOON_MS)
            await expect(header).to_contain_text("Fire and rescue (")
            await expect(header).not_to_contain_text("Public security")
            await expect(desk.locator("#shell-live")).to_have_class(re.compile(r"live-down"))

            # It speaks again, then ingest freezes: nothing arrives from anyone.
            fire.on = True
            await shows_live(wall, desk)
            ingest_process.send_signal(signal.SIGSTOP)
            await expect(banner).to_contain_text("公安", timeout=SOON_MS)
            await expect(banner).to_contain_text("消防救援")
            await expect(header).to_contain_text("Public security", timeout=SOON_MS)
            await expect(header).to_contain_text("Fire and rescue")
            silent = await banner.get_attribute("data-silent")
            assert silent == "police fire"

            # Ingest thaws and works off what the broker kept: LIVE again.
            ingest_process.send_signal(signal.SIGCONT)
            await shows_live(wall, desk, timeout_ms=20_000)
            assert browsing.offsite == [], browsing.offsite
            errors = [e for e in browsing.errors if e.startswith("page error")]
            assert not errors, browsing.errors


STOPPED_S = 90
"""How long ingest stays down in the test at the default threshold, as the issue states it."""
NAMED_WITHIN_MS = 70_000
"""The pages name every silent feed within this long after ingest stops (default 60 s)."""


async def test_with_the_default_threshold_a_killed_ingest_is_named_within_70_s(
    feeds_settings: Settings, ingest_process: subprocess.Popen[bytes], live: LiveState,
    mosquitto: Broker, database_url: str, tmp_path: Path,
) -> None:
    """Ingest is killed (-9) for 90 s under the shipped 60 s threshold: within 70 s the wall and
    the desk name both feeds; a fresh ingest brings LIVE back."""
    settings = feeds_settings.model_copy(update={"feeds": FeedWatchSettings()})
    assert settings.feeds.stale_s == 60.0  # the default is what this test is about
    await create_user(database_url, "duty", Role.LEADER)
    await eventually(lambda: live.status(f"ingest:{settings.ingest.client_id}"),
                     lambda s: s is not None and s["broker_connected"], timeout_s=20)
    with (served_dashboard(settings) as served,
          publisher(mosquitto.url, mosquitto.protocol) as pub):
        police = Feed(pub, settings.topic_root, "police", "xt-110-02")
        fire = Feed(pub, settings.topic_root, "fire", "xt-119-02")
        async with feeding(police, fire), open_browser() as browsing:
            wall = browsing.page
            await sign_in_page(wall, served.url, "duty", next_path="/wall")
            desk = await wall.context.new_page()
            await desk.goto(f"{served.url}/?lang=en")
            await shows_live(wall, desk)

            stopped_at = asyncio.get_running_loop().time()
            ingest_process.kill()
            ingest_process.wait()
            banner = wall.locator("#wall-feeds")
            await expect(banner).to_contain_text("公安", timeout=NAMED_WITHIN_MS)
            await expect(banner).to_contain_text("消防救援", timeout=1_000)
            header = desk.locator("#shell-feeds")
            named_within = NAMED_WITHIN_MS - int(
                (asyncio.get_running_loop().time() - stopped_at) * 1000)
            await expect(header).to_contain_text("Public security",
                                                 timeout=max(named_within, 1))
            await expect(header).to_contain_text("Fire and rescue", timeout=1_000)
            assert await wall.locator("#wall-live").text_content() == "● 数据源中断 FEEDS SILENT"

            # Still down until 90 s have passed, then a new ingest starts: LIVE again.
            rest = STOPPED_S - (asyncio.get_running_loop().time() - stopped_at)
            await asyncio.sleep(max(rest, 0.0))
            await expect(banner).to_be_visible()
            again = start_sitroom(["ingest"], settings, tmp_path / "ingest-again.log")
            try:
                await shows_live(wall, desk, timeout_ms=30_000)
            finally:
                again.terminate()
                again.wait(timeout=30)
            assert browsing.offsite == [], browsing.offsite
            errors = [e for e in browsing.errors if e.startswith("page error")]
            assert not errors, browsing.errors
