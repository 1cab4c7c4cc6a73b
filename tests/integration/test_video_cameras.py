"""Cameras pulled by the server (a file source here), stream positions, and streams near a point."""

from __future__ import annotations

import fractions
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest
import redis.asyncio as aioredis
from av.video.frame import VideoFrame
from pydantic import SecretStr

from config.video import CameraSpec, VideoConfigError, VideoSettings
from incidents.live import LiveState
from incidents.model import UnitState
from incidents.video_tokens import Role, issue
from tests.support.waiting import eventually
from video.cameras import CameraSource
from video.client import publish, watch
from video.pattern import PatternTrack, draw_number, frame_number
from video.registry import StreamState
from video.server import Running, running

pytestmark = pytest.mark.integration


@pytest.fixture
def video_settings(tmp_path: Path) -> VideoSettings:
    """Settings with a fresh secret, a free port and quick maintenance."""
    return VideoSettings(token_secret=SecretStr(secrets.token_urlsafe(32)), port=0,
                         recordings_dir=tmp_path / "recordings", maintenance_s=0.2,
                         camera_files=tmp_path)


@pytest.fixture
async def server(video_settings: VideoSettings, live: LiveState, redis_server: str,
                 redis_prefix: str) -> AsyncIterator[Running]:
    """The video server sharing the test's Redis prefix with the live state."""
    async with running(video_settings, redis_url=redis_server,
                       redis_prefix=redis_prefix) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


def key(settings: VideoSettings) -> bytes:
    """The token secret."""
    assert settings.token_secret is not None
    return settings.token_secret.get_secret_value().encode()


