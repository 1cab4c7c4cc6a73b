"""The rules act through ingest: thresholds open and escalate incidents, reports correlate."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.settings import Settings
from incidents.command import Actor
from incidents.lifecycle import Action
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.command import command_service
from tests.support.ingest import publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def reading(value: float, minutes_ago: float) -> str:
    ts = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return json.dumps({"id": str(uuid.uuid4()), "ts": ts.isoformat(),
                       "sensor": "xt-wl-qilihe-01", "quantity": "water_level", "value": value,
                       "unit": "m", "lat": 37.0466, "lon": 114.5301})


def fire_report(lat: float, lon: float) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(), "type": "fire",
            "lat": lat, "lon": lon, "text": "楼房冒烟"}


async def test_a_gauge_above_warning_opens_then_escalates_one_incident(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    topic = f"{settings.topic_root}/water/observation/hydro"
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(topic, reading(63.50, 3))  # below warning: nothing
            pub.publish(topic, reading(63.95, 2))  # above 警戒水位 63.80
            (opened,) = await eventually(live.incidents, lambda i: len(i) == 1)
            pub.publish(topic, reading(64.70, 1))  # above 保证水位 64.60
            (escalated,) = await eventually(live.incidents,
                                            lambda i: len(i) == 1 and i[0].level.value == "II")
    assert (opened.type, opened.level.value) == ("flood", "IV")
    assert escalated.id == opened.id
    actions = [e["action"] for e in await store.incident_events(opened.id)]
    assert actions == ["reported", "rule_update"]


async def test_reports_close_together_become_one_incident_even_across_a_restart(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    topic = f"{settings.topic_root}/fire/report/c119"
    with publisher(broker.url, broker.protocol) as pub:
        async with running_ingest(settings, store, live):
            for offset in (0.0, 0.0008):  # ~90 m apart
                pub.publish(topic, json.dumps(fire_report(37.070 + offset, 114.500)))
            await eventually(store.counts, lambda c: c["reports"] == 2)
        # A new ingest process resumes the open incident from PostgreSQL.
        async with running_ingest(settings, store, live):
            pub.publish(topic, json.dumps(fire_report(37.071, 114.501)))
            far = fire_report(37.200, 114.800)  # ~30 km away: its own incident
            pub.publish(topic, json.dumps(far))
            incidents = await eventually(store.open_incidents, lambda i: len(i) == 2)
    near = next(i for i in incidents if i.source_report != far["id"])
    actions = [e["action"] for e in await store.incident_events(near.id)]
    assert actions == ["reported", "correlated", "correlated"]


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_after_a_leader_closes_a_rule_incident_a_new_breach_opens_a_new_one(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    topic = f"{settings.topic_root}/water/observation/hydro"
    leader = Actor(name="leader-zhao")
    service = command_service(store, live)
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(topic, reading(63.95, 5))  # above 警戒水位
            (first,) = await eventually(live.incidents, lambda i: len(i) == 1)
            for action in (Action.VERIFY, Action.RESPOND, Action.CONTAIN, Action.CLOSE):
                await service.act(first.id, action, leader)
            await asyncio.sleep(2 * settings.ingest.heartbeat_s + 0.5)  # ingest learns it
            pub.publish(topic, reading(63.20, 4))  # the river falls back: the breach clears
            pub.publish(topic, reading(64.00, 3))  # and rises again: a new incident
            (second,) = await eventually(live.incidents, lambda i: len(i) == 1)
    assert second.id != first.id and second.type == "flood"


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_hazmat_truck_driving_into_a_school_area_opens_an_incident(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    topic = f"{settings.topic_root}/safety/position/avl"

    def fix(lat: float, lon: float, unit_type: str) -> str:
        return json.dumps({"id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(),
                           "unit": f"ji-e-{unit_type[:3]}", "unit_type": unit_type,
                           "lat": lat, "lon": lon})

    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(topic, fix(37.0655, 114.5060, "patrol_car"))  # not watched
            pub.publish(topic, fix(37.0500, 114.4900, "hazmat_truck"))  # outside
            pub.publish(topic, fix(37.0655, 114.5060, "hazmat_truck"))  # 示范中学
            (incident,) = await eventually(live.incidents, lambda i: len(i) == 1)
            await eventually(store.counts, lambda c: c["positions"] == 3)
    assert (incident.type, incident.level.value) == ("intrusion", "IV")
    assert "ji-e-haz" in incident.title
