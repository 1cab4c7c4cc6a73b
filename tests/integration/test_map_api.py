"""The map routes on the real dashboard app over PostgreSQL and Redis: local tiles from MBTiles
and PMTiles files, the stored layers as GeoJSON, hotspots from the stored incidents, and
draw-to-query over layers, live units and incidents placed by hand (expectations worked out
below, not read back from the code)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from config.settings import MapSettings, Settings
from dashboard.app import create_app
from dashboard.auth import Role
from dashboard.server import close_app
from incidents.live import LiveState
from incidents.model import Incident, IncidentStatus, Level, UnitState
from incidents.store import Store
from incidents.store.layers import LayerStore
from maps.analysis.geodesy import METRES_PER_DEGREE
from tests.support.auth import bearer, create_token, create_user, sign_in_client, with_auth
from tests.support.tiles import png_tile, write_mbtiles, write_pmtiles

pytestmark = pytest.mark.integration

RED, BLUE = png_tile((200, 0, 0)), png_tile((0, 0, 200))
TILES = {(9, 418, 196): RED, (9, 418, 197): BLUE}
NOW = datetime.now(UTC)


def point(fid: str, kind: str, name: str, lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": {"kind": kind, "name": name},
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def square(fid: str, west: float, south: float, east: float, north: float,
           people: int) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Feature", "id": fid,
            "properties": {"kind": "population_cell", "population": people},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


# Two facilities and one unit inside the query rectangle lon 114.485–114.505, lat 37.055–37.065;
# one hospital, a camera, a unit and an incident outside it.
FACILITIES = collection(point("h1", "hospital", "市人民医院", 37.060, 114.490),
                        point("s1", "school", "第一中学", 37.062, 114.495),
                        point("h2", "hospital", "县医院", 37.200, 114.700))
CAMERAS = collection(point("c1", "camera", "路口摄像机", 37.300, 114.300))
# Cell a (1000 people) covers lon 114.48–114.50, cell b (4000) lon 114.50–114.52, both lat
# 37.05–37.07 (0.02° × 0.02°). The rectangle takes 0.015 × 0.01 of a and 0.005 × 0.01 of b:
# 1000 × 0.375 + 4000 × 0.125 = 875 people.
POPULATION = collection(square("a", 114.48, 37.05, 114.50, 37.07, 1000),
                        square("b", 114.50, 37.05, 114.52, 37.07, 4000))
RECTANGLE = {"type": "Polygon", "coordinates": [[
    [114.485, 37.055], [114.505, 37.055], [114.505, 37.065], [114.485, 37.065],
    [114.485, 37.055]]]}
def units_now() -> list[UnitState]:
    """Two units with fixes taken now (online: a module-level time grows stale in a long run)."""
    now = datetime.now(UTC)
    return [UnitState(unit="car-1", agency="police", lat=37.058, lon=114.493, ts=now,
                      unit_type="patrol_car"),
            UnitState(unit="engine-9", agency="fire", lat=37.100, lon=114.600, ts=now)]
INSIDE_INCIDENT = str(uuid.uuid4())


def incident(incident_id: str, lat: float, lon: float, reported_at: datetime = NOW,
             level: Level = Level.II) -> Incident:
    return Incident(id=incident_id, type="fire", level=level, status=IncidentStatus.REPORTED,
                    title=f"起火 {incident_id[:4]}", lat=lat, lon=lon, reported_at=reported_at,
                    updated_at=reported_at, agency="fire")


@pytest.fixture
def map_settings(database_url: str, redis_server: str, redis_prefix: str,
                 live: LiveState) -> Settings:
    """Settings on the test's database and Redis prefix (`live` cleans the keys up)."""
    return with_auth(Settings(database_url=database_url, redis_url=redis_server,
                              redis_prefix=redis_prefix))


