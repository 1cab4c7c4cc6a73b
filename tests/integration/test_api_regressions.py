"""Requests schemathesis found answering 500 (issue #16): each now gets a clear answer."""

from __future__ import annotations

import pytest

from tests.support.auth import create_token
from tests.support.http import send_json

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

INCIDENT = {"type": "fire", "title": "桥西区仓库起火", "lat": 37.06, "lon": 114.49}


@pytest.fixture
async def leader(database_url: str) -> str:
    """A leader's bearer token."""
    return await create_token(database_url, "leader", label="leader-li")


@pytest.mark.parametrize(("lat", "lon", "stored"), [
    (-5e-324, 114.49, (0.0, 114.49)),  # the subnormal schemathesis sent
    (5e-324, -5e-324, (0.0, 0.0)),
    (-2.2250738585072014e-308, 1e-10, (0.0, 0.0)),  # the smallest normal float, 0.01 mm
    (2e-9, -3e-9, (2e-9, -3e-9)),  # 0.2 mm from the equator is kept as sent
])
async def test_a_latitude_within_a_hair_of_zero_is_valid_and_stored_as_zero(
    dashboard: str, leader: str, lat: float, lon: float, stored: tuple[float, float]
) -> None:
    status, incident = send_json("POST", f"{dashboard}/api/incidents", leader,
                                 {**INCIDENT, "lat": lat, "lon": lon})
    assert status == 201, incident
    assert (incident["lat"], incident["lon"]) == stored
    status, again = send_json("GET", f"{dashboard}/api/incidents/{incident['id']}", leader)
    assert status == 200 and (again["lat"], again["lon"]) == stored


async def test_closing_as_merged_is_refused_pointing_to_the_merge_route(
    dashboard: str, leader: str
) -> None:
    _, incident = send_json("POST", f"{dashboard}/api/incidents", leader, INCIDENT)
    status, problem = send_json("POST", f"{dashboard}/api/incidents/{incident['id']}/actions",
                                leader, {"action": "close", "resolution": "merged"})
    assert status == 422, problem
    assert "/merge" in problem["error"] and "合并" in problem["error_zh"]
