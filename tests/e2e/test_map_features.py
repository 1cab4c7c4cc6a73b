"""The situation map's layers in a real browser, kept off the network: every request to a host
other than loopback is blocked and recorded, and every failed request is recorded too.

The dashboard runs in this process on the test's own database (the demo layers stored in it)
and Redis prefix, with a police car and an incident in the live state. Checked: the vector
basemap with rivers, roads and sensitive areas and no tile request at all; local tiles from an
MBTiles file when configured; the hospitals overlay (clustered: the clusters add up to every
hospital); the police switch hiding and showing the car; and drawing a rectangle, then a
circle, filling the panel with what the API answered.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Page,
    Request,
    Response,
    expect,
)

from config.settings import MapSettings, Settings
from dashboard.auth import Role
from incidents.live import LiveState
from incidents.model import Incident, IncidentStatus, Level, UnitState
from incidents.store import Store
from incidents.store.layers import LayerStore
from maps.analysis.spatial import read_collection
from maps.demo import DEMO_DIR, demo_layer_files
from maps.tiles import in_grid
from tests.support.auth import create_user, sign_in_page, with_auth
from tests.support.browser import open_browser
from tests.support.http import served_dashboard
from tests.support.tiles import png_tile, write_mbtiles

pytestmark = pytest.mark.e2e

PAGE = "/map"
"""The situation map (the leader's desk has /)."""
DISTRICTS = 18
UNIT = UnitState(unit="car-7", agency="police", lat=37.07, lon=114.50, ts=datetime.now(UTC),
                 unit_type="patrol_car")
INCIDENT = Incident(id="6f1d1d8e-3b7a-4d0e-9a53-3c1d2b7e9f10", type="building_fire",
                    level=Level.II, status=IncidentStatus.VERIFIED, title="襄都区居民楼起火",
                    lat=37.072, lon=114.505, reported_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC), agency="fire")
DRAWN = "#ffd24d"
"""Stroke colour of drawn shapes (map_layers.draw_control)."""
COUNT_HOSPITALS_JS = """() => {
  const pane = document.querySelector(".leaflet-sitroomPoints-pane");
  const single = pane.querySelectorAll("path.sitroom-facility-hospital").length;
  const clustered = [...pane.querySelectorAll(".sitroom-cluster span")]
    .reduce((n, s) => n + Number(s.textContent), 0);
  return [single, clustered];
}"""


@dataclass
class Browsing:
    """A chromium page and what it did that it should not have."""

    page: Page
    offsite: list[str] = field(default_factory=list)
    """Blocked requests to hosts other than loopback."""
    failed: list[str] = field(default_factory=list)
    """Requests that failed (network errors, aborts)."""
    errors: list[str] = field(default_factory=list)
    """Uncaught page exceptions and console errors."""
    tiles: list[int] = field(default_factory=list)
    """HTTP status of every /tiles response."""

    def assert_clean(self) -> None:
        """Nothing left the machine, nothing failed, nothing was reported as an error."""
        assert self.offsite == [], f"requests left the machine: {self.offsite}"
        assert self.failed == [], f"requests failed: {self.failed}"
        assert self.errors == [], f"the page reported errors: {self.errors}"


@pytest.fixture
def map_settings(database_url: str, redis_server: str, redis_prefix: str,
                 live: LiveState) -> Settings:
    """Settings on the test's database and Redis prefix (`live` cleans the keys up)."""
    return with_auth(Settings(database_url=database_url, redis_url=redis_server,
                              redis_prefix=redis_prefix))


@pytest.fixture
async def city(store: Store, live: LiveState, database_url: str) -> None:
    """The demo layers in the database, a car and an incident live, a viewer's account."""
    layers = LayerStore(store.pool)
    for name, kind, path in demo_layer_files():
        await layers.put_layer(name, kind.value, "EPSG:4326", read_collection(path), "demo")
    await live.apply([UNIT], [INCIDENT])
    await create_user(database_url, "viewer", Role.OPERATOR)


