"""Honest dispatch at the desk, in a real browser over real servers (issue #14).

A building fire at level IV needs 8 units; only two fire engines are near, a third is 40 km
away and a fourth is busy on another incident. The leader sees the plan's needs in the panel
before anything is sent, opens the dispatch dialog, sees what is short and the far engine's
distance warning, swaps the far engine for the busy one (refused until a reason is given),
confirms the partial dispatch in its confirmation step (after going back once), and then reads
needed / sent / short in the panel. The journal names the busy unit and the reason.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from config.settings import Settings
from dashboard.auth import Role
from incidents.command import Actor, NewIncident
from incidents.lifecycle import Action
from incidents.live import LiveState
from incidents.model import Envelope, Inbound, Kind, Level, Position
from incidents.store import Store
from tests.support.auth import Served, create_user, sign_in_page
from tests.support.browser import Browsing
from tests.support.command import command_service

# The desk needs no broker here (units are written straight to PostgreSQL); the settings
# fixture needs one.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "desk-dispatch.png"
FIRE = (37.06, 114.49)
M_PER_DEG = 111_195.0
UNITS = [  # (agency, unit, kind, metres north of the fire)
    ("fire", "e-near1", "fire_engine", 500), ("fire", "e-near2", "fire_engine", 900),
    ("fire", "e-far", "fire_engine", 39_900), ("fire", "e-busy", "fire_engine", 300),
    ("police", "p-near", "patrol_car", 700),
]


async def place_units(store: Store) -> None:
    """The units' positions, as ingest would store them."""
    now = datetime.now(UTC)
    await store.write_batch([Inbound(
        envelope=Envelope(topic="t", agency=agency, kind=Kind.POSITION, source=unit,
                          received_at=now),
        message=Position(id=str(uuid.uuid4()), ts=now, unit=unit, unit_type=kind,
                         lat=FIRE[0] + north / M_PER_DEG, lon=FIRE[1]))
        for agency, unit, kind, north in UNITS], [])


