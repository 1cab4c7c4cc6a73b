"""The desk's keyboard in a real browser: `?` shows the shortcuts (focus kept inside, Esc
closes and gives focus back), V verifies the selected incident and E escalates it by pressing
the same buttons as the mouse (journaled with the leader as the actor), N goes to the note box,
and a "v" typed there is text, not a shortcut. Ctrl+Enter adds the note."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from dashboard.auth import Role
from incidents.command import Actor, NewIncident
from incidents.live import LiveState
from incidents.model import IncidentStatus, Level
from incidents.store import Store
from tests.support.auth import Served, create_user, sign_in_page
from tests.support.browser import Browsing
from tests.support.command import command_service

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]


async def focused_id(page: Page) -> str:
    """The id of the element that has the focus ("" for none)."""
    found: str = await page.evaluate("() => (document.activeElement || {}).id || ''")
    return found


async def test_shortcuts_act_on_the_selected_incident_and_the_overlay_traps_focus(
    store: Store, live: LiveState, database_url: str, desk: Served, browsing: Browsing,
) -> None:
    page = browsing.page
    service = command_service(store, live)
    incident = await service.create(NewIncident(
        type="fire", title="信都区某仓库起火", level=Level.III, lat=37.06, lon=114.45),
        Actor(name="desk-119"))
    await create_user(database_url, "zhao", Role.LEADER, display_name="赵指挥")
    await sign_in_page(page, desk.url, "zhao")
    verify = page.locator("#desk-act-verify")
    await expect(verify).to_have_attribute("title", "核实 (V)")

    # Nothing selected: V presses a disabled button, i.e. nothing, and says why.
    await page.locator("body").press("v")
    await expect(page.locator("#desk-keys-msg")).to_have_text("请先选择一起事件")

    await page.locator(f"#desk-list [data-incident='{incident.id}']").click()
    await expect(page.locator("#desk-panel")).not_to_have_class(re.compile("desk-panel-empty"))
    head = page.locator("#desk-head")
    await expect(head.locator(".desk-status")).to_have_text("接报")
    await expect(verify).to_be_enabled()

    # ? opens the overlay with the focus inside; Tab cannot leave it; Esc gives focus back.
    await page.focus("#lang-switch")
    await page.keyboard.press("?")
    overlay = page.locator("#desk-keys")
    await expect(overlay).to_be_visible()
    await expect(overlay).to_contain_text("键盘快捷键")
    await expect(overlay.locator("tr", has_text="核实所选事件")).to_contain_text("V")
    assert await focused_id(page) == "desk-keys-close"
    for _ in range(3):
        await page.keyboard.press("Tab")
        assert await focused_id(page) == "desk-keys-close"
    await page.keyboard.press("Shift+Tab")
    assert await focused_id(page) == "desk-keys-close"
    await page.keyboard.press("v")  # keys do not reach the page behind the overlay
    await page.keyboard.press("Escape")
    await expect(overlay).to_be_hidden()
    assert await focused_id(page) == "lang-switch"
    # Reached by the keyboard, it wears the focus ring: at least 2 px, solid, amber.
    ring = await page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return [el.matches(":focus-visible"), style.outlineStyle,
                parseFloat(style.outlineWidth), style.outlineColor];
    }""")
    assert ring[0] is True and ring[1] == "solid" and ring[2] >= 2, ring
    assert ring[3] == "rgb(255, 200, 0)", ring
    assert (await service.incident(incident.id)).status is IncidentStatus.REPORTED

    # N goes to the note box; a "v" typed there is text and verifies nothing.
    await page.keyboard.press("n")
    assert await focused_id(page) == "desk-note"
    await page.keyboard.type("v 现场已封控")
    await expect(page.locator("#desk-note")).to_have_value("v 现场已封控")
    await page.wait_for_timeout(1000)  # a wrongly pressed button would have answered by now
    await expect(head.locator(".desk-status")).to_have_text("接报")
    assert (await service.incident(incident.id)).status is IncidentStatus.REPORTED

    # Ctrl+Enter adds the note (the note button, as a click would).
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#desk-note")).to_have_value("", timeout=10_000)
    await expect(page.locator("#desk-timeline")).to_contain_text("现场已封控", timeout=10_000)

    # V, outside a field, verifies; E escalates III → II.
    await page.evaluate("() => document.activeElement && document.activeElement.blur()")
    await page.keyboard.press("v")
    await expect(head.locator(".desk-status")).to_have_text("已核实", timeout=10_000)
    await page.keyboard.press("e")
    await expect(head.locator(".desk-head-level")).to_have_text("II级 重大", timeout=10_000)
    found = await service.incident(incident.id)
    assert found.status is IncidentStatus.VERIFIED and found.level is Level.II
    timeline = await service.timeline(incident.id)
    acted = {e["action"]: e["actor"] for e in timeline}
    assert acted["verify"] == acted["escalate"] == acted["note"] == "zhao"

    # C on a verified incident only focuses "false alarm" and asks for Enter.
    await page.keyboard.press("c")
    assert await focused_id(page) == "desk-act-false_alarm"
    await expect(page.locator("#desk-keys-msg")).to_contain_text("按回车确认")
    assert (await service.incident(incident.id)).status is IncidentStatus.VERIFIED

    # English: the same overlay, in English.
    await page.goto(f"{desk.url}/?lang=en")
    await expect(page.locator("#desk-act-verify")).to_have_attribute("title", "Verify (V)")
    await page.locator("body").press("?")
    await expect(overlay).to_contain_text("Keyboard shortcuts")
    await page.keyboard.press("Escape")
    await expect(overlay).to_be_hidden()
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"
