"""Every video endpoint checks the bearer token (401) and the holder's role and scope (403)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiortc.mediastreams import VideoStreamTrack
from pydantic import SecretStr

from config.video import VideoSettings
from incidents.video_tokens import Role, issue
from video.client import publish
from video.server import Running, running

pytestmark = pytest.mark.integration

ENDPOINTS = [
    ("POST", "/whip/car-1"), ("DELETE", "/whip/car-1/s"), ("PATCH", "/whip/car-1/s"),
    ("POST", "/whep/car-1"), ("DELETE", "/whep/car-1/s"), ("PATCH", "/whep/car-1/s"),
    ("POST", "/rooms/{room}/join"), ("DELETE", "/rooms/{room}/join/s"),
    ("GET", "/api/config"), ("GET", "/api/streams"), ("GET", "/api/streams/near?lat=1&lon=1"),
    ("POST", "/api/rooms"), ("GET", "/api/rooms/{room}"), ("GET", "/api/rooms/{room}/log"),
    ("POST", "/api/rooms/{room}/recording"), ("POST", "/api/cameras"),
    ("DELETE", "/api/cameras/cam-1"),
]
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
def video_settings(tmp_path: Path) -> VideoSettings:
    """Settings with a fresh secret and a free port."""
    return VideoSettings(token_secret=SecretStr(secrets.token_urlsafe(32)), port=0,
                         recordings_dir=tmp_path / "recordings")


@pytest.fixture
async def server(video_settings: VideoSettings) -> AsyncIterator[Running]:
    """The video server without Redis (the registry works in memory alone)."""
    async with running(video_settings, redis_url=None, redis_prefix="unused:") as started:
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


async def status(http: aiohttp.ClientSession, method: str, url: str, token: str | None,
                 body: bytes = b"v=0\r\n", headers: dict[str, str] | None = None) -> int:
    """The status of one request."""
    sent = dict(headers or SDP)
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with http.request(method, url, data=body, headers=sent) as response:
        await response.read()
        return response.status


async def test_requests_without_a_valid_token_are_401(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    room = server.hub.create_room("inc-1", "会商", "li.wei").id
    key = secret(video_settings)
    admin = issue(key, "root", Role.ADMIN, 600, publish=("*",), may_watch=True, rooms=("*",))
    body, signature = admin.split(".")
    bad_tokens = {
        "none": None,
        "expired": issue(key, "root", Role.ADMIN, 600, may_watch=True, rooms=("*",),
                         now=time.time() - 3600),
        "tampered": body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature,
        "other secret": issue(b"another-secret-of-at-least-32-chars!", "root", Role.ADMIN, 600),
        "garbage": "not-a-token",
    }
    for method, path in ENDPOINTS:
        url = server.base_url + path.format(room=room)
        for name, token in bad_tokens.items():
            got = await status(http, method, url, token)
            assert got == 401, f"{method} {path} with {name} token: {got}"
    async with http.get(server.base_url + "/api/streams") as response:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"] == "no_token"


async def test_roles_and_scopes_are_enforced_with_403(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    key = secret(video_settings)
    room = server.hub.create_room("inc-1", "会商", "li.wei").id
    other_room = server.hub.create_room("inc-2", "会商", "li.wei").id
    unit = issue(key, "car-1", Role.UNIT, 600, publish=("car-1",), may_watch=True,
                 rooms=("*",))
    liaison = issue(key, "water", Role.LIAISON, 600, may_watch=True, rooms=(room,))
    leader = issue(key, "li.wei", Role.LEADER, 600, may_watch=True, rooms=(room,))
    base = server.base_url
    refused = [
        (unit, "POST", "/whip/car-2"),  # another unit's stream
        (unit, "POST", "/whep/car-1"),  # units never watch, whatever may_watch says
        (unit, "GET", "/api/streams"),
        (unit, "GET", "/api/streams/near?lat=37&lon=114"),
        (unit, "POST", "/api/rooms"),
        (unit, "POST", f"/rooms/{room}/join"),  # a wildcard room grant is for staff only
        (liaison, "POST", "/api/rooms"),
        (liaison, "POST", "/whip/car-1"),
        (liaison, "POST", f"/api/rooms/{room}/recording"),
        (leader, "POST", f"/rooms/{other_room}/join"),
        (leader, "GET", f"/api/rooms/{other_room}"),
        (leader, "GET", f"/api/rooms/{other_room}/log"),
        (leader, "POST", "/api/cameras"),
        (leader, "DELETE", "/api/cameras/cam-1"),
    ]
    for token, method, path in refused:
        got = await status(http, method, base + path, token)
        assert got == 403, f"{method} {path}: {got}"

    # A session belongs to whoever opened it.
    call = await publish(http, base, "car-1", unit, [VideoStreamTrack()])
    other_unit = issue(key, "car-2", Role.UNIT, 600, publish=("car-2",))
    try:
        assert await status(http, "DELETE", call.url, other_unit) == 403
        assert await status(http, "PATCH", call.url, unit) == 405
    finally:
        assert await call.hang_up(http, unit) == 200
    assert await status(http, "DELETE", call.url, unit) == 404


async def test_bad_offers_are_refused_with_a_reason(
        server: Running, http: aiohttp.ClientSession, video_settings: VideoSettings) -> None:
    unit = issue(secret(video_settings), "car-1", Role.UNIT, 600, publish=("car-1",))
    url = server.base_url + "/whip/car-1"
    headers = {"Authorization": f"Bearer {unit}"}
    cases = [
        (b"v=0\r\n", {"Content-Type": "text/plain"}, 415, "content_type"),
        (b"hello", SDP, 400, "not_sdp"),
        (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", SDP, 400, "no_media"),
        (b"\xff\xfe", SDP, 400, "not_text"),
    ]
    for body, extra, code, reason in cases:
        async with http.post(url, data=body, headers={**headers, **extra}) as response:
            assert response.status == code
            doc = await response.json()
            assert doc["error"] == reason and doc["message"]
    async with http.post(server.base_url + "/whip/bad id!", data=b"",
                         headers={**headers, **SDP}) as response:
        assert response.status in (400, 403, 404)
    assert server.hub.sessions == {}
