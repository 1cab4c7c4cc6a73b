"""The leader's desk in a real browser, over real servers.

A chemical-leak report arrives over MQTT (ingest runs in the test's loop); the leader picks it
in the list, verifies it, escalates it to level II, opens the dispatch dialog, removes one
proposed unit and confirms; the units receive their orders over MQTT and acknowledge them,
and the panel shows the acknowledgements as they arrive. The language switch changes the
labels to English and back. An operator sees the same desk with every action disabled, and
the server refuses the action even when the browser is bypassed. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from config.settings import Settings
from config.video import VideoSettings
from dashboard.auth import Role
from incidents.command import Actor, NewIncident
from incidents.live import LiveState
from incidents.model import IncidentStatus, Level
from incidents.store import Store
from maps.basemap import load_districts
from sitroom.layers_cli import import_demo_layers
from tests.conftest import Broker
from tests.support.auth import Served, create_user, served_dashboard, sign_in_page, with_auth
from tests.support.browser import Browsing
from tests.support.command import command_service
from tests.support.ingest import Publisher, publisher, running_ingest
from tests.support.waiting import eventually
from video.server import running

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "desk.png"
LEAK = (37.0712, 114.5183)  # 襄都区
STORY_UNITS = [  # (agency, unit, kind, metres north of the leak)
    ("fire", "xt-119-hz1", "hazmat_unit", 800), ("fire", "xt-119-rs1", "rescue_team", 900),
    ("fire", "xt-119-fe1", "fire_engine", 1200), ("fire", "xt-119-fe2", "fire_engine", 5000),
    ("police", "xt-110-p1", "patrol_car", 600), ("health", "xt-120-a1", "ambulance", 1500),
]
OTHER_REPORTS = [  # (agency, type, lat, lon, level, text) elsewhere in the city
    ("fire", "fire", 37.1650, 114.0813, "III", "信都区某小区居民楼起火，三楼有人被困"),
    ("water", "flood", 37.0466, 114.9914, "II", "平乡县境内河道水位超警戒，村庄低洼处进水"),
    ("police", "traffic_accident", 37.3682, 114.8225, "IV", "京港澳高速隆尧段多车追尾"),
]


def now() -> str:
    return datetime.now(UTC).isoformat()


def position(unit: str, kind: str, lat: float, lon: float) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "ts": now(), "unit": unit, "unit_type": kind,
                       "lat": lat, "lon": lon})


def report(kind: str, lat: float, lon: float, text: str, level: str | None = None) -> str:
    body: dict[str, Any] = {"id": str(uuid.uuid4()), "ts": now(), "type": kind, "lat": lat,
                            "lon": lon, "text": text}
    if level:
        body["level"] = level
    return json.dumps(body)


def ack(order: str, unit: str, state: str) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "ts": now(), "order": order, "unit": unit,
                       "state": state})


def publish_city(field: Publisher, root: str) -> dict[str, str]:
    """The story's units near the leak, and a patrol car and a ladder in every district;
    returns the agency of every unit."""
    agencies: dict[str, str] = {}

    def place(agency: str, unit: str, kind: str, lat: float, lon: float) -> None:
        field.publish(f"{root}/{agency}/position/{unit}", position(unit, kind, lat, lon))
        agencies[unit] = agency

    for agency, unit, kind, north in STORY_UNITS:
        place(agency, unit, kind, LEAK[0] + north / 111_000, LEAK[1])
    for n, feature in enumerate(load_districts()["features"]):
        props = feature["properties"]
        lat, lon = float(props["label_lat"]), float(props["label_lon"])
        place("police", f"xt-110-d{n}", "patrol_car", lat + 0.03, lon - 0.04)
        place("fire", f"xt-119-d{n}", "aerial_ladder", lat - 0.025, lon + 0.05)
    return agencies


async def open_panel(page: Page, incident_id: str) -> None:
    """Click the incident's row in the list and wait for its panel."""
    await page.locator(f"#desk-list [data-incident='{incident_id}']").click()
    await expect(page.locator("#desk-panel")).not_to_have_class(re.compile("desk-panel-empty"))
    await expect(page.locator(f"#desk-list [data-incident='{incident_id}']")).to_have_class(
        re.compile("desk-row-selected"))


