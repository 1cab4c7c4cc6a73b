"""The wall screen in a real browser: a new level-II incident appears, the map follows it and
the ticker shows it; when the stream dies the stale banner says so, and it recovers by itself.

The dashboard runs in this process (werkzeug in a thread, restartable on the same port) on
the test's own database and Redis prefix; the scenario is written as ingest and the command
service would (store, then live state). Debian's chromium renders /wall at 1920×1080 with every
request to a host other than loopback blocked; the screenshot goes to
docs/screenshots/wall.png.
"""

from __future__ import annotations

import math
import random
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dash
import msgspec
import pytest
from playwright.async_api import Page, expect
from shapely.geometry import Point, shape
from werkzeug.serving import BaseWSGIServer, make_server

from config.settings import FeedWatchSettings, Settings
from dashboard.app import create_app
from dashboard.auth import Role
from dashboard.server import close_app
from incidents.command import Actor
from incidents.lifecycle import Action
from incidents.live import LiveState
from incidents.model import (
    Ack,
    AckState,
    Alarm,
    Envelope,
    Inbound,
    Incident,
    IncidentStatus,
    Kind,
    Level,
    Observation,
    Position,
    Report,
)
from incidents.store import Store
from maps import basemap
from tests.support.auth import create_user, sign_in_page, with_auth
from tests.support.browser import open_browser
from tests.support.command import command_service
from tests.support.http import QuietHandler
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "wall.png"
LEADER = Actor(name="leader-li", client="10.0.0.9")
FIRE = (37.0705, 114.5045)
"""A warehouse fire in Xiangdu district, where the plan's engines are."""
FLEET = [("police", "patrol_car", "xt-110", 70), ("fire", "fire_engine", "xt-119", 40),
         ("health", "ambulance", "xt-120", 30), ("water", "water_team", "xt-sl", 12),
         ("safety", "inspection_team", "xt-aj", 8), ("civil_defence", "shelter_team", "xt-rf", 6)]


def envelope(agency: str, kind: Kind, source: str) -> Envelope:
    return Envelope(topic=f"sitroom/v1/{agency}/{kind}/{source}", agency=agency, kind=kind,
                    source=source, received_at=datetime.now(UTC))


def _in_city(rng: random.Random, count: int) -> list[tuple[float, float]]:
    outline = shape(basemap.load_outline()["features"][0]["geometry"])
    min_lon, min_lat, max_lon, max_lat = outline.bounds
    found: list[tuple[float, float]] = []
    while len(found) < count:
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if outline.contains(Point(lon, lat)):
            found.append((lat, lon))
    return found


def fleet(now: datetime) -> list[Inbound]:
    """Every unit's latest fix: spread over the city, a few engines near FIRE."""
    rng = random.Random(7)
    fixes: list[Inbound] = []
    for agency, kind, prefix, count in FLEET:
        for n, (lat, lon) in enumerate(_in_city(rng, count), start=1):
            unit = f"{prefix}-{n:02d}"
            if agency == "fire" and n <= 3:
                lat, lon = FIRE[0] + 0.004 * n, FIRE[1] - 0.003 * n
            age = rng.uniform(0, 120) if n % 11 else 900.0  # a few have gone quiet
            fix = Position(id=str(uuid.uuid4()), ts=now - timedelta(seconds=age), unit=unit,
                           lat=lat, lon=lon, unit_type=kind, speed=rng.uniform(0, 15),
                           heading=rng.uniform(0, 359))
            fixes.append(Inbound(envelope=envelope(agency, Kind.POSITION, unit), message=fix))
    return fixes


def report_at(kind: str, level: Level, text: str, lat: float, lon: float,
              minutes: float) -> Inbound:
    message = Report(id=str(uuid.uuid4()), ts=datetime.now(UTC) - timedelta(minutes=minutes),
                     type=kind, lat=lat, lon=lon, text=text, level=level)
    return Inbound(envelope=envelope("police", Kind.REPORT, "110"), message=message)


