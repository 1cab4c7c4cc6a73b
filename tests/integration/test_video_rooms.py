"""Conference rooms: three participants exchange chat and annotations; recordings are playable."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiortc import RTCDataChannel
from aiortc.mediastreams import AudioStreamTrack
from av.video.frame import VideoFrame
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from tests.support.waiting import eventually
from video.client import Call, join, watch
from video.pattern import PatternTrack, frame_number
from video.server import Running, running

pytestmark = pytest.mark.integration


@dataclass
class Recorded:
    """on_recording calls seen by the test."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, **fields: Any) -> None:
        """The callback the video server awaits when a recording ends."""
        self.calls.append(fields)


@pytest.fixture
def video_settings(tmp_path: Path) -> VideoSettings:
    """Settings with a fresh secret, a free port and recordings under tmp_path."""
    return VideoSettings(token_secret=SecretStr(secrets.token_urlsafe(32)), port=0,
                         recordings_dir=tmp_path / "recordings", max_file_bytes=64 * 1024)


@pytest.fixture
def recorded() -> Recorded:
    """Collects on_recording calls."""
    return Recorded()


@pytest.fixture
async def server(video_settings: VideoSettings, recorded: Recorded) -> AsyncIterator[Running]:
    """The video server (no Redis needed for rooms)."""
    async with running(video_settings, redis_url=None, redis_prefix="unused:",
                       on_recording=recorded) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


def secret(settings: VideoSettings) -> bytes:
    """The token secret."""
    assert settings.token_secret is not None
    return settings.token_secret.get_secret_value().encode()


