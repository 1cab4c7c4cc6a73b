"""A WHIP/WHEP client on aiortc: field gateways, link checks, tests and the benchmark use it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import aiohttp
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from video.sdp import SDP_CONTENT_TYPE


class SignalingError(RuntimeError):
    """The server refused the offer; `status` and `body` say why."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        """HTTP status."""
        self.body = body
        """Response body (JSON error or text)."""


@dataclass(eq=False)
class Call:
    """One client peer connection and its server-side session URL."""

    pc: RTCPeerConnection
    url: str
    """Absolute Location of the session (DELETE ends it)."""
    headers: dict[str, str]
    """Response headers of the POST."""
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    """Remote tracks (for viewers), in the order they arrived."""
    track_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def hang_up(self, http: aiohttp.ClientSession, token: str) -> int:
        """DELETE the session and close the connection; return the DELETE status."""
        try:
            async with http.delete(self.url, headers=_auth(token)) as response:
                return response.status
        finally:
            await self.pc.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def no_ice_servers() -> RTCConfiguration:
    """Host candidates only (aiortc would otherwise ask a public STUN server)."""
    return RTCConfiguration(iceServers=[])


async def negotiate(http: aiohttp.ClientSession, url: str, token: str, pc: RTCPeerConnection,
                    edit_answer: Callable[[str], str] | None = None
                    ) -> tuple[str, dict[str, str]]:
    """POST the complete offer of `pc` to `url`; apply the answer; return (Location, headers)."""
    await pc.setLocalDescription(await pc.createOffer())
    local = pc.localDescription
    assert local is not None
    async with http.post(url, data=local.sdp.encode(),
                         headers={**_auth(token), "Content-Type": SDP_CONTENT_TYPE}) as response:
        body = await response.text()
        if response.status != 201:
            raise SignalingError(response.status, body)
        location = urljoin(url, response.headers["Location"])
        headers = dict(response.headers)
    answer = edit_answer(body) if edit_answer else body
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return location, headers


async def publish(http: aiohttp.ClientSession, base_url: str, stream_id: str, token: str,
                  tracks: Sequence[MediaStreamTrack], *, title: str = "",
                  lat: float | None = None, lon: float | None = None,
                  configuration: RTCConfiguration | None = None,
                  edit_answer: Callable[[str], str] | None = None, path: str = "/whip/"
                  ) -> Call:
    """Publish `tracks` as `stream_id` (WHIP)."""
    pc = RTCPeerConnection(configuration or no_ice_servers())
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    query = {k: str(v) for k, v in (("title", title), ("lat", lat), ("lon", lon))
             if v is not None and v != ""}
    url = urljoin(base_url, path + stream_id) + ("?" + urlencode(query) if query else "")
    try:
        location, headers = await negotiate(http, url, token, pc, edit_answer)
    except BaseException:
        await pc.close()
        raise
    return Call(pc, location, headers)


async def watch(http: aiohttp.ClientSession, base_url: str, stream_id: str, token: str, *,
                audio: bool = True, configuration: RTCConfiguration | None = None) -> Call:
    """Watch `stream_id` (WHEP); the tracks appear in `Call.tracks` once media flows."""
    pc = RTCPeerConnection(configuration or no_ice_servers())
    pc.addTransceiver("video", direction="recvonly")
    if audio:
        pc.addTransceiver("audio", direction="recvonly")
    call = Call(pc, "", {})

    def on_track(track: MediaStreamTrack) -> None:
        call.tracks.append(track)
        call.track_arrived.set()

    pc.on("track", on_track)
    try:
        call.url, call.headers = await negotiate(http, urljoin(base_url, "/whep/" + stream_id),
                                                 token, pc)
    except BaseException:
        await pc.close()
        raise
    return call


async def join(http: aiohttp.ClientSession, base_url: str, room_id: str, token: str,
               tracks: Sequence[MediaStreamTrack],
               configuration: RTCConfiguration | None = None) -> tuple[Call, RTCDataChannel]:
    """Join a conference with `tracks` and one data channel ("room"); return (call, channel)."""
    pc = RTCPeerConnection(configuration or no_ice_servers())
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    channel = pc.createDataChannel("room")
    try:
        location, headers = await negotiate(
            http, urljoin(base_url, f"/rooms/{room_id}/join"), token, pc)
    except BaseException:
        await pc.close()
        raise
    return Call(pc, location, headers), channel
