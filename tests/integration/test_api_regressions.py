"""Requests schemathesis found answering 500 (issue #16): each now gets a clear answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from incidents.model import Envelope, Inbound, Kind, Observation, Report
from incidents.store import Store
from tests.support.auth import create_token
from tests.support.http import send_json

pytestmark = pytest.mark.integration
ONE_BROKER = pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
"""The served dashboard's settings need a broker; the API needs none, so one is enough."""

INCIDENT = {"type": "fire", "title": "桥西区仓库起火", "lat": 37.06, "lon": 114.49}


@pytest.fixture
async def leader(database_url: str) -> str:
    """A leader's bearer token."""
    return await create_token(database_url, "leader", label="leader-li")


@ONE_BROKER
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


@ONE_BROKER
async def test_closing_as_merged_is_refused_pointing_to_the_merge_route(
    dashboard: str, leader: str
) -> None:
    _, incident = send_json("POST", f"{dashboard}/api/incidents", leader, INCIDENT)
    status, problem = send_json("POST", f"{dashboard}/api/incidents/{incident['id']}/actions",
                                leader, {"action": "close", "resolution": "merged"})
    assert status == 422, problem
    assert "/merge" in problem["error"] and "合并" in problem["error_zh"]


def received(agency: str, kind: Kind, message: Observation | Report) -> Inbound:
    """A message as ingest hands it to the store."""
    return Inbound(envelope=Envelope(topic="t", agency=agency, kind=kind, source="s",
                                     received_at=datetime.now(UTC)), message=message)


async def test_feeds_at_a_subnormal_latitude_are_stored_and_queried(store: Store) -> None:
    now = datetime.now(UTC)
    report = Report(id=str(uuid.uuid4()), ts=now, type="gas_leak", lat=5e-324, lon=-5e-324,
                    text="equator test")
    (incident,) = (await store.write_batch([received("safety", Kind.REPORT, report)],
                                           [])).incidents
    stored = await store.commands.incident(incident.id)
    assert (stored.lat, stored.lon) == (0.0, 0.0)
    await store.write_batch([received("weather", Kind.OBSERVATION, Observation(
        id=str(uuid.uuid4()), ts=now, sensor="eq-aws", quantity=quantity, value=value,
        unit=unit, lat=-5e-324, lon=5e-324))
        for quantity, value, unit in (("wind_direction", 90.0, "deg"),
                                      ("wind_speed", 4.0, "m/s"))], [])
    # The wind query takes ll_to_earth of every station: one at 5e-324 broke it for all.
    found = await store.commands.latest_wind(0.0, 0.0, 30_000, now - timedelta(hours=1))
    assert found is not None and found[:3] == (90.0, 4.0, "eq-aws")