@dataclass
class Member:
    """A test participant: connection, data channel, and what arrived on it."""

    name: str
    token: str
    call: Call
    channel: RTCDataChannel
    inbox: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Received messages of one type."""
        return [m for m in self.inbox if m["type"] == kind]


async def open_room(http: aiohttp.ClientSession, server: Running, token: str) -> str:
    """POST /api/rooms; the new room's id."""
    async with http.post(server.base_url + "/api/rooms",
                         json={"incident_id": "inc-42", "title": "七里河汛情会商"},
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 201
        doc = await response.json()
        assert response.headers["Location"] == f"/room/{doc['id']}"
        room_id: str = doc["id"]
        return room_id


async def enter(http: aiohttp.ClientSession, server: Running, room_id: str, name: str,
                token: str) -> Member:
    """Join with a numbered pattern and silence; wait for the welcome."""
    call, channel = await join(http, server.base_url, room_id, token,
                               [PatternTrack(), AudioStreamTrack()])
    member = Member(name, token, call, channel)
    channel.on("message", lambda text: member.inbox.append(json.loads(text)))
    await eventually(lambda: member.of_type("welcome"), bool, timeout_s=15)
    return member


async def test_three_participants_exchange_chat_and_annotations(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    key = secret(video_settings)
    leader = issue(key, "li.wei", Role.LEADER, 600, rooms=("*",))
    room_id = await open_room(http, server, leader)
    tokens = {"li.wei": leader,
              "zhang.fire": issue(key, "zhang.fire", Role.OPERATOR, 600, rooms=(room_id,)),
              "water-bureau": issue(key, "water-bureau", Role.LIAISON, 600, rooms=(room_id,))}
    members = [await enter(http, server, room_id, n, t) for n, t in tokens.items()]
    try:
        for member in members:
            await eventually(lambda m=member: m.of_type("participants"),  # type: ignore[misc]
                             lambda found: bool(found) and len(found[-1]["participants"]) == 3)
        for i, member in enumerate(members):
            member.channel.send(json.dumps({"type": "chat", "text": f"{member.name}: 水位上涨"}))
            member.channel.send(json.dumps({
                "type": "annotation", "color": "#1e88e5", "label": f"堤段{i}",
                "geometry": {"type": "LineString", "coordinates": [[0.1, 0.2], [0.3, 0.4 + i]]}}))
        for member in members:
            await eventually(lambda m=member: m.of_type("chat"),  # type: ignore[misc]
                             lambda chats: len(chats) == 2)
            await eventually(lambda m=member: m.of_type("annotation"),  # type: ignore[misc]
                             lambda notes: len(notes) == 2)
            others = {m.name for m in members} - {member.name}
            assert {c["name"] for c in member.of_type("chat")} == others
            assert {c["text"] for c in member.of_type("chat")} == {f"{n}: 水位上涨" for n in others}
            shapes = member.of_type("annotation")
            assert {s["feature"]["properties"]["author"] for s in shapes} == others
            assert all(s["feature"]["geometry"]["type"] == "LineString" for s in shapes)

        # The server kept the log; a bad message is refused to its sender only.
        members[0].channel.send(json.dumps({"type": "chat", "text": ""}))
        await eventually(lambda: members[0].of_type("error"), bool)
        async with http.get(f"{server.base_url}/api/rooms/{room_id}/log",
                            headers={"Authorization": f"Bearer {leader}"}) as response:
            log = (await response.json())["log"]
        assert [e["type"] for e in log].count("chat") == 3
        assert [e["type"] for e in log].count("annotation") == 3

        # The SFU side: one participant watches another's stream with its room token.
        stream = members[1].of_type("welcome")[0]["stream"]
        viewer = await watch(http, server.base_url, stream, tokens["water-bureau"])
        try:
            track = await eventually(lambda: next(iter(viewer.tracks), None), bool)
            assert track is not None
            frame = await asyncio.wait_for(track.recv(), 15)
            assert isinstance(frame, VideoFrame)
        finally:
            await viewer.hang_up(http, tokens["water-bureau"])
    finally:
        for member in members:
            assert await member.call.hang_up(http, member.token) == 200
    assert server.hub.rooms[room_id].participants == {}
    assert server.hub.sessions == {} and server.hub.relays == {}


async def test_a_file_is_relayed_in_chunks_within_the_limit(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    key = secret(video_settings)
    leader = issue(key, "li.wei", Role.LEADER, 600, rooms=("*",))
    room_id = await open_room(http, server, leader)
    other = issue(key, "zhang.fire", Role.OPERATOR, 600, rooms=(room_id,))
    sender = await enter(http, server, room_id, "li.wei", leader)
    receiver = await enter(http, server, room_id, "zhang.fire", other)
    try:
        import base64  # noqa: PLC0415

        payload = bytes(range(256)) * 40  # 10 KiB
        sender.channel.send(json.dumps({"type": "file", "id": "f1", "name": "现场图.png",
                                        "size": len(payload), "mime": "image/png"}))
        for seq, start in enumerate(range(0, len(payload), 4096)):
            chunk = base64.b64encode(payload[start:start + 4096]).decode()
            sender.channel.send(json.dumps({"type": "file-chunk", "id": "f1", "seq": seq,
                                            "data": chunk}))
        sender.channel.send(json.dumps({"type": "file-end", "id": "f1"}))
        await eventually(lambda: receiver.of_type("file-end"), bool)
        got = b"".join(base64.b64decode(c["data"]) for c in receiver.of_type("file-chunk"))
        assert got == payload
        assert receiver.of_type("file")[0]["file"] == "现场图.png"

        # Over the limit: refused before a byte is relayed.
        sender.channel.send(json.dumps({"type": "file", "id": "f2", "name": "big.bin",
                                        "size": 10 * 1024 * 1024}))
        await eventually(lambda: sender.of_type("error"), bool)
        assert "larger" in sender.of_type("error")[0]["reason"]
        assert len(receiver.of_type("file")) == 1
    finally:
        await sender.call.hang_up(http, leader)
        await receiver.call.hang_up(http, other)


async def test_a_recording_is_written_and_reported(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings,
        recorded: Recorded) -> None:
    key = secret(video_settings)
    leader = issue(key, "li.wei", Role.LEADER, 600, rooms=("*",))
    room_id = await open_room(http, server, leader)
    other = issue(key, "zhang.fire", Role.OPERATOR, 600, rooms=(room_id,))
    members = [await enter(http, server, room_id, "li.wei", leader),
               await enter(http, server, room_id, "zhang.fire", other)]
    url = f"{server.base_url}/api/rooms/{room_id}/recording"
    auth = {"Authorization": f"Bearer {leader}"}
    try:
        async with http.post(url, json={"action": "start"}, headers=auth) as response:
            assert response.status == 200 and (await response.json())["recording"] is True
        await eventually(lambda: members[1].of_type("recording"), bool)
        recording = server.hub.recording(room_id)
        assert recording is not None
        # About two seconds of video (slower on a busy machine: wait for it, do not sleep).
        await eventually(recording.least_video_packets, lambda n: n >= 60, timeout_s=60)
        async with http.post(url, json={"action": "stop"}, headers=auth) as response:
            files = (await response.json())["files"]
    finally:
        for member in members:
            await member.call.hang_up(http, member.token)
    assert len(files) == 2 and len(recorded.calls) == 2
    for call in recorded.calls:
        assert call["incident_id"] == "inc-42" and call["room_id"] == room_id
        assert isinstance(call["started_at"], datetime)
        assert call["ended_at"] > call["started_at"]
        path = Path(call["path"])
        assert path.is_relative_to(video_settings.recordings_dir)
        with av.open(str(path)) as container:
            assert {s.type for s in container.streams} == {"video", "audio"}
            frames = [f for f in container.decode(video=0)]
        assert len(frames) >= 60
        numbers = [frame_number(f) for f in frames]
        readable = [n for n in numbers if n is not None]
        assert len(readable) >= 0.9 * len(frames) and readable == sorted(readable)
