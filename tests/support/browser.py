"""Debian's chromium for the browser tests, kept off the network, and what a page did that it
should not have (requests leaving the machine, errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Route,
    ViewportSize,
    async_playwright,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--font-render-hinting=none"]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
DESK_VIEWPORT: ViewportSize = {"width": 1920, "height": 1080}
"""A desk screen; the screenshot is taken at this size."""


@dataclass
class Browsing:
    """A chromium page, and what it did that it should not have."""

    page: Page
    offsite: list[str] = field(default_factory=list)
    """URLs of blocked requests to hosts other than loopback."""
    errors: list[str] = field(default_factory=list)
    """Uncaught page exceptions and console errors."""


async def keep_local(context: BrowserContext, offsite: list[str]) -> None:
    """Let only loopback, data: and blob: requests through; note the others in `offsite` and
    abort them (nothing may load from the internet)."""

    async def guard(route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            offsite.append(route.request.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", guard)


def record_errors(page: Page, errors: list[str]) -> None:
    """Note the page's console errors and uncaught exceptions in `errors`."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    def on_page_error(error: Error) -> None:
        errors.append(f"page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)


@asynccontextmanager
async def open_browser(viewport: ViewportSize = DESK_VIEWPORT) -> AsyncIterator[Browsing]:
    """A fresh chromium page (desk size by default); every non-loopback request is blocked
    and noted."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=viewport, locale="zh-CN",
                                                timezone_id="Asia/Shanghai")
            page = await context.new_page()
            seen = Browsing(page)
            await keep_local(context, seen.offsite)
            record_errors(page, seen.errors)
            yield seen
            await context.close()
        finally:
            await browser.close()