@pytest.fixture
async def browsing() -> AsyncIterator[Browsing]:
    """Debian's chromium, kept off the network; failures and errors are recorded."""
    async with open_browser({"width": 1600, "height": 900}) as base:
        # The shared lists: what the common guard records shows here too.
        seen = Browsing(base.page, offsite=base.offsite, errors=base.errors)

        def on_failed(request: Request) -> None:
            seen.failed.append(f"{request.url}: {request.failure}")

        def on_response(response: Response) -> None:
            if urlsplit(response.url).path.startswith("/tiles/"):
                seen.tiles.append(response.status)

        base.page.on("requestfailed", on_failed)
        base.page.on("response", on_response)
        yield seen


async def open_map(page: Page, base: str) -> None:
    """Sign in, open the situation map and wait for the districts and the live car."""
    await sign_in_page(page, base, "viewer", next_path=PAGE)
    pane = page.locator(".leaflet-sitroomDistricts-pane")
    await expect(pane.locator("path:not([fill='none'])")).to_have_count(DISTRICTS,
                                                                       timeout=15_000)
    await expect(page.locator(f"path.sitroom-unit[data-unit='{UNIT.unit}']")).to_have_count(
        1, timeout=10_000)


async def switch(page: Page, name: str) -> None:
    """Tick or untick one entry of the layer switcher (it opens on hover)."""
    await page.locator(".leaflet-control-layers").hover()
    label = page.locator(".leaflet-control-layers-list label").filter(
        has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))
    await label.locator("input").click()


async def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    await page.mouse.move(*start)
    await page.mouse.down()
    await page.mouse.move(*end, steps=8)
    await page.mouse.up()


async def draw(page: Page, tool: str, start: tuple[float, float],
               end: tuple[float, float]) -> dict[str, Any]:
    """Draw with a leaflet-draw tool; returns the API's answer the panel shows."""
    await page.locator(f".leaflet-draw-draw-{tool}").click()
    async with page.expect_response(
            lambda r: urlsplit(r.url).path == "/api/analysis/inside") as answer:
        await drag(page, start, end)
    response = await answer.value
    assert response.status == 200, await response.text()
    doc: dict[str, Any] = await response.json()
    await expect(page.locator("#map-inside")).to_have_attribute("data-state", "done")
    return doc


