"""Feeds in GCJ-02 or BD-09 (Chinese map apps) are stored in WGS-84: declared per message with
`crs`, or per agency in the settings; checked against a known point pair."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from config.settings import IngestSettings, Settings
from incidents.live import LiveState
from incidents.store import Store
from maps.crs import Crs, from_wgs84
from tests.conftest import Broker
from tests.support.ingest import publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

# 邢台市人民政府 (Xingtai city hall), WGS-84, and the same place as AMap / Baidu show it.
WGS84 = (37.0697, 114.5047)


def fix(unit: str, lat: float, lon: float, crs: str | None) -> str:
    doc = {"id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(), "unit": unit,
           "lat": lat, "lon": lon}
    return json.dumps(doc | ({"crs": crs} if crs else {}))


async def test_declared_and_configured_systems_are_converted(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    gcj_lon, gcj_lat = from_wgs84(Crs.GCJ02, WGS84[1], WGS84[0])
    bd_lon, bd_lat = from_wgs84(Crs.BD09, WGS84[1], WGS84[0])
    assert abs(gcj_lon - WGS84[1]) > 0.004  # GCJ-02 is some 500 m off here: worth converting
    settings = settings.model_copy(update={"ingest": IngestSettings(
        client_id=settings.ingest.client_id, session_expiry_s=120,
        feed_crs={"fire": "bd09"})})
    root = settings.topic_root
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{root}/police/position/avl", fix("p-gcj", gcj_lat, gcj_lon, "gcj02"))
            pub.publish(f"{root}/police/position/avl", fix("p-wgs", *WGS84, None))
            pub.publish(f"{root}/fire/position/avl", fix("f-bd", bd_lat, bd_lon, None))
            units = await eventually(store.units, lambda found: len(found) == 3)
    for unit in units:
        assert unit.lat == pytest.approx(WGS84[0], abs=2e-5), unit.unit  # ~2 m
        assert unit.lon == pytest.approx(WGS84[1], abs=2e-5), unit.unit
