"""/api/health names an agency whose feed went silent, from the real ingest's heartbeats in
Redis, and is healthy again once it speaks.

Ingest consumes from Mosquitto in this process; the dashboard serves /api/health on a loopback
port; police keeps publishing while fire stops, with a 5 s stale threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from config.settings import FeedWatchSettings, Settings
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.http import get_json, served_dashboard
from tests.support.ingest import Publisher, publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

STALE_S = 5.0


def position(unit: str) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(),
                       "unit": unit, "lat": 37.07, "lon": 114.5})


@contextlib.asynccontextmanager
async def publishing(pub: Publisher, topic: str, every_s: float = 0.5) -> AsyncIterator[None]:
    """Publish a position on `topic` every `every_s` until the block ends."""

    async def loop() -> None:
        while True:
            await asyncio.to_thread(pub.publish, topic, position(topic.rsplit("/", 1)[-1]))
            await asyncio.sleep(every_s)

    task = asyncio.create_task(loop(), name="test-feed")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_health_names_the_agency_whose_feed_went_silent(
    settings: Settings, store: Store, live: LiveState, broker: Broker, api_token: str,
) -> None:
    watched = settings.model_copy(update={
        "agencies": ("police", "fire"), "feeds": FeedWatchSettings(stale_s=STALE_S),
        "ingest": settings.ingest.model_copy(update={"heartbeat_s": 0.2})})
    root = watched.topic_root
    async with running_ingest(watched, store, live):
        with served_dashboard(watched) as url, publisher(broker.url, broker.protocol) as pub:

            async def health() -> dict[str, Any]:
                return (await asyncio.to_thread(get_json, f"{url}/api/health", api_token))[1]

            async with publishing(pub, f"{root}/police/position/car-7"):
                await asyncio.to_thread(pub.publish, f"{root}/fire/position/xt-119-01",
                                        position("xt-119-01"))
                report = await eventually(health, lambda r: r["status"] == "ok",
                                          timeout_s=10, interval_s=0.2)
                assert report["feeds"]["silent"] == []
                fire_heard = report["feeds"]["agencies"][1]["last_at"]
                assert isinstance(fire_heard, float)

                # Fire says nothing more; police goes on.
                report = await eventually(health, lambda r: r["status"] == "degraded",
                                          timeout_s=STALE_S + 5, interval_s=0.2)
                feeds = report["feeds"]
                assert (feeds["ok"], feeds["silent"]) == (False, ["fire"])
                assert feeds["detail"].startswith("silent for over 5 s: fire (")
                police, fire = feeds["agencies"]
                assert (police["agency"], police["stale"]) == ("police", False)
                assert police["seconds"] < STALE_S
                assert (fire["agency"], fire["name"], fire["stale"]) == ("fire", "消防救援", True)
                assert fire["seconds"] >= STALE_S and fire["last_at"] == fire_heard
                assert report["ingest"]["ok"] and report["broker"]["ok"]

                # It speaks again: healthy.
                await asyncio.to_thread(pub.publish, f"{root}/fire/position/xt-119-01",
                                        position("xt-119-01"))
                report = await eventually(health, lambda r: r["status"] == "ok",
                                          timeout_s=10, interval_s=0.2)
                assert report["feeds"]["silent"] == []