async def test_vector_basemap_layers_and_draw_to_query(
        map_settings: Settings, city: None, browsing: Browsing) -> None:
    page = browsing.page
    with served_dashboard(map_settings) as base:
        await open_map(page, base)
        # Rivers and roads complete the vector basemap; sensitive areas are on; no tiles.
        lines = len(read_collection(DEMO_DIR / "rivers.geojson")["features"]) + len(
            read_collection(DEMO_DIR / "roads.geojson")["features"])
        await expect(page.locator(".leaflet-sitroomLines-pane path")).to_have_count(lines)
        await expect(page.locator(".leaflet-sitroomAreas-pane path")).to_have_count(6)
        assert await page.locator(".leaflet-tile").count() == 0

        # Hospitals: clustered at city zoom, the clusters and single markers add up to all.
        hospitals = sum(1 for f in read_collection(DEMO_DIR / "facilities.geojson")["features"]
                        if f["properties"]["kind"] == "hospital")
        assert await page.evaluate(COUNT_HOSPITALS_JS) == [0, 0]
        await switch(page, "医院")
        await page.wait_for_function(f"() => ({COUNT_HOSPITALS_JS})().some(n => n > 0)")
        assert sum(await page.evaluate(COUNT_HOSPITALS_JS)) == hospitals

        # The police switch takes the car off the map and puts it back.
        car = page.locator(f"path.sitroom-unit[data-unit='{UNIT.unit}']")
        await switch(page, "力量 · 公安")
        await expect(car).to_have_count(0)
        await switch(page, "力量 · 公安")
        await expect(car).to_have_count(1)
        await page.mouse.move(800, 880)  # let the switcher close

        # A rectangle around the car and the incident, then a circle around the car.
        box = await car.bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        found = await draw(page, "rectangle", (cx - 90, cy + 90), (cx + 90, cy - 90))
        panel = page.locator("#map-inside")
        assert found["shape"] == "polygon" and found["population"] > 0
        assert [u["unit"] for u in found["units"]] == [UNIT.unit]
        assert [i["id"] for i in found["incidents"]] == [INCIDENT.id]
        await expect(panel.locator(".inside-population")).to_have_attribute(
            "data-value", str(found["population"]))
        await expect(panel.locator(".inside-facilities")).to_have_attribute(
            "data-value", str(found["facilities_total"]))
        await expect(panel.locator(f".inside-unit[data-unit='{UNIT.unit}']")).to_contain_text(
            "公安")
        await expect(panel.locator(".inside-incident")).to_contain_text(INCIDENT.title)
        await expect(panel.locator(".inside-title")).to_contain_text("框选范围")
        kinds = {k: int(v) for k, v in found["facility_counts"].items()}
        for kind, count in kinds.items():
            await expect(panel.locator(f".inside-kind[data-kind='{kind}']")).to_have_attribute(
                "data-count", str(count))

        circle = await draw(page, "circle", (cx, cy), (cx + 60, cy))
        assert circle["shape"] == "circle" and circle["radius_m"] > 0
        assert [u["unit"] for u in circle["units"]] == [UNIT.unit]
        await expect(panel.locator(".inside-title")).to_contain_text("半径")
        await expect(panel.locator(".inside-population")).to_have_attribute(
            "data-value", str(circle["population"]))
        # One zone at a time: the rectangle went when the circle came.
        await expect(page.locator(f"path[stroke='{DRAWN}']")).to_have_count(1)
        browsing.assert_clean()
    assert browsing.tiles == []


def tiles_over(west: float, south: float, east: float, north: float,
               zooms: range) -> dict[tuple[int, int, int], bytes]:
    """One grey tile for every XYZ address over the box at each zoom."""
    import math

    def column(lon: float, z: int) -> int:
        return int((lon + 180) / 360 * (1 << z))

    def row(lat: float, z: int) -> int:
        rad = math.radians(lat)
        return int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * (1 << z))

    grey = png_tile((60, 66, 74))
    return {(z, x, y): grey for z in zooms
            for x in range(column(west, z), column(east, z) + 1)
            for y in range(row(north, z), row(south, z) + 1) if in_grid(z, x, y)}


async def test_local_tiles_are_served_by_the_dashboard(
        map_settings: Settings, city: None, browsing: Browsing, tmp_path: Path) -> None:
    # Every tile the map may ask for at its zooms around Xingtai (its bounds padded as the map
    # allows panning), so that no request fails.
    path = write_mbtiles(tmp_path / "xingtai.mbtiles",
                         tiles_over(112.5, 35.5, 117.0, 39.0, range(7, 11)),
                         attribution="测试底图 test tiles")
    settings = map_settings.model_copy(update={"map": MapSettings(tiles_file=path)})
    page = browsing.page
    with served_dashboard(settings) as base:
        await open_map(page, base)
        loaded = page.locator("img.leaflet-tile-loaded")
        await expect(loaded.first).to_be_visible(timeout=10_000)
        assert re.search(r"/tiles/\d+/\d+/\d+\.png$", await loaded.first.get_attribute("src")
                         or "")
        await expect(page.locator(".leaflet-container.sitroom-has-tiles")).to_have_count(1)
        await expect(page.locator(".leaflet-control-attribution")).to_contain_text(
            "测试底图 test tiles")
        browsing.assert_clean()
    assert browsing.tiles and set(browsing.tiles) <= {200, 304}, browsing.tiles