async def test_leader_verifies_escalates_dispatches_and_sees_acks(
    settings: Settings, store: Store, live: LiveState, broker: Broker, database_url: str,
    desk: Served, browsing: Browsing,
) -> None:
    page = browsing.page
    root = settings.topic_root
    await import_demo_layers(database_url)  # facilities and cameras for decision support
    await create_user(database_url, "zhang", Role.LEADER, display_name="张指挥")
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as field:
            field.listen(f"{root}/command/dispatch/+")
            agency_of = publish_city(field, root)
            for agency, kind, lat, lon, level, text in OTHER_REPORTS:
                field.publish(f"{root}/{agency}/report/desk-{kind}",
                              report(kind, lat, lon, text, level))
            field.publish(f"{root}/safety/alarm/gas-7", json.dumps({  # a test: opens nothing
                "id": str(uuid.uuid4()), "ts": now(), "device": "gas-7", "type": "gas",
                "state": "test", "lat": 37.2, "lon": 114.9, "text": "月度测试"}))
            field.publish(f"{root}/safety/report/desk-12350", report(
                "chemical_leak", *LEAK, "化工厂储罐泄漏，有刺激性气味，周边有学校"))
            found = await eventually(live.incidents, lambda got: len(got) == 4, timeout_s=15)
            leak = next(i for i in found if i.type == "chemical_leak")
            await eventually(store.counts, lambda c: c["units"] >= len(STORY_UNITS) + 36)

            await sign_in_page(page, desk.url, "zhang")
            await expect(page.locator("#desk-list .desk-row")).to_have_count(4, timeout=15_000)
            await expect(page.locator("#desk-count")).to_have_text("共 4 起")
            await open_panel(page, leak.id)
            head = page.locator("#desk-head")
            await expect(head.locator(".desk-head-type")).to_have_text("危险化学品泄漏")
            await expect(head.locator(".desk-status")).to_have_text("接报")
            await expect(head).to_contain_text("襄都区")
            # No video server in this test: the conference is off, and says why.
            await expect(page.locator("#desk-act-conference")).to_be_disabled()
            await expect(page.locator("#desk-act-conference")).to_have_attribute(
                "title", "未配置视频服务器，暂不能发起会商")

            # Verify, then escalate to II: each is journaled with the leader as the actor.
            await page.click("#desk-act-verify")
            await expect(head.locator(".desk-status")).to_have_text("已核实", timeout=10_000)
            await expect(page.locator("#desk-msg")).to_have_class(re.compile("desk-msg-ok"))
            await page.click("#desk-lvl-II")
            await expect(head.locator(".desk-head-level")).to_have_text("II级 重大",
                                                                        timeout=10_000)
            await expect(page.locator("#desk-lvl-II")).to_be_disabled()

            # The dispatch dialog: the plan's proposal per task; drop the far engine, confirm.
            await page.click("#desk-act-dispatch")
            dialog = page.locator("#desk-dialog")
            await expect(dialog).to_have_class(re.compile("desk-dialog-open"), timeout=10_000)
            await expect(page.locator("#desk-dialog-title")).to_contain_text("危险化学品")
            detection = dialog.locator("[data-task='detection']")
            await expect(detection).to_contain_text("xt-119-hz1")
            await expect(detection.locator(".desk-chip-warn")).to_have_text("缺 2")
            proposed = {text.split(" · ")[0] for text in await dialog.locator(
                ".desk-dslot .dash-dropdown-value-item").all_inner_texts()}
            assert {u for _, u, _, _ in STORY_UNITS} <= proposed  # the nearest of each kind
            far = dialog.locator(".desk-dslot", has_text="xt-119-fe2")
            await far.locator(".dash-dropdown-clear").click()
            await expect(dialog.locator(".desk-dslot", has_text="xt-119-fe2")).to_have_count(0)
            sent = proposed - {"xt-119-fe2"}
            await page.click("#desk-dialog-confirm")
            # The plan cannot be filled: the dialog names what stays short before sending.
            partial = page.locator("#desk-dialog-partial")
            await expect(partial).to_have_class(re.compile("desk-dpartial-open"),
                                                timeout=10_000)
            await expect(partial).to_contain_text("侦检：")
            await page.click("#desk-dialog-go")
            await expect(dialog).not_to_have_class(re.compile("desk-dialog-open"),
                                                   timeout=10_000)
            await expect(page.locator("#desk-msg")).to_contain_text(
                f"已下达 {len(sent)} 条调度指令")
            await expect(head.locator(".desk-status")).to_have_text("处置中", timeout=10_000)

            # The units receive their orders over MQTT and acknowledge; two reach the scene.
            received = await eventually(
                lambda: {json.loads(m.payload)["unit"]: json.loads(m.payload)["id"]
                         for m in field.received}, lambda got: len(got) == len(sent),
                timeout_s=15)
            assert set(received) == sent
            await page.click("#desk-ptab label:has-text('调度指令')")
            orders = page.locator("#desk-orders tr.desk-order")
            await expect(orders).to_have_count(len(sent))
            await expect(page.locator("#desk-orders .desk-ostate-issued")).to_have_count(
                len(sent))
            for unit, order in received.items():
                field.publish(f"{root}/{agency_of[unit]}/ack/{unit}",
                              ack(order, unit, "acknowledged"))
            for unit in ("xt-119-hz1", "xt-110-p1"):
                for state in ("en_route", "on_scene"):
                    field.publish(f"{root}/{agency_of[unit]}/ack/{unit}",
                                  ack(received[unit], unit, state))
            await expect(page.locator(".desk-cover-summary")).to_have_text(re.compile(
                rf"^已派 {len(sent)}/\d+ · 缺 \d+ · 已确认 {len(sent)} · 2 到场$"),
                timeout=15_000)
            await expect(page.locator(
                f"#desk-orders tr[data-order='{received['xt-119-hz1']}']")).to_have_attribute(
                "data-state", "on_scene")
            await expect(page.locator("#desk-orders .desk-ostate-acknowledged")).to_have_count(
                len(sent) - 2)

            # Decision support and the linked report with the cameras nearby.
            await page.click("#desk-ptab label:has-text('辅助决策')")
            support = page.locator("#desk-support")
            await expect(support).to_contain_text("危险化学品及燃气泄漏事故应急预案")
            await expect(support.locator("tr", has_text="侦检")).to_contain_text("3")
            await expect(support).to_contain_text("周边重点目标")
            await page.click("#desk-ptab label:has-text('报告与视频')")
            await expect(page.locator("#desk-reports")).to_contain_text("化工厂储罐泄漏")
            await expect(page.locator("#desk-cameras li").first).to_contain_text("示范摄像机")

            await page.click("#desk-ptab label:has-text('处置时间线')")
            await expect(page.locator("#desk-timeline")).to_contain_text("升级：IV → II")
            await expect(page.locator(".sitroom-unit").first).to_be_visible(timeout=10_000)
            await page.wait_for_timeout(1500)  # the map's fly-to animation settles
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT))

            # The other lists: alarms of the last day, units filtered by agency.
            other = page.locator("#desk-other")
            await page.click("#desk-ltab label:has-text('告警')")
            await expect(other.locator("[role=row]", has_text="gas-7")).to_contain_text("测试")
            await page.click("#desk-ltab label:has-text('单位')")
            await expect(other.locator("[role=row]", has_text="xt-119-hz1")).to_contain_text(
                "执行任务")
            await expect(other.locator("[role=row]", has_text="xt-119-fe2")).to_contain_text("在线")
            await page.click("#desk-f-agency")
            await page.get_by_role("option", name="公安", exact=True).click()
            await expect(other).not_to_contain_text("xt-119-hz1")
            await expect(other.locator("[role=row]", has_text="xt-110-p1")).to_have_count(1)
            # An answer for the tab just left (or another agency) is not shown over the
            # chosen one's; the tab's own answer is.
            stale = await page.evaluate("""() => {
                const dc = window.dash_clientside, saved = dc.callback_context;
                dc.callback_context = {triggered: [{prop_id: "desk-other-data.data"}]};
                try {
                    const list = dc.sitroomDesk.otherList;
                    return [list("units", {tab: "alarms", agency: "all", body: "A"}, "all")[2]
                                === dc.no_update,
                            list("units", {tab: "units", agency: "fire", body: "U"}, "all")[2]
                                === dc.no_update,
                            list("units", {tab: "units", agency: "all", body: "U"}, "all")[2]];
                } finally { dc.callback_context = saved; }
            }""")
            assert stale == [True, True, "U"]
            await page.click("#desk-ltab label:has-text('事件')")

            # English and back: the labels follow the switch.
            await page.click("#lang-switch")
            await expect(page.locator("#desk-ltab")).to_contain_text("Incidents", timeout=10_000)
            await expect(page.locator("#desk-count")).to_have_text("4 incidents")
            await open_panel(page, leak.id)
            await expect(page.locator("#desk-act-verify")).to_have_text("Verify")
            await expect(head.locator(".desk-status")).to_have_text("Responding")
            await page.click("#lang-switch")
            await expect(page.locator("#desk-ltab")).to_contain_text("事件", timeout=10_000)
            await expect(page.locator("#desk-count")).to_have_text("共 4 起")

    timeline = await command_service(store, None).timeline(leak.id)
    actions = [e["action"] for e in timeline]
    assert actions[:5] == ["reported", "verify", "escalate", "respond", "dispatch"]
    assert {e["actor"] for e in timeline if e["action"] in ("verify", "escalate",
                                                            "dispatch")} == {"zhang"}
    assert actions.count("order_ack") == len(sent) + 4
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"


