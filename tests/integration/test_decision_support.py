"""Decision support around an incident on the demo layers: district, facilities, population,
cameras, similar incidents, the plan's resource gap, and for a gas release the downwind zone
in the wind the weather feed last reported."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from incidents.command import Actor
from incidents.lifecycle import Action
from incidents.model import Envelope, Inbound, Kind, Level, Observation, Report
from incidents.store import Store
from tests.support.command import command_service

pytestmark = pytest.mark.integration

CITY = (37.0650, 114.5050)  # central Xingtai, where the demo facilities and people are


def inbound(agency: str, message: Observation | Report) -> Inbound:
    kind = Kind.OBSERVATION if isinstance(message, Observation) else Kind.REPORT
    return Inbound(envelope=Envelope(topic="t", agency=agency, kind=kind, source="s",
                                     received_at=datetime.now(UTC)), message=message)


def wind(quantity: str, value: float) -> Inbound:
    return inbound("weather", Observation(
        id=str(uuid.uuid4()), ts=datetime.now(UTC), sensor="xt-aws-01", quantity=quantity,
        value=value, unit="deg" if quantity == "wind_direction" else "m/s",
        lat=CITY[0] + 0.02, lon=CITY[1]))


async def leak(store: Store) -> str:
    report = Report(id=str(uuid.uuid4()), ts=datetime.now(UTC), type="chemical_leak",
                    lat=CITY[0], lon=CITY[1], text="储罐泄漏", level=Level.II)
    (incident,) = (await store.write_batch([inbound("safety", report)], [])).incidents
    return incident.id


async def test_a_leak_gets_its_surroundings_and_the_downwind_zone(store: Store) -> None:
    service = command_service(store, None, with_layers=True)
    incident_id = await leak(store)
    before = await service.decision_support(incident_id, radius_m=3000)
    assert before.district is not None and before.district.code.startswith("1305")
    assert before.facilities and all(f.distance_m <= 3000 for f in before.facilities)
    assert [f.distance_m for f in before.facilities] == sorted(
        f.distance_m for f in before.facilities)
    assert before.population > 0
    assert all(c.kind == "camera" for c in before.cameras)
    assert before.plan.plan is not None and before.plan.plan.id == "hazchem_leak"
    assert all(p.missing == p.requirement.count for p in before.plan.proposals)  # no units
    assert before.downwind is None and before.wind is not None and "no wind" in before.wind

    await store.write_batch([wind("wind_direction", 0.0), wind("wind_speed", 3.0)], [])
    after = await service.decision_support(incident_id)
    zone = after.downwind
    assert zone is not None and after.wind is not None and after.wind.startswith("xt-aws-01")
    assert zone.downwind_deg == 180.0  # a north wind carries the gas south
    assert zone.protective_m > zone.isolation_m
    ring = zone.geojson["features"][0]["geometry"]["coordinates"][0]
    south = min(lat for _, lat in ring)
    north = max(lat for _, lat in ring)
    # The zone reaches the protective distance south, only the isolation radius north.
    assert (CITY[0] - south) * 111_000 == pytest.approx(zone.protective_m, rel=0.05)
    assert (north - CITY[0]) * 111_000 == pytest.approx(zone.isolation_m, rel=0.05)


async def test_similar_incidents_are_earlier_ones_of_the_type_nearby(store: Store) -> None:
    service = command_service(store, None, with_layers=True)
    first = await leak(store)
    await service.act(first, Action.VERIFY, Actor(name="l"))
    second = await leak(store)
    support = await service.decision_support(second)
    assert [i.id for i in support.similar] == [first]
