"""The desk's unit controls in a real browser: the header warns (zh/en) while the invariant
check fails, and a leader releases the unit behind it with a reason from the form at the foot
of the left column; the warning goes away at the next check."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from config.settings import DispatchSettings, FeedWatchSettings, Settings
from dashboard.auth import Role
from incidents.model import Availability, Envelope, Inbound, Kind, Position, Status
from incidents.store import Store
from tests.support.auth import Served, create_user, served_dashboard, sign_in_page, with_auth
from tests.support.browser import Browsing

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

CHECK_EVERY_S = 5


@pytest.fixture
def desk(settings: Settings) -> Iterator[Served]:
    """The dashboard with sign-in, checking the invariants every few seconds."""
    quick = settings.model_copy(update={"feeds": FeedWatchSettings(agencies=()),
                                        "dispatch": DispatchSettings(check_every_s=CHECK_EVERY_S)})
    with served_dashboard(with_auth(quick)) as served:
        yield served


async def unit_on_scene_without_order(store: Store, unit: str) -> None:
    """A unit that says it is on scene though it holds no order: a failed invariant."""
    now = datetime.now(UTC)
    envelope = Envelope(topic="t", agency="fire", kind=Kind.POSITION, source=unit,
                        received_at=now)
    await store.write_batch([Inbound(envelope=envelope, message=Position(
        id=str(uuid.uuid4()), ts=now, unit=unit, unit_type="fire_engine", lat=37.07,
        lon=114.51))], [])
    await store.write_batch([Inbound(envelope=envelope, message=Status(
        id=str(uuid.uuid4()), ts=now, unit=unit, availability=Availability.ON_SCENE))], [])


async def test_the_desk_warns_and_a_leader_releases_the_unit(
    store: Store, database_url: str, desk: Served, browsing: Browsing,
) -> None:
    page = browsing.page
    await unit_on_scene_without_order(store, "xt-119-e9")
    await create_user(database_url, "zhang", Role.LEADER, display_name="张指挥")
    await sign_in_page(page, desk.url, "zhang")
    banner = page.locator("#desk-check-banner")
    await expect(banner).to_be_visible(timeout=20_000)
    await expect(banner).to_contain_text("状态检查未通过：1 处问题")
    await expect(banner).to_have_attribute("title", "单位显示执行任务但没有未完成的指令：xt-119-e9")

    await page.click(".desk-unitctl summary")
    await page.click("#desk-uc-unit")
    await page.locator(".dash-dropdown-option", has_text="xt-119-e9").click()
    await page.click("#desk-uc-apply")  # no reason: refused, nothing changes
    await expect(page.locator("#desk-uc-msg")).to_contain_text("请说明原因")
    await page.fill("#desk-uc-reason", "电话确认已归队")
    await page.click("#desk-uc-apply")
    await expect(page.locator("#desk-uc-msg")).to_contain_text("单位 xt-119-e9 状态已更新")
    (event,) = await store.commands.unit_events("xt-119-e9")
    assert (event["actor"], event["action"], event["data"]["reason"]) == (
        "zhang", "release", "电话确认已归队")
    await expect(banner).to_be_hidden(timeout=(CHECK_EVERY_S + 10) * 1000)

    await page.goto(f"{desk.url}/?lang=en")
    await unit_on_scene_without_order(store, "xt-119-e8")
    await expect(banner).to_contain_text("State check failed: 1 problem(s)",
                                         timeout=(CHECK_EVERY_S + 10) * 1000)
    assert browsing.offsite == []
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"
