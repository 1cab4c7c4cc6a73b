"""WHIP → relay → WHEP with real aiortc peers and a real video server on a free port."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import redis.asyncio as aioredis
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack
from av.frame import Frame
from av.video.frame import VideoFrame
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from tests.support.waiting import eventually
from video.client import publish, watch
from video.pattern import PatternTrack, frame_number
from video.peers import SessionKind
from video.registry import StreamInfo, StreamState
from video.server import Running, running

pytestmark = pytest.mark.integration


@pytest.fixture
def video_settings(tmp_path: Path) -> VideoSettings:
    """Settings with a fresh secret, a free port and quick maintenance."""
    return VideoSettings(token_secret=SecretStr(secrets.token_urlsafe(32)), port=0,
                         recordings_dir=tmp_path / "recordings", maintenance_s=0.2)


@pytest.fixture
async def server(video_settings: VideoSettings, redis_server: str,
                 redis_prefix: str) -> AsyncIterator[Running]:
    """The video server on loopback, its Redis keys removed afterwards."""
    async with running(video_settings, redis_url=redis_server,
                       redis_prefix=redis_prefix) as started:
        yield started
    client = aioredis.Redis.from_url(redis_server)
    keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


def token(settings: VideoSettings, sub: str, role: Role, **scope: object) -> str:
    """A token for `sub`, valid for ten minutes."""
    assert settings.token_secret is not None
    return issue(settings.token_secret.get_secret_value().encode(), sub, role, 600,
                 **scope)  # type: ignore[arg-type]


def first_video(tracks: list[MediaStreamTrack]) -> MediaStreamTrack | None:
    """The first video track in `tracks`."""
    return next((t for t in tracks if t.kind == "video"), None)


async def video_track(call_tracks: list[MediaStreamTrack]) -> MediaStreamTrack:
    """The viewer's remote video track, once it exists."""
    found = await eventually(lambda: first_video(call_tracks), lambda t: t is not None)
    assert found is not None
    return found


async def read_numbers(track: MediaStreamTrack, count: int, timeout_s: float = 20) -> list[int]:
    """Decode `count` numbered frames from a viewer's track."""
    found: list[int] = []

    async def collect() -> None:
        while len(found) < count:
            frame = await track.recv()
            assert isinstance(frame, VideoFrame)
            number = frame_number(frame)
            if number is not None:
                found.append(number)

    await asyncio.wait_for(collect(), timeout_s)
    return found


async def test_a_published_stream_reaches_a_viewer(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings,
        redis_server: str, redis_prefix: str) -> None:
    unit = token(video_settings, "car-7", Role.UNIT, publish=("car-7",))
    leader = token(video_settings, "li.wei", Role.LEADER, may_watch=True)
    pattern = PatternTrack()
    publisher = await publish(http, server.base_url, "car-7", unit,
                              [pattern, AudioStreamTrack()], title="7号车", lat=37.07, lon=114.5)
    assert publisher.url.startswith(server.base_url + "/whip/car-7/")
    viewer = await watch(http, server.base_url, "car-7", leader)
    try:
        numbers = await read_numbers(await video_track(viewer.tracks), 30)
        assert numbers == sorted(numbers) and len(set(numbers)) == 30
        assert numbers[-1] <= max(pattern.sent)

        # The registry, in Redis for the dashboard.
        client = aioredis.Redis.from_url(redis_server)
        doc = await client.hget(redis_prefix + "video:streams", "car-7")
        await client.aclose()
        assert doc is not None
        info = msgspec.json.decode(doc, type=StreamInfo)
        assert (info.state, info.owner, info.title, info.kind) == (
            StreamState.LIVE, "car-7", "7号车", "field")
        assert (info.lat, info.lon) == (37.07, 114.5)
    finally:
        assert await viewer.hang_up(http, leader) == 200
        assert await publisher.hang_up(http, unit) == 200
    # Ended and unwatched: forgotten.
    await eventually(lambda: server.hub.registry.get("car-7"), lambda i: i is None)
    assert server.hub.relays == {} and server.hub.sessions == {}