def feeds(now: datetime) -> list[Inbound]:
    """Weather at the city station, and three alarms within the hour."""
    items = [Inbound(envelope=envelope("weather", Kind.OBSERVATION, "xt-qx"), message=Observation(
        id=str(uuid.uuid4()), ts=now - timedelta(minutes=4), sensor="xt-qx-54705",
        quantity=quantity, value=value, unit=unit, lat=37.07, lon=114.5, station="邢台国家基本站"))
        for quantity, value, unit in (("temperature", 18.6, "degC"), ("wind_speed", 3.4, "m/s"),
                                      ("wind_direction", 45.0, "deg"), ("rainfall", 0.2, "mm"))]
    items += [Inbound(envelope=envelope("safety", Kind.ALARM, "xt-aj"), message=Alarm(
        id=str(uuid.uuid4()), ts=now - timedelta(minutes=10 * n), device=f"gas-{n}", type="gas",
        lat=37.1 + n / 100, lon=114.6)) for n in range(1, 4)]
    return items


async def scenario(store: Store, live: LiveState) -> None:
    """A working morning: units out, incidents open, a fire dispatched and reached."""
    now = datetime.now(UTC)
    await store.write_batch(fleet(now), [])
    await live.rebuild(await store.units(), [])
    await store.write_batch(feeds(now), [])
    reports = [report_at("fire", Level.III, "仓库起火，浓烟较大", *FIRE, minutes=38),
               report_at("traffic_accident", Level.IV, "京港澳高速两车追尾", 37.19, 114.62, 25),
               report_at("flood", Level.III, "七里河水位接近警戒", 37.02, 114.38, 16),
               report_at("medical", Level.IV, "商场内一人晕倒", 37.32, 115.03, 9)]
    opened = (await store.write_batch(reports, [])).incidents
    await live.apply([], opened)
    service = command_service(store, live)
    fire = await service.act(opened[0].id, Action.VERIFY, LEADER)
    (order,) = await service.dispatch(fire.id, LEADER, assignments=[("fire_attack", "xt-119-01")])
    for state in (AckState.ACKNOWLEDGED, AckState.ON_SCENE):
        ack = Ack(id=str(uuid.uuid4()), ts=datetime.now(UTC), order=order.id, unit=order.unit,
                  state=state)
        await store.write_batch([Inbound(envelope=envelope("fire", Kind.ACK, order.unit),
                                         message=ack)], [])


