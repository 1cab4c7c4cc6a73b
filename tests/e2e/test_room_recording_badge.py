"""The conference room's recording badge in a real browser: "录制中" shows only while the
room is being recorded. Before joining there is no recording badge (the state badge says
未连接); joined, a neutral "未录制" until a leader starts recording; after leaving it is gone.
Chromium's fake camera joins; nothing leaves the machine."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, keep_local, record_errors
from video.server import Running, running

pytestmark = pytest.mark.e2e

FAKE_MEDIA_ARGS = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
                   "--use-fake-ui-for-media-stream"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Running]:
    """The video server on loopback (no Redis: the registry lives in memory)."""
    settings = VideoSettings(token_secret=SecretStr(secrets.token_urlsafe(32)), port=0,
                             recordings_dir=tmp_path / "recordings")
    async with running(settings, redis_url=None, redis_prefix="e2e:") as started:
        yield started


@pytest.fixture
async def page() -> AsyncIterator[tuple[Page, list[str], list[str]]]:
    """A chromium page with a fake camera; its blocked requests and errors."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=FAKE_MEDIA_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            offsite: list[str] = []
            errors: list[str] = []
            await keep_local(context, offsite)
            opened = await context.new_page()
            record_errors(opened, errors)
            yield opened, offsite, errors
            await context.close()
        finally:
            await browser.close()


async def visible_text(page: Page) -> str:
    """What a person sees on the page."""
    text: str = await page.evaluate("() => document.body.innerText")
    return text


async def test_recording_badge_shows_only_while_recording(
        server: Running, page: tuple[Page, list[str], list[str]]) -> None:
    browser_page, offsite, errors = page
    settings = server.hub.settings
    assert settings.token_secret is not None
    key = settings.token_secret.get_secret_value().encode()
    room = server.hub.create_room("inc-7", "七里河汛情会商", "li.wei")
    token = issue(key, "li.wei", Role.LEADER, 600, rooms=(room.id,))
    badge = browser_page.locator("#room-recording")

    await browser_page.goto(f"{server.base_url}/room/{room.id}?token={token}")
    await expect(browser_page.locator("#room-state")).to_have_text("未连接")
    await expect(badge).to_be_hidden()
    assert "录制中" not in await visible_text(browser_page)

    await browser_page.click("#room-join")
    await expect(browser_page.locator("#room-state")).to_have_attribute(
        "data-state", "joined", timeout=20_000)
    await expect(badge).to_be_visible()
    await expect(badge).to_have_text("未录制")
    await expect(badge).to_have_attribute("data-rec", "off")
    assert "录制中" not in await visible_text(browser_page)

    await browser_page.click("#room-record")
    await expect(badge).to_have_text("录制中", timeout=10_000)
    await expect(badge).to_have_attribute("data-rec", "on")
    await expect(browser_page.locator("#room-record")).to_have_text("停止录制")
    await browser_page.click("#room-record")
    await expect(badge).to_have_text("未录制", timeout=10_000)

    await browser_page.click("#room-leave")
    await expect(browser_page.locator("#room-state")).to_have_attribute("data-state", "ended")
    await expect(badge).to_be_hidden()

    await browser_page.goto(f"{server.base_url}/room/{room.id}?lang=en&token={token}")
    await expect(browser_page.locator("#room-state")).to_have_text("not connected")
    await expect(badge).to_be_hidden()
    assert "recording" not in (await visible_text(browser_page)).lower().replace(
        "start recording", "")
    assert offsite == [], f"requests left the machine: {offsite}"
    assert errors == [], f"the page reported errors: {errors}"
