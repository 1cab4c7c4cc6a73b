"""Analytics and replay in a real browser: the charts draw from PostgreSQL with plotly.js served
by the dashboard itself, and the replay shows the picture as it was — a unit where it stood two
hours ago, an incident verified but not yet escalated — and then as it is now."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from playwright.async_api import expect

from config.settings import Settings
from dashboard.auth import Role
from incidents.command import Actor, NewIncident
from incidents.lifecycle import Action
from incidents.live import LiveState
from incidents.model import Envelope, Inbound, Kind, Level, Position
from incidents.store import Store
from tests.support.auth import Served, create_user, served_dashboard, sign_in_page, with_auth
from tests.support.browser import Browsing
from tests.support.command import command_service

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

LEADER = Actor(name="leader-zhao", client="10.0.0.9")


@pytest.fixture
def desk(settings: Settings) -> Iterator[Served]:
    """The dashboard with sign-in, on the test's settings."""
    with served_dashboard(with_auth(settings)) as served:
        yield served


async def test_replay_shows_the_picture_as_it_was(
    settings: Settings, store: Store, live: LiveState, database_url: str, desk: Served,
    browsing: Browsing,
) -> None:
    page = browsing.page
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    await store.write_batch([Inbound(
        envelope=Envelope(topic="t", agency="fire", kind=Kind.POSITION, source="hist-1",
                          received_at=two_hours_ago),
        message=Position(id=str(uuid.uuid4()), ts=two_hours_ago, unit="hist-1", lat=37.07,
                         lon=114.5, unit_type="fire_engine"))], [])
    service = command_service(store, live)
    leak = await service.create(NewIncident(type="chemical_leak", title="储罐泄漏", lat=37.07,
                                            lon=114.52, level=Level.IV), LEADER)
    await service.act(leak.id, Action.VERIFY, LEADER)
    await asyncio.sleep(0.05)
    verified = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await service.act(leak.id, Action.ESCALATE, LEADER, level=Level.II)
    await create_user(database_url, "zhao", Role.OPERATOR)
    await sign_in_page(page, desk.url, "zhao")

    # Two hours ago: the engine on the map, no incident yet.
    earlier = (two_hours_ago + timedelta(seconds=30)).isoformat()
    await page.goto(f"{desk.url}/replay?at={quote(earlier)}")
    await expect(page.locator("#replay-summary")).to_contain_text("在线单位 1", timeout=15_000)
    await expect(page.locator("path.replay-unit")).to_have_count(1)
    await expect(page.locator("#replay-list")).to_contain_text("暂无符合条件的事件")

    # Just after it was verified: level IV, verified, on the map in level IV's colour.
    await page.goto(f"{desk.url}/replay?at={quote(verified.isoformat())}")
    row = page.locator(f"#replay-list [data-incident='{leak.id}']")
    await expect(row).to_have_attribute("data-level", "IV", timeout=15_000)
    await expect(row).to_have_attribute("data-status", "verified")
    await expect(row.locator(".desk-status")).to_have_text("已核实")
    await expect(page.locator("path.replay-incident-iv")).to_have_count(1)
    await expect(page.locator("path.replay-unit")).to_have_count(0)

    # Now: escalated to II.
    await page.click("#replay-now")
    await expect(row).to_have_attribute("data-level", "II", timeout=10_000)
    await expect(page.locator("path.replay-incident-ii")).to_have_count(1)
    at_now = await page.locator("#replay-at").inner_text()
    await page.click("#replay-back-60")
    await expect(page.locator("#replay-at")).not_to_have_text(at_now)
    await expect(page.locator("#replay-list")).to_contain_text("暂无符合条件的事件")

    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"


async def test_analytics_draws_the_days_incidents(
    settings: Settings, store: Store, live: LiveState, database_url: str, desk: Served,
    browsing: Browsing,
) -> None:
    page = browsing.page
    service = command_service(store, live)
    for kind, title, lat, lon in [("fire", "居民楼起火", 37.06, 114.49),
                                  ("fire", "仓库起火", 37.17, 114.80),
                                  ("flood", "河道漫堤", 37.05, 114.99)]:
        created = await service.create(NewIncident(type=kind, title=title, lat=lat, lon=lon),
                                       LEADER)
        await service.act(created.id, Action.VERIFY, LEADER)
    await create_user(database_url, "zhao", Role.LEADER)
    await sign_in_page(page, desk.url, "zhao", next_path="/analytics")

    await expect(page.locator("#analytics-total")).to_have_text("3", timeout=15_000)
    await expect(page.locator("#analytics-open")).to_have_text("3")
    await expect(page.locator("#analytics-verify")).to_have_text(re.compile(r"^\d+(\.\d+)? 分钟$"))
    await expect(page.locator("#analytics-scene")).to_have_text("–")
    await expect(page.locator(".desk-chart .js-plotly-plot")).to_have_count(4)
    over_time = page.locator("#analytics-over-time")
    await expect(over_time.locator(".legendtext")).to_have_count(2)  # one series per type
    assert sorted(await over_time.locator(".legendtext").all_text_contents()) == [
        "洪涝（城市内涝、河道超警）", "火灾"]
    await expect(page.locator("#analytics-district .ytick")).to_have_count(3)  # 3 districts

    await page.click("#lang-switch")
    await expect(page.locator("#analytics-total")).to_have_text("3", timeout=15_000)
    await expect(page.locator("#analytics-over-time .legendtext", has_text="Fire")).to_have_count(
        1)
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"
