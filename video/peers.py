"""Peer connections: configuration from settings, answering an offer, and the session record."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from config.video import IceServer
from video.relay import Subscription
from video.sdp import SdpError, SdpProblem

# What aiortc raises on an offer it cannot use (its parser is not strict about types).
_REJECTED = (ValueError, IndexError, KeyError, InvalidAccessError, InvalidStateError,
             OperationError)


class SessionKind(StrEnum):
    """What a peer connection is for."""

    PUBLISH = "publish"
    VIEW = "view"
    JOIN = "join"


@dataclass(eq=False, slots=True)
class Session:
    """One peer connection of the server, addressed by its Location URL."""

    id: str
    """Random, unguessable: it is the last segment of the Location URL."""
    kind: SessionKind
    """publish, view or join."""
    stream_id: str
    """The stream published or watched."""
    owner: str
    """The token subject that created it (only it, or an admin, may DELETE it)."""
    pc: RTCPeerConnection
    """The connection; closed when the session ends."""
    room_id: str | None = None
    """The conference room, for join sessions."""
    subscriptions: list[Subscription] = field(default_factory=list)
    """What a viewer consumes (closed with the session)."""
    ending: bool = False
    """Set once the session is being closed, so it is closed once."""


def new_session_id() -> str:
    """An unguessable session id."""
    return secrets.token_urlsafe(12)


def rtc_configuration(servers: Sequence[IceServer]) -> RTCConfiguration:
    """aiortc configuration. An empty list is passed on purpose: with None, aiortc falls back
    to a public Google STUN server, which a private network cannot (and must not) reach."""
    return RTCConfiguration(iceServers=[
        RTCIceServer(urls=list(s.urls), username=s.username,
                     credential=s.credential.get_secret_value() if s.credential else None)
        for s in servers
    ])


def browser_ice_servers(servers: Sequence[IceServer]) -> list[dict[str, object]]:
    """The same servers as a browser's RTCConfiguration.iceServers."""
    found: list[dict[str, object]] = []
    for s in servers:
        entry: dict[str, object] = {"urls": list(s.urls)}
        if s.username is not None:
            entry["username"] = s.username
        if s.credential is not None:
            entry["credential"] = s.credential.get_secret_value()
        found.append(entry)
    return found


def prefer_codec(pc: RTCPeerConnection, kind: str, mime_type: str) -> None:
    """Restrict every `kind` transceiver to `mime_type` (plus its RTX), as the relay's packets
    are VP8 and Opus only."""
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    chosen: list[RTCRtpCodecCapability] = [
        c for c in capabilities if c.mimeType.lower() in (mime_type.lower(), f"{kind}/rtx")]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == kind:
            transceiver.setCodecPreferences(chosen)


async def answer_offer(pc: RTCPeerConnection, offer: str) -> str:
    """Apply the offer and return the complete answer (ICE candidates gathered: no trickle)."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
    except _REJECTED as exc:
        raise SdpError(SdpProblem.REJECTED, f"the offer cannot be used: {exc}") from exc
    description = pc.localDescription
    assert description is not None
    sdp: str = description.sdp
    return sdp