async def dash_callback(page: Page, base: str, trigger: str, state: dict[str, Any]
                        ) -> dict[str, Any]:
    """Fire the desk's action callback as the browser would, bypassing disabled buttons."""
    answer = await page.request.get(f"{base}/_dash-dependencies")
    deps: list[dict[str, Any]] = await answer.json()
    dep = next(d for d in deps if any(i["id"] == trigger for i in d["inputs"]))
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
               for part in dep["output"].strip(".").split("...")]
    body = {
        "output": dep["output"], "outputs": outputs,
        "inputs": [{**i, "value": 1 if i["id"] == trigger else 0} for i in dep["inputs"]],
        "changedPropIds": [f"{trigger}.n_clicks"],
        "state": [{**s, "value": state.get(s["id"])} for s in dep["state"]],
    }
    response = await page.request.post(f"{base}/_dash-update-component", data=body)
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def test_an_operator_sees_the_desk_but_cannot_act(
    settings: Settings, store: Store, live: LiveState, database_url: str, desk: Served,
    browsing: Browsing,
) -> None:
    page = browsing.page
    service = command_service(store, live)
    incident = await service.create(NewIncident(
        type="fire", title="任泽区某仓库起火", level=Level.III, lat=37.176, lon=114.80),
        Actor(name="desk-110"))
    await create_user(database_url, "wang", Role.OPERATOR, display_name="王值班")
    await sign_in_page(page, desk.url, "wang")
    await expect(page.locator("#desk-user")).to_contain_text("值班员")
    await open_panel(page, incident.id)
    await expect(page.locator("#desk-head .desk-status")).to_have_text("接报")
    for button in ("#desk-act-verify", "#desk-act-dispatch", "#desk-act-note",
                   "#desk-act-false_alarm", "#desk-act-sitrep", "#desk-lvl-I",
                   "#desk-act-conference"):
        await expect(page.locator(button)).to_be_disabled()
    await expect(page.locator("#desk-actions")).to_have_attribute(
        "title", re.compile("无权执行此操作"))

    # The server refuses too: the callback, called directly, answers with the refusal.
    answer = await dash_callback(page, desk.url, "desk-act-verify",
                                 {"desk-selected": incident.id, "desk-lang": "zh"})
    message = answer["response"]["desk-msg"]
    assert "值班员" in message["children"] and "无权" in message["children"]
    assert "desk-msg-err" in message["className"]
    assert (await service.incident(incident.id)).status is IncidentStatus.REPORTED
    assert browsing.offsite == []
    assert browsing.errors == [], f"the page reported errors: {browsing.errors}"


