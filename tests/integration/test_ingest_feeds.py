"""Every JSON feed kind goes through ingest into its table; a spoofed agency is refused."""

from __future__ import annotations

import functools
import json

import asyncpg
import pytest

from config.settings import Settings
from incidents.live import LiveState
from incidents.model import Kind
from incidents.store import Store
from ingest.feeds_doc import _EXAMPLES
from tests.conftest import Broker
from tests.support.ingest import publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def _count(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        value: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return value
    finally:
        await conn.close()


async def test_each_feed_kind_lands_in_its_table(settings: Settings, store: Store,
                                                 live: LiveState, broker: Broker) -> None:
    root = settings.topic_root
    sends = [("water", Kind.OBSERVATION, "observations"), ("safety", Kind.ALARM, "alarms"),
             ("fire", Kind.STATUS, "unit_statuses"), ("fire", Kind.ACK, "order_acks")]
    dsn = settings.database_url
    assert dsn is not None
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            for agency, kind, _ in sends:
                for _ in range(2):  # redelivery is harmless
                    pub.publish(f"{root}/{agency}/{kind}/src-1", json.dumps(_EXAMPLES[kind]))
            for _, _, table in sends:
                await eventually(functools.partial(_count, dsn, table), lambda n: n == 1)


async def test_a_unit_status_sets_its_availability(settings: Settings, store: Store,
                                                   live: LiveState, broker: Broker) -> None:
    root = settings.topic_root
    status = _EXAMPLES[Kind.STATUS]
    position = {"id": "p-1", "ts": "2026-11-26T09:30:00+08:00", "unit": status["unit"],
                "lat": 37.07, "lon": 114.5}
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{root}/fire/position/src-1", json.dumps(position))
            await eventually(store.units, lambda u: len(u) == 1)
            pub.publish(f"{root}/fire/status/src-1", json.dumps(status))
            conn = await asyncpg.connect(settings.database_url)
            try:
                availability = await eventually(
                    lambda: conn.fetchval("SELECT availability FROM units WHERE unit = $1",
                                          status["unit"]),
                    lambda a: a is not None)
            finally:
                await conn.close()
    assert availability == "en_route"


async def test_a_payload_claiming_another_agency_is_dead_lettered(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    doc = {**_EXAMPLES[Kind.OBSERVATION], "agency": "police"}
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{settings.topic_root}/water/observation/src-1", json.dumps(doc))
            (letter,) = await eventually(store.dead_letters, lambda d: len(d) == 1)
    assert letter.letter.reason == "agency_mismatch"
