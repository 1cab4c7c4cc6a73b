"""Signing in and out in a real browser: the form, the map behind it, errors and refusals.

The dashboard runs in this process (werkzeug in a thread) on the test's own database and Redis
prefix; Debian's chromium is kept off the network as in test_live_map.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import dash
import pytest
from playwright.async_api import Page, async_playwright, expect

from config.settings import FeedWatchSettings, Settings
from dashboard.auth import Action, Role, requires
from incidents.live import LiveState
from tests.support.auth import (
    TEST_PASSWORD,
    Served,
    create_user,
    served_dashboard,
    sign_in_page,
    with_auth,
)

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DISTRICTS = 18
"""County-level divisions of Xingtai drawn by the basemap."""


def _leader_only_route(app: dash.Dash) -> None:
    @requires(Action.DISPATCH)
    def dispatch_desk() -> str:
        return "dispatch desk"

    app.server.add_url_rule("/test/dispatch-desk", view_func=dispatch_desk)


@pytest.fixture
def dashboard(database_url: str, redis_server: str, redis_prefix: str,
              live: LiveState) -> Iterator[Served]:
    """The dashboard with auth, plus one leader-only page; `live` cleans its Redis keys."""
    # No ingest runs here, so no feed is watched: LIVE is the stream alone.
    settings = with_auth(Settings(database_url=database_url, redis_url=redis_server,
                                  redis_prefix=redis_prefix,
                                  feeds=FeedWatchSettings(agencies=())))
    with served_dashboard(settings, _leader_only_route) as served:
        yield served


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A chromium page that may reach loopback only."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            await context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"),
                                lambda route: route.abort("blockedbyclient"))
            yield await context.new_page()
            await context.close()
        finally:
            await browser.close()


async def test_sign_in_see_the_map_sign_out(dashboard: Served, page: Page,
                                            database_url: str) -> None:
    await create_user(database_url, "leader1", Role.LEADER, display_name="张指挥")
    await page.goto(dashboard.url + "/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    await expect(page.locator("h2.auth-title")).to_contain_text("登录")
    await expect(page.locator("h2.auth-title")).to_contain_text("Sign in")

    await page.fill("#username", "leader1")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(dashboard.url + "/")
    pane = page.locator(".leaflet-sitroomDistricts-pane")
    await expect(pane.locator("path:not([fill='none'])")).to_have_count(DISTRICTS,
                                                                       timeout=15_000)
    await expect(page.locator("#shell-live")).to_have_class(re.compile(r"\blive-ok\b"),
                                                            timeout=10_000)

    await page.goto(dashboard.url + "/logout")
    await expect(page.locator("form.auth-form")).to_contain_text("张指挥（leader1）")
    await page.click("#logout-submit")
    await expect(page).to_have_url(re.compile(r"/login\?lang=zh-CN&out=1$"))
    await expect(page.locator("#auth-message")).to_contain_text("您已安全退出")
    await expect(page.locator("#auth-message")).to_contain_text("You have signed out")

    await page.goto(dashboard.url + "/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))


async def test_a_wrong_password_shows_the_bilingual_error(dashboard: Served, page: Page,
                                                          database_url: str) -> None:
    await create_user(database_url, "operator1", Role.OPERATOR)
    await page.goto(dashboard.url + "/login")
    await page.fill("#username", "operator1")
    await page.fill("#password", "Not-The-Password-1")
    await page.click("#login-submit")
    message = page.locator("#auth-message")
    await expect(message).to_contain_text("用户名或密码错误")
    await expect(message).to_contain_text("Wrong user name or password")
    await expect(page.locator("#username")).to_have_value("operator1")
    await expect(page.locator("#password")).to_have_value("")

    await page.click("#lang-switch")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("label[for=username]")).to_contain_text("User name")


@pytest.mark.parametrize(("role", "agency", "label"), [(Role.OPERATOR, None, "值班员"),
                                                       (Role.LIAISON, "fire", "部门联络员")])
async def test_a_role_without_the_right_sees_a_403_page(dashboard: Served, page: Page,
                                                        database_url: str, role: Role,
                                                        agency: str | None, label: str) -> None:
    await create_user(database_url, "staff1", role, agency=agency)
    await sign_in_page(page, dashboard.url, "staff1")
    response = await page.goto(dashboard.url + "/test/dispatch-desk")
    assert response is not None and response.status == 403
    message = page.locator("#auth-message")
    await expect(page.locator("h2.auth-title")).to_contain_text("无权访问")
    await expect(page.locator("h2.auth-title")).to_contain_text("Access denied")
    await expect(message).to_contain_text(label)
    await expect(message).to_contain_text("dispatch")
