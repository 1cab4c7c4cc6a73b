"""CAP alerts and CoT events through ingest: stored once, acted on, exported back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from incidents.cap_xml import parse_cap
from incidents.live import LiveState
from incidents.model import IncidentStatus
from incidents.store import Store
from tests.conftest import Broker
from tests.support.http import get, get_json
from tests.support.ingest import publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RAIN = "cap:xingtai.qxt@cma.gov.cn:13050041600000_20250729103000"


def cap(name: str) -> bytes:
    return (FIXTURES / "cap" / name).read_bytes()


async def _rows(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql)
        return rows
    finally:
        await conn.close()


async def test_cap_alert_update_and_cancel_act_on_one_incident(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    topic = f"{settings.topic_root}/weather/cap/cma-xingtai"
    dsn = settings.database_url or ""
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(topic, cap("cma_rainstorm_red.xml"))
            pub.publish(topic, cap("cma_rainstorm_red.xml"))  # re-sent: stored once
            (incident,) = await eventually(live.incidents, lambda i: len(i) == 1)
            assert (incident.type, incident.level.value) == ("cap_alert", "I")
            pub.publish(topic, cap("cma_rainstorm_red_update.xml"))
            updated = await eventually(live.incidents,
                                       lambda i: len(i) == 1 and i[0].updated_at
                                       > incident.updated_at)
            pub.publish(topic, cap("cma_rainstorm_red_cancel.xml"))
            await eventually(live.incidents, lambda i: i == [])
            pub.publish(topic, cap("exercise_chemical_leak_drill.xml"))
            await eventually(lambda: _rows(dsn, "SELECT id FROM cap_alerts"),
                             lambda r: len(r) == 4)
    alerts = {r["id"]: r for r in await _rows(
        dsn, "SELECT id, msg_type, status, superseded_by, cancelled_by, incident_id"
             " FROM cap_alerts")}
    assert alerts[RAIN]["superseded_by"] is not None and alerts[RAIN]["cancelled_by"] is not None
    exercise = next(r for r in alerts.values() if r["status"] == "Exercise")
    assert exercise["incident_id"] is None  # an exercise never opens a real incident
    (closed,) = await _rows(dsn, "SELECT status FROM incidents")
    assert closed["status"] == IncidentStatus.CLOSED.value
    events = await store.incident_events(incident.id)
    assert [e["action"] for e in events] == ["reported", "cap_update", "cap_cancel"]
    assert updated[0].id == incident.id
    stored = await store.cap_alert(RAIN)
    assert stored == parse_cap(cap("cma_rainstorm_red.xml"))


async def test_hostile_cap_and_cot_are_dead_lettered(settings: Settings, store: Store,
                                                     live: LiveState, broker: Broker) -> None:
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{settings.topic_root}/weather/cap/x", cap("hostile_billion_laughs.xml"))
            pub.publish(f"{settings.topic_root}/police/cot/tak",
                        (FIXTURES / "cot" / "hostile_external_entity.xml").read_bytes())
            letters = await eventually(store.dead_letters, lambda d: len(d) == 2)
    assert {d.letter.reason for d in letters} == {"xml_forbidden"}


async def test_a_tak_position_puts_the_unit_on_the_map(settings: Settings, store: Store,
                                                       live: LiveState, broker: Broker) -> None:
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{settings.topic_root}/police/cot/tak-server",
                        (FIXTURES / "cot" / "atak_position.xml").read_bytes())
            (unit,) = await eventually(live.units, lambda u: len(u) == 1)
    assert unit.unit.startswith("ANDROID-8c1e0f2b7a4d9e36")
    assert unit.unit_type is not None and unit.unit_type.startswith("cot:")


async def test_a_stored_alert_exports_as_cap_1_2(settings: Settings, store: Store,
                                                 live: LiveState, broker: Broker,
                                                 dashboard: str, api_token: str) -> None:
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{settings.topic_root}/weather/cap/cma", cap("cma_rainstorm_red.xml"))
            await eventually(live.incidents, lambda i: len(i) == 1)
    status, kind, body = await asyncio.to_thread(get, f"{dashboard}/api/cap/{RAIN}", api_token)
    assert (status, kind) == (200, "application/cap+xml")
    assert parse_cap(body) == parse_cap(cap("cma_rainstorm_red.xml"))
    listed_status, listed = await asyncio.to_thread(get_json, f"{dashboard}/api/cap", api_token)
    assert listed_status == 200 and [a["id"] for a in listed["alerts"]] == [RAIN]
    missing, _, _ = await asyncio.to_thread(get, f"{dashboard}/api/cap/cap:nobody:none",
                                          api_token)
    assert missing == 404
