"""Bulk close from the leader's desk in a real browser, over real PostgreSQL and Redis.

Four incidents are open; the leader opens the bulk dialog, searches and picks all four, is
told a reason is required, types one and confirms. Three reported ones close as false alarms,
each journaled with the reason and the leader; the one already in response is refused, and
the line under the button says so, naming it and why. The list then shows only that one.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from dashboard.auth import Role
from incidents.command import Actor, CommandService, NewIncident
from incidents.lifecycle import Action
from incidents.live import LiveState
from incidents.model import Incident, IncidentStatus, Level
from incidents.store import Store
from tests.support.auth import Served, create_user, sign_in_page
from tests.support.browser import Browsing
from tests.support.command import command_service

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

REASON = "同一报警器故障连续误报，已与物业核实"
DUPLICATES = ["信都区报警器误报甲", "信都区报警器误报乙", "信都区报警器误报丙"]


async def reported(service: CommandService, title: str, n: int) -> Incident:
    """A reported fire in 信都区, a little apart from the others."""
    return await service.create(NewIncident(type="fire", title=title, level=Level.IV,
                                            lat=37.06 + n * 0.002, lon=114.49),
                                Actor(name="desk-119"))


async def pick(page: Page, title: str) -> None:
    """Search the multi-select for `title` and choose it."""
    await page.click("#desk-bulk-pick")
    await page.keyboard.type(title)
    # The dropdown's options, not the incident list's rows (options of a listbox too).
    await page.locator(".dash-dropdown-option", has_text=title).click()
    await page.keyboard.press("Escape")


async def test_a_leader_bulk_closes_false_alarms_and_sees_what_was_refused(
    store: Store, live: LiveState, database_url: str, desk: Served, browsing: Browsing,
) -> None:
    page = browsing.page
    service = command_service(store, live)
    closing = [await reported(service, title, n) for n, title in enumerate(DUPLICATES)]
    busy = await reported(service, "襄都区厂房起火", 9)
    for move in (Action.VERIFY, Action.RESPOND):
        await service.act(busy.id, move, Actor(name="desk-119"))
    await create_user(database_url, "li", Role.LEADER, display_name="李指挥")
    await sign_in_page(page, desk.url, "li")
    await expect(page.locator("#desk-list .desk-row")).to_have_count(4, timeout=15_000)

    await page.click("#desk-bulk-open")
    dialog = page.locator("#desk-bulk")
    await expect(dialog).to_have_class(re.compile("desk-dialog-open"), timeout=10_000)
    for title in [*DUPLICATES, "襄都区厂房起火"]:
        await pick(page, title)
    await expect(page.locator("#desk-bulk-pick")).to_contain_text("已选 4 起")
    summary = page.locator("#desk-bulk-summary")
    await expect(summary).to_contain_text("将以「误报」结案 4 起")
    await expect(summary).to_contain_text("信都区报警器误报乙")

    await page.click("#desk-bulk-confirm")  # no reason yet
    await expect(page.locator("#desk-bulk-msg")).to_have_text("批量操作须填写原因")
    await expect(dialog).to_have_class(re.compile("desk-dialog-open"))
    assert {(await service.incident(i.id)).status for i in closing} == {IncidentStatus.REPORTED}

    await page.fill("#desk-bulk-reason", REASON)
    await page.click("#desk-bulk-confirm")
    await expect(dialog).not_to_have_class(re.compile("desk-dialog-open"), timeout=15_000)
    message = page.locator("#desk-bulk-result")  # under the button, beside the list
    await expect(message).to_be_visible()
    await expect(message).to_contain_text("已结案 3 起，1 起未能处理：")
    await expect(message).to_contain_text("襄都区厂房起火")
    await expect(message).to_contain_text("已进入处置，不能按误报关闭")
    await expect(message).to_have_class(re.compile("desk-msg-err"))

    for incident in closing:
        assert (await service.incident(incident.id)).status is IncidentStatus.CLOSED
        last = (await service.timeline(incident.id))[-1]
        assert (last["action"], last["actor"]) == ("close", "li")
        assert (last["data"]["reason"], last["data"]["resolution"]) == (REASON, "false_alarm")
    assert (await service.incident(busy.id)).status is IncidentStatus.RESPONDING
    rows = page.locator("#desk-list .desk-row")
    await expect(rows).to_have_count(1, timeout=10_000)  # the open list keeps the refused one
    await expect(rows).to_contain_text("襄都区厂房起火")
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"