@contextmanager
def client_of(settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(settings)
    try:
        yield app.server.test_client()
    finally:
        close_app(app)


@pytest.fixture
async def token(database_url: str) -> str:
    return await create_token(database_url, Role.OPERATOR)


@pytest.fixture
async def layers(store: Store) -> None:
    stored = LayerStore(store.pool)
    await stored.put_layer("test_facilities", "facilities", "EPSG:4326", FACILITIES, "测试")
    await stored.put_layer("test_cameras", "cameras", "EPSG:4326", CAMERAS)
    await stored.put_layer("test_population", "population", "EPSG:4326", POPULATION)


# --- tiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
async def test_tiles_are_served_from_the_file(map_settings: Settings, database_url: str,
                                              tmp_path: Path, kind: str) -> None:
    write = write_mbtiles if kind == "mbtiles" else write_pmtiles
    path = write(tmp_path / f"xt.{kind}", TILES)
    settings = map_settings.model_copy(update={"map": MapSettings(tiles_file=path)})
    await create_user(database_url, "viewer", Role.OPERATOR)
    with client_of(settings) as client:
        assert client.get("/tiles/9/418/196.png").status_code == 302  # to the sign-in page
        assert sign_in_client(client, "viewer").status_code == 303
        first = client.get("/tiles/9/418/196.png")
        assert (first.status_code, first.mimetype, first.data) == (200, "image/png", RED)
        assert "max-age" in first.headers["Cache-Control"]
        assert client.get("/tiles/9/418/197.png").data == BLUE  # rows from the north
        again = client.get("/tiles/9/418/196.png", headers={"If-None-Match": first.headers["ETag"]})
        assert (again.status_code, again.data) == (304, b"")
        assert client.get("/tiles/9/418/198.png").status_code == 404
        assert client.get("/tiles/9/418/196.webp").status_code == 404
        assert client.get("/tiles/30/0/0.png").status_code == 404


async def test_no_tiles_route_without_a_tiles_file(map_settings: Settings,
                                                   database_url: str) -> None:
    await create_user(database_url, "viewer", Role.OPERATOR)
    with client_of(map_settings) as client:
        sign_in_client(client, "viewer")
        assert client.get("/tiles/9/418/196.png").status_code == 404


# --- layers -----------------------------------------------------------------------------------


async def test_layers_as_geojson(map_settings: Settings, layers: None, token: str) -> None:
    auth = bearer(token)
    with client_of(map_settings) as client:
        assert client.get("/api/layers").status_code == 401
        listing = client.get("/api/layers", headers=auth).get_json()
        assert {(i["name"], i["kind"], i["feature_count"]) for i in listing} == {
            ("test_facilities", "facilities", 3), ("test_cameras", "cameras", 1),
            ("test_population", "population", 2)}
        assert next(i for i in listing if i["name"] == "test_facilities")["url"] == (
            "/api/layers/test_facilities.geojson")

        hospitals = client.get("/api/layers/test_facilities.geojson?kind=hospital",
                               headers=auth)
        assert hospitals.mimetype == "application/geo+json"
        assert [f["id"] for f in hospitals.get_json()["features"]] == ["h1", "h2"]
        cached = client.get("/api/layers/test_facilities.geojson?kind=hospital",
                            headers={**auth, "If-None-Match": hospitals.headers["ETag"]})
        assert cached.status_code == 304
        others = client.get("/api/layers/test_facilities.geojson?exclude_kind=hospital",
                            headers=auth).get_json()
        assert [f["id"] for f in others["features"]] == ["s1"]

        merged = client.get("/api/layers/by-kind/facilities.geojson?kind=school",
                            headers=auth).get_json()
        assert [(f["id"], f["properties"]["layer"]) for f in merged["features"]] == [
            ("test_facilities:s1", "test_facilities")]
        assert client.get("/api/layers/nothing.geojson", headers=auth).status_code == 404
        bad = client.get("/api/layers/by-kind/volcanoes.geojson", headers=auth)
        assert bad.status_code == 400 and "facilities" in bad.get_json()["error"]


# --- hotspots ---------------------------------------------------------------------------------


async def test_hotspots_count_incidents_of_the_window(map_settings: Settings, store: Store,
                                                      token: str) -> None:
    # Three incidents within a few metres (one H3 cell at resolution 8), one 10 km away, and
    # one at the first spot reported 30 hours ago.
    for offset in (0.0, 0.0001, 0.0002):
        await store.commands.create(incident(str(uuid.uuid4()), 37.06 + offset, 114.49),
                                    "test", None, {})
    await store.commands.create(incident(str(uuid.uuid4()), 37.15, 114.49), "test", None, {})
    await store.commands.create(incident(str(uuid.uuid4()), 37.06, 114.49,
                                         NOW - timedelta(hours=30)), "test", None, {})
    with client_of(map_settings) as client:
        day = client.get("/api/hotspots?hours=24&resolution=8", headers=bearer(token))
        assert day.mimetype == "application/geo+json"
        doc = day.get_json()
        assert [f["properties"]["count"] for f in doc["features"]] == [3, 1]
        assert [f["properties"]["intensity"] for f in doc["features"]] == [1.0, 0.3333]
        assert doc["window"]["incidents"] == 4
        two_days = client.get("/api/hotspots?hours=48", headers=bearer(token)).get_json()
        assert [f["properties"]["count"] for f in two_days["features"]] == [4, 1]
        refused = client.get("/api/hotspots?resolution=14", headers=bearer(token))
        assert refused.status_code == 400 and refused.get_json()["error_zh"]


# --- draw-to-query ----------------------------------------------------------------------------


async def test_what_is_inside_a_drawn_polygon(map_settings: Settings, layers: None,
                                              live: LiveState, token: str) -> None:
    await live.apply(units_now(), [incident(INSIDE_INCIDENT, 37.061, 114.491),
                             incident(str(uuid.uuid4()), 37.2, 114.7, level=Level.I)])
    with client_of(map_settings) as client:
        answer = client.post("/api/analysis/inside", json={"geometry": RECTANGLE},
                             headers=bearer(token))
        assert answer.status_code == 200, answer.get_json()
        found = answer.get_json()
    assert found["shape"] == "polygon"
    assert found["facility_counts"] == {"hospital": 1, "school": 1}
    # From the rectangle's centre (37.06, 114.495) the school is 222 m north, the hospital
    # 444 m west.
    assert [f["id"] for f in found["facilities"]] == ["s1", "h1"]
    assert found["facilities"][0]["distance_m"] == pytest.approx(222, abs=2)
    assert found["population"] == 875
    assert found["live"] is True
    assert [u["unit"] for u in found["units"]] == ["car-1"]
    assert found["units"][0]["online"] is True
    assert [i["id"] for i in found["incidents"]] == [INSIDE_INCIDENT]
    width_m = 0.02 * METRES_PER_DEGREE * math.cos(math.radians(37.06))
    assert found["area_km2"] == pytest.approx(width_m * 0.01 * METRES_PER_DEGREE / 1e6,
                                              rel=1e-3)


async def test_what_is_inside_a_drawn_circle(map_settings: Settings, layers: None,
                                             live: LiveState, token: str) -> None:
    await live.apply(units_now(), [])
    body = {"geometry": {"center": {"lat": 37.060, "lon": 114.490}, "radius_m": 600},
            "kinds": ["hospital", "school"]}
    with client_of(map_settings) as client:
        found = client.post("/api/analysis/inside", json=body, headers=bearer(token)).get_json()
    # The school is 222 m north and 444 m east of the centre: 497 m, inside 600 m.
    assert [(f["id"], round(f["distance_m"] / 10)) for f in found["facilities"]] == [
        ("h1", 0), ("s1", 50)]
    assert [u["unit"] for u in found["units"]] == ["car-1"]
    assert found["incidents"] == []
    # The circle lies inside cell a: its share of the cell's 1000 people, by area.
    cell_m2 = (0.02 * METRES_PER_DEGREE) ** 2 * math.cos(math.radians(37.06))
    assert found["population"] == pytest.approx(1000 * math.pi * 600 ** 2 / cell_m2, rel=0.02)
    assert found["area_km2"] == pytest.approx(math.pi * 0.36, rel=1e-3)


@pytest.mark.parametrize(("body", "fragment"), [
    ({"geometry": {"type": "Polygon", "coordinates": [[[114.4, 37.0], [114.5, 37.0],
                                                       [114.5, 37.1], [114.4, 37.1]]]}},
     "closed"),
    ({"geometry": {"center": {"lat": 137, "lon": 114.5}, "radius_m": 100}}, "<= 90"),
    ({"geometry": {"center": {"lat": 37, "lon": 114.5}, "radius_m": 0}}, "> 0"),
    ({"geometry": RECTANGLE, "colour": "red"}, "unknown field"),
    ({"geometry": {"type": "Point", "coordinates": [114.5, 37.0]}}, "Polygon"),
])
async def test_bad_zones_get_400_with_the_reason(map_settings: Settings, token: str,
                                                 body: dict[str, Any], fragment: str) -> None:
    with client_of(map_settings) as client:
        answer = client.post("/api/analysis/inside", json=body, headers=bearer(token))
    assert answer.status_code == 400
    problem = answer.get_json()
    assert fragment in problem["error"] and problem["error_zh"]