class RestartableDashboard:
    """The dashboard on a fixed loopback port, which the test can stop and start again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running: tuple[BaseWSGIServer, threading.Thread, dash.Dash] | None = None

    def start(self) -> None:
        app = create_app(self.settings)
        server = make_server("127.0.0.1", self.port, app.server, threaded=True,
                             request_handler=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="wall-dashboard",
                                  daemon=True)
        thread.start()
        self._running = (server, thread, app)

    def stop(self) -> None:
        if self._running is None:
            return
        server, thread, app = self._running
        self._running = None
        server.shutdown()
        close_app(app)  # ends the live streams with the app
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def wall_settings(database_url: str, redis_server: str, redis_prefix: str,
                  tmp_path: Path) -> Settings:
    # No ingest runs here, so no feed is watched: LIVE is the stream alone (silent feeds on
    # the wall: tests/fault/test_feeds_silent.py).
    return with_auth(Settings(database_url=database_url, redis_url=redis_server,
                              redis_prefix=redis_prefix, var_dir=tmp_path,
                              feeds=FeedWatchSettings(agencies=())))


@pytest.fixture
def dashboard(wall_settings: Settings) -> Iterator[RestartableDashboard]:
    served = RestartableDashboard(wall_settings)
    served.start()
    try:
        yield served
    finally:
        served.stop()


async def map_view(page: Page) -> dict[str, float]:
    view: dict[str, float] = await page.evaluate(
        "() => { const m = window.sitroomLive.map(); const c = m.getCenter();"
        " return {lat: c.lat, lon: c.lng, zoom: m.getZoom()}; }")
    return view


def new_incident(level: Level, title: str, lat: float, lon: float) -> Incident:
    now = datetime.now(UTC)
    return Incident(id=str(uuid.uuid4()), type="chemical_leak", level=level,
                    status=IncidentStatus.REPORTED, title=title, lat=lat, lon=lon,
                    reported_at=now, updated_at=now, agency="safety")


async def test_the_wall_follows_a_new_incident_and_says_when_its_data_is_stale(
    store: Store, live: LiveState, database_url: str, dashboard: RestartableDashboard,
) -> None:
    await create_user(database_url, "wall", Role.OPERATOR)
    await scenario(store, live)
    async with open_browser() as browsing:
        page = browsing.page
        await sign_in_page(page, dashboard.url, "wall", next_path="/wall")
        await expect(page.locator("#wall-live")).to_have_class("shell-live live-ok",
                                                              timeout=15_000)
        # The picture: every open incident by level, every unit, the figures of PostgreSQL.
        await expect(page.locator("#wall-kpi-level-iii")).to_have_text("2")
        await expect(page.locator("#wall-kpi-level-iv")).to_have_text("2")
        await expect(page.locator("#wall-kpi-total")).to_have_text("4")
        await expect(page.locator("path.sitroom-unit")).to_have_count(166, timeout=10_000)
        await expect(page.locator("#wall-kpi-alarms")).to_have_text("3", timeout=20_000)
        await expect(page.locator("#wall-kpi-response")).to_have_text(re.compile(r"^\d+:\d\d$"))
        await expect(page.locator("#wall-agencies tr")).to_have_count(6)
        await expect(page.locator("#wall-agencies tr").first).to_contain_text("公安")
        await expect(page.locator("#wall-weather")).to_contain_text("18.6 °C")
        await expect(page.locator("#wall-weather")).to_contain_text("东北风")
        await expect(page.locator("#wall-ticker")).to_contain_text("已到场")
        city = await map_view(page)

        # A new level-II incident, published as the command service would.
        leak = new_incident(Level.II, "化工园区氯气泄漏", 37.1562, 114.7318)
        await live.apply([], [leak])
        marker = page.locator(f"path.sitroom-incident-ii[data-incident='{leak.id}']")
        await expect(marker).to_have_count(1, timeout=5_000)
        await expect(page.locator("#wall-kpi-level-ii")).to_have_text("1")
        await expect(page.locator("#wall-ticker li").first).to_contain_text("化工园区氯气泄漏")
        await expect(page.locator(".wall-callout")).to_contain_text("新事件")
        await page.wait_for_function(
            "([lat, lon]) => { const m = window.sitroomLive.map(); const c = m.getCenter();"
            " return Math.abs(c.lat - lat) < 0.01 && Math.abs(c.lng - lon) < 0.01"
            " && m.getZoom() >= 11; }",
            arg=[leak.lat, leak.lon], timeout=8_000)
        followed = await map_view(page)
        assert followed["zoom"] >= city["zoom"] + 1.5
        assert math.dist((followed["lat"], followed["lon"]), (leak.lat, leak.lon)) < 0.01
        assert await page.evaluate("window.sitroomWall.focused()") == leak.id
        await page.wait_for_timeout(1500)  # let the ring pulse and the fly-to settle
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT))
        assert browsing.offsite == [], f"requests left the machine: {browsing.offsite}"
        assert browsing.errors == [], f"the page reported errors: {browsing.errors}"

        # The stream dies with the server: a big banner after 10 s without a heartbeat.
        dashboard.stop()
        banner = page.locator("#wall-stale")
        await expect(banner).to_be_visible(timeout=20_000)
        await expect(banner).to_contain_text("数据中断 DATA STALE")
        await expect(page.locator("#wall-stale-time")).to_have_text(
            re.compile(r"^\d\d:\d\d:\d\d$"))
        await expect(page.locator("#wall-live")).to_have_class("shell-live live-down")

        # Back by itself: the page reconnects, gets a fresh snapshot, and changes flow again.
        dashboard.start()
        await expect(banner).to_be_hidden(timeout=40_000)
        await live.apply([], [new_incident(Level.I, "水库溃坝险情", 37.45, 114.21)])
        await expect(page.locator("#wall-kpi-level-i")).to_have_text("1", timeout=5_000)
        await expect(page.locator("#wall-ticker li").first).to_contain_text("水库溃坝险情")
        # An escalation is news too, and the closure of an incident takes it off the wall.
        now = datetime.now(UTC)
        escalated = msgspec.structs.replace(leak, level=Level.I, updated_at=now)
        await live.apply([], [escalated])
        await expect(page.locator("#wall-ticker")).to_contain_text("升级 II→I")
        await expect(page.locator("#wall-kpi-level-i")).to_have_text("2")
        closed = msgspec.structs.replace(escalated, status=IncidentStatus.CLOSED, updated_at=now)
        await live.apply([], [closed])
        await expect(page.locator(f"[data-incident='{leak.id}'].sitroom-incident")
                     ).to_have_count(0)
        await expect(page.locator("#wall-ticker li").first).to_contain_text("已结案")
        assert browsing.offsite == []
        assert not [e for e in browsing.errors if e.startswith("page error")], browsing.errors
