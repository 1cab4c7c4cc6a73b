"""The video server's limits: a flood of rooms or sessions is bounded (503 with what to do),
rooms nobody uses are freed, and recordings stop before they fill the disk or run forever."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiortc.mediastreams import AudioStreamTrack
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from tests.support.waiting import eventually
from video.client import SignalingError, publish, watch
from video.pattern import PatternTrack
from video.server import Running, running

pytestmark = pytest.mark.integration


def settings(tmp_path: Path, **limits: object) -> VideoSettings:
    return VideoSettings.model_validate({
        "token_secret": SecretStr(secrets.token_urlsafe(32)), "port": 0,
        "recordings_dir": tmp_path / "recordings", **limits})


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def leader(video: VideoSettings) -> str:
    assert video.token_secret is not None
    return issue(video.token_secret.get_secret_value().encode(), "li.wei", Role.LEADER, 600,
                 may_watch=True, rooms=("*",))


async def open_room(http: aiohttp.ClientSession, server: Running, token: str
                    ) -> tuple[int, dict[str, object]]:
    async with http.post(server.base_url + "/api/rooms",
                         json={"incident_id": "inc-1", "title": "会商"},
                         headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def test_a_flood_of_rooms_is_bounded_and_empty_rooms_are_freed(
        http: aiohttp.ClientSession, tmp_path: Path) -> None:
    video = settings(tmp_path, max_rooms=3, room_empty_ttl_s=10)
    token = leader(video)
    async with running(video, redis_url=None, redis_prefix="x:") as server:
        answers = [await open_room(http, server, token) for _ in range(20)]
        assert [status for status, _ in answers] == [201] * 3 + [503] * 17
        assert "video.max_rooms" in str(answers[-1][1]["message"])
        assert len(server.hub.rooms) == 3
        # Nobody joins: once empty for room_empty_ttl_s they are closed, and new ones open.
        now = time.time()
        await server.hub.bound_rooms(now)
        assert len(server.hub.rooms) == 3  # empty since now
        await server.hub.bound_rooms(now + 11)
        assert server.hub.rooms == {}
        status, _ = await open_room(http, server, token)
        assert status == 201


async def test_sessions_are_bounded(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    video = settings(tmp_path, max_sessions=2)
    assert video.token_secret is not None
    key = video.token_secret.get_secret_value().encode()
    unit = issue(key, "car-4", Role.UNIT, 600, publish=("car-4",))
    token = leader(video)
    async with running(video, redis_url=None, redis_prefix="x:") as server:
        publisher = await publish(http, server.base_url, "car-4", unit,
                                  [PatternTrack(), AudioStreamTrack()])
        viewer = await watch(http, server.base_url, "car-4", token)
        # Hanging up while ICE still connects leaves aiortc a task that fails on a closed
        # transport: let both connect first.
        for call in (publisher, viewer):
            await eventually(lambda call=call: call.pc.connectionState,  # type: ignore[misc]
                             lambda state: state == "connected", timeout_s=15)
        with pytest.raises(SignalingError) as refused:
            await watch(http, server.base_url, "car-4", token)
        assert refused.value.status == 503 and "video.max_sessions" in refused.value.body
        assert len(server.hub.sessions) == 2
        await viewer.hang_up(http, token)
        await publisher.hang_up(http, unit)


async def test_recordings_stop_at_their_limits(http: aiohttp.ClientSession,
                                               tmp_path: Path) -> None:
    video = settings(tmp_path, max_recording_s=60)
    token = leader(video)
    async with running(video, redis_url=None, redis_prefix="x:") as server:
        status, doc = await open_room(http, server, token)
        room_id = str(doc["id"])
        await server.hub.start_recording(room_id)
        recording = server.hub.recording(room_id)
        assert recording is not None
        await server.hub.bound_rooms(recording.started_at.timestamp() + 30)
        assert server.hub.recording(room_id) is not None
        await server.hub.bound_rooms(recording.started_at.timestamp() + 61)
        assert server.hub.recording(room_id) is None
        assert server.hub.rooms[room_id].recording is False

    # With less free disk than required, no recording starts (503 with what to do).
    full_disk = settings(tmp_path, recordings_min_free_bytes=2 ** 62)
    token = leader(full_disk)
    async with running(full_disk, redis_url=None, redis_prefix="x:") as server:
        _, doc = await open_room(http, server, token)
        async with http.post(f"{server.base_url}/api/rooms/{doc['id']}/recording",
                             json={"action": "start"},
                             headers={"Authorization": f"Bearer {token}"}) as response:
            answer = await response.json()
            assert response.status == 503, answer
            assert "recordings_min_free_bytes" in answer["message"]