def numbered_clip(path: Path, frames: int, first: int) -> Path:
    """A VP8 Matroska clip of numbered 640×480 frames at 30 fps, written with PyAV."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        chroma = np.full((240, 640), 128, dtype=np.uint8)
        for i in range(frames):
            luma = np.full((480, 640), 90, dtype=np.uint8)
            draw_number(luma, first + i)
            frame = VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")
            frame.pts, frame.time_base = i, fractions.Fraction(1, 30)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


async def test_a_file_camera_is_relayed_and_reconnects_when_its_source_ends(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings,
        tmp_path: Path, redis_server: str, redis_prefix: str) -> None:
    # What the dashboard would hear: every change of the registry, on Redis pub/sub.
    client = aioredis.Redis.from_url(redis_server)
    pubsub = client.pubsub()
    await pubsub.subscribe(redis_prefix + "video:changes")
    clip = numbered_clip(tmp_path / "gate.mkv", frames=45, first=5000)
    admin = issue(key(video_settings), "root", Role.ADMIN, 600)
    leader = issue(key(video_settings), "li.wei", Role.LEADER, 600, may_watch=True)
    auth = {"Authorization": f"Bearer {admin}"}
    spec = {"id": "cam-gate", "url": str(clip), "name": "西门桥", "lat": 37.06, "lon": 114.49}
    async with http.post(server.base_url + "/api/cameras", json=spec, headers=auth) as response:
        assert response.status == 201
    async with http.post(server.base_url + "/api/cameras", json=spec, headers=auth) as response:
        assert response.status == 409
    info = await eventually(lambda: server.hub.registry.get("cam-gate"),
                            lambda i: i is not None and i.state is StreamState.LIVE)
    assert info is not None and (info.kind, info.title) == ("camera", "西门桥")

    viewer = await watch(http, server.base_url, "cam-gate", leader, audio=False)
    try:
        track = await eventually(lambda: next(iter(viewer.tracks), None), bool)
        assert track is not None
        seen: list[int] = []

        async def numbers_after_a_restart() -> list[int]:
            frame = await track.recv()
            assert isinstance(frame, VideoFrame)
            number = frame_number(frame)
            if number is not None:
                seen.append(number)
            return seen

        # The clip plays to its end, the stream is interrupted, the camera reopens it and
        # the same viewer sees the first frames again.
        await eventually(numbers_after_a_restart,
                         lambda ns: any(b < a for a, b in zip(ns, ns[1:], strict=False)),
                         timeout_s=40, interval_s=0)
        assert all(5000 <= n < 5045 for n in seen)
        camera = server.hub.cameras["cam-gate"]
        assert isinstance(camera, CameraSource) and camera.connects >= 2
        changes = []
        for _ in range(20):  # what is buffered (None also stands for the subscribe reply)
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is not None:
                changes.append(json.loads(message["data"]))
        states = [c["state"] for c in changes if c.get("id") == "cam-gate"]
        assert states[:3] == ["live", "interrupted", "live"]
    finally:
        await viewer.hang_up(http, leader)
        await pubsub.aclose()
        await client.aclose()
    async with http.delete(server.base_url + "/api/cameras/cam-gate", headers=auth) as response:
        assert response.status == 200
    await eventually(lambda: server.hub.registry.get("cam-gate"), lambda i: i is None)


async def test_streams_near_a_point_nearest_first(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    secret = key(video_settings)
    leader = issue(secret, "li.wei", Role.LEADER, 600, may_watch=True)
    places = {"car-1": (37.0700, 114.5000), "car-2": (37.0750, 114.5000),
              "car-3": (37.2000, 114.5000)}
    calls = []
    for unit, (lat, lon) in places.items():
        token = issue(secret, unit, Role.UNIT, 600, publish=(unit,))
        calls.append((await publish(http, server.base_url, unit, token, [PatternTrack()],
                                    lat=lat, lon=lon), token))
    try:
        query = "lat=37.0760&lon=114.5000&radius_m=2000&limit=5"
        async with http.get(f"{server.base_url}/api/streams/near?{query}",
                            headers={"Authorization": f"Bearer {leader}"}) as response:
            assert response.status == 200
            found = (await response.json())["streams"]
        assert [s["id"] for s in found] == ["car-2", "car-1"]
        assert 100 < found[0]["distance_m"] < 130 < found[1]["distance_m"] < 700
        async with http.get(f"{server.base_url}/api/streams/near?lat=91&lon=0",
                            headers={"Authorization": f"Bearer {leader}"}) as response:
            assert response.status == 400
    finally:
        for call, token in calls:
            await call.hang_up(http, token)


async def test_a_field_stream_follows_its_unit(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings,
        live: LiveState) -> None:
    secret = key(video_settings)
    unit = issue(secret, "fire-3", Role.UNIT, 600, publish=("fire-3",))
    leader = issue(secret, "li.wei", Role.LEADER, 600, may_watch=True)
    call = await publish(http, server.base_url, "fire-3", unit, [PatternTrack()],
                         lat=37.0, lon=114.0)
    try:
        await live.apply([UnitState(unit="fire-3", agency="fire", lat=37.081, lon=114.512,
                                    ts=datetime.now(UTC))], [])

        async def listed() -> dict[str, object]:
            async with http.get(server.base_url + "/api/streams",
                                headers={"Authorization": f"Bearer {leader}"}) as response:
                doc: dict[str, object] = (await response.json())["streams"][0]
                return doc

        doc = await eventually(listed, lambda d: d["position_source"] == "unit")
        assert (doc["lat"], doc["lon"], doc["state"]) == (37.081, 114.512, "live")
    finally:
        await call.hang_up(http, unit)


async def test_cameras_in_the_settings_start_with_the_server(
        video_settings: VideoSettings, tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path / "yard.mkv", frames=30, first=1)
    settings = video_settings.model_copy(update={"cameras": (
        CameraSpec(id="cam-yard", url=str(clip), name="院内", lat=37.0, lon=114.4,
                   loop=True),)})
    async with running(settings, redis_url=None, redis_prefix="x:") as started:
        info = await eventually(lambda: started.hub.registry.get("cam-yard"),
                                lambda i: i is not None and i.state is StreamState.LIVE)
        assert info is not None and (info.title, info.lat, info.kind) == ("院内", 37.0, "camera")
    assert started.hub.cameras == {}


@pytest.mark.parametrize(("url", "says"), [
    ("file:///etc/passwd", "is not under video.camera_files"),
    ("http://127.0.0.1:6379/", "is not in video.camera_hosts"),
    ("concat:/etc/passwd|/etc/hostname", "must be rtsp://"),
])
async def test_an_admin_cannot_point_a_camera_at_files_or_internal_services(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings,
        url: str, says: str) -> None:
    admin = issue(key(video_settings), "root", Role.ADMIN, 600)
    spec = {"id": "cam-evil", "url": url, "name": "x"}
    async with http.post(server.base_url + "/api/cameras", json=spec,
                         headers={"Authorization": f"Bearer {admin}"}) as response:
        doc = await response.json()
        assert response.status == 400 and doc["error"] == "bad_camera", doc
        assert says in doc["message"], doc
    assert server.hub.cameras == {} and server.hub.registry.get("cam-evil") is None


async def test_a_refused_camera_in_the_settings_stops_the_server_with_why(
        video_settings: VideoSettings) -> None:
    settings = video_settings.model_copy(update={"cameras": (
        CameraSpec(id="cam-lan", url="rtsp://10.9.9.9/live"),)})
    with pytest.raises(VideoConfigError, match="cam-lan: .*10.9.9.9 is not in"):
        async with running(settings, redis_url=None, redis_prefix="x:"):
            pass
