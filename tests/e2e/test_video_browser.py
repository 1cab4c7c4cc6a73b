"""The video pages in a real browser: /field publishes Chromium's fake camera over WHIP, and
/watch plays it over WHEP through the relay. Every request to a host other than loopback is
blocked and recorded; the pages must need none.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, keep_local, record_errors
from tests.support.waiting import eventually
from video.registry import StreamState
from video.server import Running, running

pytestmark = pytest.mark.e2e

FAKE_MEDIA_ARGS = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
                   "--use-fake-ui-for-media-stream"]

PLAYING_JS = """(selector) => {
  const video = document.querySelector(selector);
  return video ? {width: video.videoWidth, time: video.currentTime} : null;
}"""


@dataclass
class Browsing:
    """A browser context, and what its pages did that they should not have."""

    context: BrowserContext
    offsite: list[str] = field(default_factory=list)
    """Blocked requests to hosts other than loopback."""
    errors: list[str] = field(default_factory=list)
    """Uncaught page exceptions and console errors."""

    async def page(self) -> Page:
        """A new page whose errors are recorded."""
        page = await self.context.new_page()
        record_errors(page, self.errors)
        return page


@pytest.fixture
async def browsing() -> AsyncIterator[Browsing]:
    """Debian's chromium with a fake camera and microphone, kept off the network."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=FAKE_MEDIA_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            seen = Browsing(context)
            await keep_local(context, seen.offsite)
            yield seen
            await context.close()
        finally:
            await browser.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Running]:
    """The video server on loopback (no Redis: the registry lives in memory)."""
    settings = VideoSettings(token_secret=SecretStr(secrets.token_urlsafe(32)), port=0,
                             recordings_dir=tmp_path / "recordings")
    async with running(settings, redis_url=None, redis_prefix="e2e:") as started:
        yield started


async def test_a_field_page_publishes_and_a_watch_page_plays_it(
        server: Running, browsing: Browsing) -> None:
    settings = server.hub.settings
    assert settings.token_secret is not None
    key = settings.token_secret.get_secret_value().encode()
    unit = issue(key, "car-7", Role.UNIT, 600, publish=("car-7",))
    leader = issue(key, "li.wei", Role.LEADER, 600, may_watch=True)

    field_page = await browsing.page()
    await field_page.goto(f"{server.base_url}/field?token={unit}&stream=car-7&title=7号车")
    # The token left the address bar at once; it lives in the page's memory only.
    assert "token=" not in field_page.url
    await expect(field_page.locator("h1")).to_have_text("现场视频回传")
    await field_page.click("#field-start")
    await expect(field_page.locator("#field-state")).to_have_attribute("data-state", "live",
                                                                      timeout=20_000)
    info = await eventually(lambda: server.hub.registry.get("car-7"),
                            lambda i: i is not None and i.state is StreamState.LIVE)
    assert info is not None and info.title == "7号车"

    watch_page = await browsing.page()
    await watch_page.goto(f"{server.base_url}/watch?streams=car-7&lang=en&token={leader}")
    tile = watch_page.locator("figure[data-stream='car-7']")
    await expect(tile.locator(".badge")).to_have_attribute("data-state", "live",
                                                          timeout=20_000)
    await expect(tile.locator(".title")).to_have_text("7号车", timeout=10_000)
    selector = "figure[data-stream='car-7'] video"
    await watch_page.wait_for_function(
        f"() => document.querySelector(\"{selector}\").videoWidth > 0", timeout=20_000)
    first = await watch_page.evaluate(PLAYING_JS, selector)
    await watch_page.wait_for_function(
        f"(t) => document.querySelector(\"{selector}\").currentTime > t + 1.0",
        arg=first["time"], timeout=20_000)
    last = await watch_page.evaluate(PLAYING_JS, selector)
    assert last["width"] > 0 and last["time"] > first["time"]
    print(f"\nplaying {last['width']} px wide, {first['time']:.2f}s → {last['time']:.2f}s")

    # One publisher, one viewer, one shared encoder.
    stats = server.hub.relays["car-7"].stats()
    assert stats.viewers == 1 and stats.encoder_contexts == 1

    await field_page.click("#field-stop")
    await expect(field_page.locator("#field-state")).to_have_attribute("data-state", "ended")
    await eventually(lambda: server.hub.registry.get("car-7"),
                     lambda i: i is not None and i.state is StreamState.ENDED)
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the pages reported errors: {browsing.errors}"


async def test_two_browsers_meet_in_a_conference_room(
        server: Running, browsing: Browsing) -> None:
    settings = server.hub.settings
    assert settings.token_secret is not None
    key = settings.token_secret.get_secret_value().encode()
    room = server.hub.create_room("inc-42", "七里河汛情会商", "li.wei")
    pages = []
    for name, role in (("li.wei", Role.LEADER), ("zhang.fire", Role.LIAISON)):
        token = issue(key, name, role, 600, rooms=(room.id,))
        page = await browsing.page()
        await page.goto(f"{server.base_url}/room/{room.id}?token={token}")
        await page.click("#room-join")
        await expect(page.locator("#room-state")).to_have_attribute("data-state", "joined",
                                                                   timeout=20_000)
        pages.append(page)
    leader, liaison = pages
    await expect(leader.locator("#room-name")).to_have_text("七里河汛情会商")
    await expect(leader.locator("#room-record")).to_be_visible()
    await expect(liaison.locator("#room-record")).to_be_hidden()
    for page in pages:
        await expect(page.locator("#room-participants li")).to_have_count(2, timeout=10_000)
        remote = "#room-videos figure:not([data-participant='me']) video"
        await page.wait_for_function(
            f"() => {{ const v = document.querySelector(\"{remote}\");"
            " return v !== null && v.videoWidth > 0 && v.currentTime > 0.5; }",
            timeout=20_000)

    await leader.fill("#room-chat-input", "请消防组报告水位")
    await leader.press("#room-chat-input", "Enter")
    await expect(liaison.locator("#room-chat li")).to_have_text(["li.wei: 请消防组报告水位"],
                                                               timeout=10_000)
    assert [e["text"] for e in room.log if e["type"] == "chat"] == ["请消防组报告水位"]

    await liaison.click("#room-leave")
    await expect(leader.locator("#room-participants li")).to_have_count(1, timeout=10_000)
    await leader.click("#room-leave")
    await eventually(lambda: len(server.hub.sessions), lambda n: n == 0)
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the pages reported errors: {browsing.errors}"
