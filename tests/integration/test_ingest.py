"""Ingest end to end over each real broker: MQTT in, PostgreSQL and Redis out, receipts back."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from config.settings import Settings
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.ingest import publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def position_json(unit: str = "car-7", message_id: str | None = None, lat: float = 37.07) -> str:
    return json.dumps({"id": message_id or str(uuid.uuid4()),
                       "ts": datetime.now(UTC).isoformat(), "unit": unit, "lat": lat,
                       "lon": 114.5})


async def test_a_position_is_stored_live_and_receipted(settings: Settings, store: Store,
                                                       live: LiveState, broker: Broker) -> None:
    root = settings.topic_root
    message_id = str(uuid.uuid4())
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.listen(f"{root}/receipts/car-7")
            sent = time.time()
            pub.publish(f"{root}/police/position/car-7", position_json(message_id=message_id))
            units = await eventually(live.units, lambda u: len(u) == 1)
            await eventually(lambda: len(pub.received), lambda n: n >= 1)
            got = time.time()
    assert units[0].unit == "car-7" and units[0].agency == "police"
    assert await store.position_ids() == [message_id]
    receipt = json.loads(pub.received[0].payload)
    assert receipt["ids"] == [message_id]
    assert sent <= receipt["committed_at"] <= got  # stamped when the commit returned


async def test_the_same_id_twice_is_stored_once(settings: Settings, store: Store,
                                                live: LiveState, broker: Broker) -> None:
    root = settings.topic_root
    message_id = str(uuid.uuid4())
    async with running_ingest(settings, store, live) as service:
        with publisher(broker.url, broker.protocol) as pub:
            for _ in range(2):
                pub.publish(f"{root}/police/position/car-7", position_json(message_id=message_id))
            await eventually(lambda: service.source.stats.received, lambda n: n >= 2)
            await eventually(lambda: service.stats.batches, lambda n: n >= 1)
    assert await store.position_ids() == [message_id]
    assert service.stats.duplicates == 1


async def test_malformed_payloads_become_dead_letters_with_a_reason(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    root = settings.topic_root
    bad_id = str(uuid.uuid4())
    cases: dict[str, str | bytes] = {
        f"{root}/police/position/car-7": b"{not json",
        f"{root}/police/position/car-8": json.dumps({"id": bad_id, "ts": "yesterday",
                                                     "unit": "car-8", "lat": 1, "lon": 2}),
        f"{root}/nobody/position/x": position_json(),
        f"{root}/police/teleport/x": position_json(),
    }
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.listen(f"{root}/receipts/car-8")
            for topic, payload in cases.items():
                pub.publish(topic, payload)
            letters = await eventually(store.dead_letters, lambda d: len(d) == 4)
            await eventually(lambda: len(pub.received), lambda n: n >= 1)
    reasons = {d.letter.topic: d.letter.reason for d in letters}
    assert reasons == {
        f"{root}/police/position/car-7": "malformed_json",
        f"{root}/police/position/car-8": "invalid",
        f"{root}/nobody/position/x": "unknown_agency",
        f"{root}/police/teleport/x": "unknown_kind",
    }
    payloads = {d.letter.topic: d.letter.payload for d in letters}
    assert payloads[f"{root}/police/position/car-7"] == b"{not json"
    assert json.loads(pub.received[0].payload)["rejected"] == {bad_id: "invalid"}
    assert await store.position_ids() == []


async def test_a_report_opens_an_incident_on_the_live_map(settings: Settings, store: Store,
                                                          live: LiveState, broker: Broker) -> None:
    root = settings.topic_root
    payload = json.dumps({"id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(),
                          "type": "chemical_leak", "lat": 37.05, "lon": 114.52,
                          "text": "化工厂储罐泄漏", "level": "II"})
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{root}/safety/report/hotline", payload)
            (incident,) = await eventually(live.incidents, lambda i: len(i) == 1)
    assert (incident.type, incident.level.value) == ("chemical_leak", "II")
    assert incident.title.endswith("化工厂储罐泄漏")  # the rules prefix the type's name
    assert [i.id for i in await store.open_incidents()] == [incident.id]


async def test_the_heartbeat_reports_the_broker_and_counts(settings: Settings, store: Store,
                                                           live: LiveState,
                                                           broker: Broker) -> None:
    async with running_ingest(settings, store, live):
        status = await eventually(lambda: live.status(f"ingest:{settings.ingest.client_id}"),
                                  lambda s: s is not None and s["broker_connected"])
    assert status is not None and status["broker"] == broker.url



async def test_messages_sent_while_ingest_is_down_arrive_when_it_returns(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    """The persistent session keeps what the broker acknowledged while ingest was away."""
    root = settings.topic_root
    async with running_ingest(settings, store, live):
        pass  # creates the persistent session and its subscription, then disconnects
    ids = [str(uuid.uuid4()) for _ in range(20)]
    with publisher(broker.url, broker.protocol) as pub:
        for message_id in ids:
            pub.publish(f"{root}/police/position/car-9", position_json("car-9", message_id))
    async with running_ingest(settings, store, live):
        stored = await eventually(store.position_ids, lambda found: len(found) == len(ids))
    assert sorted(stored) == sorted(ids)