async def test_a_leader_opens_the_conference_of_an_incident(
    settings: Settings, store: Store, live: LiveState, database_url: str, tmp_path: Path,
    browsing: Browsing,
) -> None:
    page = browsing.page
    secret = secrets.token_urlsafe(32)
    video = VideoSettings(token_secret=SecretStr(secret), port=0,
                          recordings_dir=tmp_path / "recordings")
    incident = await command_service(store, live).create(NewIncident(
        type="gas_leak", title="燃气管道泄漏", level=Level.III, lat=37.06, lon=114.50),
        Actor(name="desk-119"))
    await create_user(database_url, "sun", Role.LEADER)
    async with running(video, redis_url=None, redis_prefix="unused:") as server:
        video = video.model_copy(update={"port": int(server.base_url.rsplit(":", 1)[1])})
        with served_dashboard(with_auth(settings.model_copy(update={"video": video}))) as desk:
            await sign_in_page(page, desk.url, "sun")
            await open_panel(page, incident.id)
            button = page.locator("#desk-act-conference")
            await expect(button).to_be_enabled()
            async with page.expect_popup() as popup_info:
                await button.click()
            room_page = await popup_info.value
            await room_page.wait_for_url(re.compile(re.escape(server.base_url) + "/room/"),
                                         timeout=15_000)
            room = urlsplit(room_page.url).path.rsplit("/", 1)[1]
            assert room in server.hub.rooms
            await room_page.close()
            await page.click("#desk-ptab label:has-text('处置时间线')")
            await expect(page.locator("#desk-timeline")).to_contain_text("发起视频会商",
                                                                         timeout=10_000)
    assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