async def test_a_partial_dispatch_is_confirmed_and_the_panel_says_what_is_short(
    settings: Settings, store: Store, live: LiveState, database_url: str, desk: Served,
    browsing: Browsing,
) -> None:
    page = browsing.page
    await place_units(store)
    service = command_service(store, live)
    desk_110 = Actor(name="desk-110")
    elsewhere = await service.create(NewIncident(
        type="fire", title="信都区某厂房起火", level=Level.IV, lat=37.06, lon=114.40), desk_110)
    await service.act(elsewhere.id, Action.VERIFY, desk_110)
    await service.dispatch(elsewhere.id, desk_110, assignments=[("fire_attack", "e-busy")])
    fire = await service.create(NewIncident(
        type="fire", title="襄都区某小区居民楼起火", level=Level.IV, lat=FIRE[0], lon=FIRE[1]),
        desk_110)
    await service.act(fire.id, Action.VERIFY, desk_110)
    await create_user(database_url, "zhao", Role.LEADER, display_name="赵指挥")

    await sign_in_page(page, desk.url, "zhao")
    row = page.locator(f"#desk-list [data-incident='{fire.id}']")
    await row.click()
    head = page.locator("#desk-head")
    # Before anything is sent the header already says what the plan needs (IV: 8 units).
    await expect(head.locator(".desk-head-dispatch")).to_have_text(
        "已派 0/8 · 缺 8 · 已确认 0", timeout=10_000)

    await page.click("#desk-act-dispatch")
    dialog = page.locator("#desk-dialog")
    await expect(dialog).to_have_class(re.compile("desk-dialog-open"), timeout=10_000)
    attack = dialog.locator("[data-task='fire_attack']")
    # Three engines are proposed: the two near ones and the far one, marked with its distance.
    far = attack.locator(".desk-dslot", has_text="e-far")
    await expect(far).to_contain_text("e-far · ⚠ 远 · 39.9 km · 约 60 分钟")
    await expect(far).to_have_class(re.compile("desk-dslot-far"))
    await expect(attack.locator(".desk-chip-far")).to_have_text("拟派 1 个较远")
    await expect(attack.locator(".desk-dslot", has_text="e-near1")).not_to_contain_text("⚠")
    # Tasks nobody can fill say how many are short.
    await expect(dialog.locator("[data-task='casualty_care'] .desk-chip-warn")).to_have_text(
        "缺 1")

    # Swap the far engine for the busy one: offered last, marked, refused without a reason.
    await far.click()
    busy = page.get_by_role("option", name="e-busy · 执行任务中 · 300 m · 约 1 分钟")
    await busy.click()
    chosen = attack.locator(".desk-dslot", has_text="e-busy")
    await expect(chosen).to_have_count(1)
    # The slot's mark follows the choice: busy now, no longer far.
    await expect(chosen).to_have_class(re.compile("desk-dslot-busy"))
    await expect(chosen).not_to_have_class(re.compile("desk-dslot-far"))
    await page.click("#desk-dialog-confirm")
    await expect(page.locator("#desk-dialog-msg")).to_have_text(
        "所选单位 e-busy 正在执行任务：请填写选用原因", timeout=10_000)
    partial = page.locator("#desk-dialog-partial")
    await expect(partial).not_to_have_class(re.compile("desk-dpartial-open"))
    await page.fill("#desk-dialog-reason", "最近的水罐车，原任务已有增援")

    # Confirming a partial dispatch asks first, naming what stays short; go back once.
    await page.click("#desk-dialog-confirm")
    await expect(partial).to_have_class(re.compile("desk-dpartial-open"), timeout=10_000)
    lines = partial.locator("li")
    await expect(lines).to_have_count(4)
    await expect(partial).to_contain_text("搜救被困人员：消防救援")
    await expect(partial).to_contain_text("伤员救治：")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT))
    await page.click("#desk-dialog-back")
    await expect(partial).not_to_have_class(re.compile("desk-dpartial-open"))
    await expect(dialog).to_have_class(re.compile("desk-dialog-open"))
    await page.click("#desk-dialog-confirm")
    await expect(partial).to_have_class(re.compile("desk-dpartial-open"), timeout=10_000)
    await page.click("#desk-dialog-go")
    await expect(dialog).not_to_have_class(re.compile("desk-dialog-open"), timeout=10_000)
    await expect(page.locator("#desk-msg")).to_contain_text("已下达 4 条调度指令")

    # The panel: needed / sent / short overall and per task, short tasks marked.
    await expect(head.locator(".desk-head-dispatch")).to_have_text(
        "已派 4/8 · 缺 4 · 已确认 0", timeout=10_000)
    await page.click("#desk-ptab label:has-text('调度指令')")
    orders = page.locator("#desk-orders")
    await expect(orders.locator(".desk-cover-summary")).to_have_text(
        "已派 4/8 · 缺 4 · 已确认 0")
    await expect(orders.locator("tr.desk-cover-short")).to_have_count(4)
    await expect(orders.locator("tr[data-task='fire_attack']")).to_have_attribute(
        "data-short", "0")
    await expect(orders.locator("tr[data-task='search_rescue']")).to_contain_text("缺 1")
    await expect(orders.locator("tr.desk-order")).to_have_count(4)

    # English: the same figures in words.
    await page.click("#lang-switch")
    await expect(page.locator("#desk-ltab")).to_contain_text("Incidents", timeout=10_000)
    await page.locator(f"#desk-list [data-incident='{fire.id}']").click()
    await expect(head.locator(".desk-head-dispatch")).to_have_text(
        "sent 4 of 8 · 4 short · 0 confirmed", timeout=10_000)

    dispatched = [e for e in await service.timeline(fire.id) if e["action"] == "dispatch"]
    assert len(dispatched) == 1 and dispatched[0]["actor"] == "zhao"
    assert dispatched[0]["data"]["busy_override"] == ["e-busy"]
    assert dispatched[0]["data"]["reason"] == "最近的水罐车，原任务已有增援"
    assert sorted(o["unit"] for o in dispatched[0]["data"]["orders"]) == [
        "e-busy", "e-near1", "e-near2", "p-near"]
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"
