"""Opening a video conference (视频会商) from the dashboard: the video server opens a room for
the incident, the leader is sent into it with a token for that room, and it is journaled."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from config.settings import Settings
from config.video import VideoSettings
from incidents.live import LiveState
from incidents.video_tokens import verify
from tests.support.auth import create_token
from tests.support.http import send_json, served_dashboard
from video.server import running

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]


async def test_a_leader_opens_the_incidents_conference(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(32)
    video = VideoSettings(token_secret=SecretStr(secret), port=0,
                          recordings_dir=tmp_path / "recordings")
    leader = await create_token(database_url, "leader", label="leader-sun")
    operator = await create_token(database_url, "operator")
    async with running(video, redis_url=None, redis_prefix="unused:") as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        video = video.model_copy(update={"port": port})
        with served_dashboard(settings.model_copy(update={"video": video})) as dashboard:
            status, incident = await asyncio.to_thread(
                send_json, "POST", f"{dashboard}/api/incidents", leader,
                {"type": "chemical_leak", "title": "化工园区储罐泄漏", "lat": 37.1, "lon": 114.62})
            assert status == 201
            url = f"{dashboard}/api/incidents/{incident['id']}/conference"
            status, opened = await asyncio.to_thread(send_json, "POST", url, leader)
            location = opened["url"]
            assert status == 201 and location.startswith(f"{server.base_url}/room/")
            room = urlsplit(location).path.rsplit("/", 1)[1]
            claims = verify(secret.encode(), parse_qs(urlsplit(location).query)["token"][0])
            assert claims.rooms == (room,) and claims.role.value == "leader"
            assert room == opened["room"] and room in server.hub.rooms
            assert (await asyncio.to_thread(send_json, "POST", url, operator))[0] == 403
            status, timeline = await asyncio.to_thread(
                send_json, "GET", f"{dashboard}/api/incidents/{incident['id']}/timeline",
                leader)
    assert [(e["action"], e["data"]) for e in timeline][-1] == ("conference", {"room": room})


async def test_the_streams_nearest_an_incident_and_a_page_to_watch_them(
    settings: Settings, database_url: str, live: LiveState
) -> None:
    secret = secrets.token_urlsafe(32)
    video = VideoSettings(token_secret=SecretStr(secret), port=8061)
    leader = await create_token(database_url, "leader")
    client = live._redis  # noqa: SLF001 - writes what the video server's registry writes
    for sid, lat, state in [("cam-near", 37.101, "live"), ("unit-far", 37.3, "live"),
                            ("cam-ended", 37.1005, "ended"), ("cam-nowhere", None, "live")]:
        doc = {"id": sid, "owner": sid, "kind": "camera", "title": sid, "state": state,
               "lat": lat, "lon": 114.62 if lat else None, "started_at": 0, "updated_at": 0}
        await client.hset(settings.redis_prefix + "video:streams", sid, json.dumps(doc))
    with served_dashboard(settings.model_copy(update={"video": video})) as dashboard:
        _, incident = await asyncio.to_thread(
            send_json, "POST", f"{dashboard}/api/incidents", leader,
            {"type": "chemical_leak", "title": "储罐泄漏", "lat": 37.1, "lon": 114.62})
        status, found = await asyncio.to_thread(
            send_json, "GET", f"{dashboard}/api/incidents/{incident['id']}/video", leader)
        _, layer = await asyncio.to_thread(send_json, "GET", f"{dashboard}/api/streams", leader)
    assert status == 200 and [s["id"] for s in found["streams"]] == ["cam-near"]
    assert found["url"].startswith("http://127.0.0.1:8061/watch?streams=cam-near&")
    assert sorted(f["id"] for f in layer["features"]) == ["cam-ended", "cam-near", "unit-far"]