async def test_two_viewers_share_one_encode(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A spy (it calls through): which aiortc VP8 encoders encode frames in this process.
    encoding: set[int] = set()
    real_encode = Vp8Encoder.encode

    def spy(self: Vp8Encoder, frame: Frame, force_keyframe: bool = False) -> Any:
        encoding.add(id(self))
        return real_encode(self, frame, force_keyframe)

    monkeypatch.setattr(Vp8Encoder, "encode", spy)
    unit = token(video_settings, "car-8", Role.UNIT, publish=("car-8",))
    leader = token(video_settings, "li.wei", Role.LEADER, may_watch=True)
    publisher = await publish(http, server.base_url, "car-8", unit, [PatternTrack()])
    viewers = [await watch(http, server.base_url, "car-8", leader, audio=False)
               for _ in range(2)]
    try:
        tracks = [await video_track(v.tracks) for v in viewers]
        results = await asyncio.gather(*(read_numbers(t, 45) for t in tracks))
        assert all(len(r) == 45 for r in results)
        stats = server.hub.relays["car-8"].stats()
        assert stats.viewers == 2
        assert stats.encoder_contexts == 1
        # One encode per source frame, not one per viewer per frame.
        assert stats.video_encodes <= stats.source_frames
        assert stats.video_encodes >= 45
        # aiortc encoded for the publisher only; the viewers' senders just packed packets.
        assert len(encoding) == 1
    finally:
        for v in viewers:
            await v.hang_up(http, leader)
        await publisher.hang_up(http, unit)


async def test_a_dropped_publisher_is_interrupted_and_viewers_resume(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    unit = token(video_settings, "car-9", Role.UNIT, publish=("car-9",))
    leader = token(video_settings, "li.wei", Role.LEADER, may_watch=True)
    first = await publish(http, server.base_url, "car-9", unit, [PatternTrack()])
    viewer = await watch(http, server.base_url, "car-9", leader, audio=False)
    track = await video_track(viewer.tracks)
    await read_numbers(track, 10)

    await first.pc.close()  # dropped: no DELETE
    info = await eventually(lambda: server.hub.registry.get("car-9"),
                            lambda i: i is not None and i.state is StreamState.INTERRUPTED)
    assert info is not None

    # Comes back as a new WHIP session on the same id, numbering its frames from 100000.
    second_pattern = PatternTrack(first_number=100_000)
    second = await publish(http, server.base_url, "car-9", unit, [second_pattern])
    try:
        assert server.hub.registry.get("car-9").state is StreamState.LIVE  # type: ignore[union-attr]
        resumed = await eventually(lambda: read_numbers(track, 5),
                                   lambda ns: ns[-1] >= 100_000,
                                   timeout_s=20)
        assert resumed == sorted(resumed)
        views = [s for s in server.hub.sessions.values() if s.kind is SessionKind.VIEW]
        assert len(views) == 1 and viewer.pc.connectionState == "connected"
    finally:
        await viewer.hang_up(http, leader)
        await second.hang_up(http, unit)


def tamper_fingerprint(answer: str) -> str:
    """The answer with one hex digit of every DTLS fingerprint changed."""
    lines = []
    for line in answer.split("\r\n"):
        if line.startswith("a=fingerprint:"):
            head, digest = line.rsplit(" ", 1)
            first = "0" if digest[0] != "0" else "1"
            line = f"{head} {first}{digest[1:]}"
        lines.append(line)
    tampered = "\r\n".join(lines)
    assert tampered != answer
    return tampered


async def test_a_tampered_dtls_fingerprint_fails_the_connection(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    unit = token(video_settings, "car-5", Role.UNIT, publish=("car-5",))
    call = await publish(http, server.base_url, "car-5", unit, [PatternTrack()],
                         edit_answer=tamper_fingerprint)
    states = [call.pc.connectionState]
    call.pc.on("connectionstatechange", lambda: states.append(call.pc.connectionState))
    try:
        await eventually(lambda: call.pc.connectionState, lambda s: s == "failed",
                         timeout_s=30)
        assert "connected" not in states
        relay = server.hub.relays.get("car-5")
        assert relay is None or relay.stats().source_frames == 0
    finally:
        await call.pc.close()


async def test_connect_disconnect_cycles_leak_no_tasks_or_fds(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    import psutil  # noqa: PLC0415 - only this test needs it

    unit = token(video_settings, "car-6", Role.UNIT, publish=("car-6",))
    leader = token(video_settings, "li.wei", Role.LEADER, may_watch=True)
    publisher = await publish(http, server.base_url, "car-6", unit,
                              [PatternTrack(), AudioStreamTrack()])
    process = psutil.Process()

    async def cycle() -> None:
        viewer = await watch(http, server.base_url, "car-6", leader)
        # A viewer that saw a picture, then left.
        frame = await asyncio.wait_for((await video_track(viewer.tracks)).recv(), 15)
        assert isinstance(frame, VideoFrame)
        assert await viewer.hang_up(http, leader) == 200

    async def settled() -> tuple[int, int]:
        await eventually(lambda: len(server.hub.sessions), lambda n: n == 1)
        await asyncio.sleep(0.5)  # let aiortc's closing tasks finish
        return len(asyncio.all_tasks()), process.num_fds()

    try:
        for _ in range(5):
            await cycle()
        tasks_before, fds_before = await settled()
        for _ in range(100):
            await cycle()
        tasks_after, fds_after = await settled()
        print(f"\ntasks {tasks_before} -> {tasks_after}, fds {fds_before} -> {fds_after}")
        assert tasks_after <= tasks_before
        assert fds_after <= fds_before + 2
        assert server.hub.relays["car-6"].stats().viewers == 0
    finally:
        await publisher.hang_up(http, unit)


async def test_shutdown_closes_every_peer_task_and_camera(
        video_settings: VideoSettings, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    from video.cameras import CameraSpec, add_camera  # noqa: PLC0415

    unit = token(video_settings, "car-4", Role.UNIT, publish=("car-4",))
    leader = token(video_settings, "li.wei", Role.LEADER, may_watch=True, rooms=("*",))
    clips = video_settings.model_copy(update={"camera_files": tmp_path})
    async with running(clips, redis_url=None, redis_prefix="x:") as started:
        hub = started.hub
        publisher = await publish(http, started.base_url, "car-4", unit, [PatternTrack()])
        viewer = await watch(http, started.base_url, "car-4", leader)
        await read_numbers(await video_track(viewer.tracks), 3)
        hub.create_room("inc-1", "会商", "li.wei")
        await add_camera(hub, CameraSpec(id="cam-x", url=str(tmp_path / "missing.mkv")))
        server_tasks = {t for t in asyncio.all_tasks() if t.get_name().startswith(
            ("relay-", "camera-", "video-maintenance"))}
        assert len(server_tasks) >= 3
    assert hub.closed and hub.sessions == {} and hub.relays == {} and hub.cameras == {}
    assert all(t.done() for t in server_tasks)
    # The clients see the server's goodbye.
    await eventually(lambda: (publisher.pc.connectionState, viewer.pc.connectionState),
                     lambda states: states == ("closed", "closed"))
