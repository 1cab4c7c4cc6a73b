"""Checks on an SDP offer at the edge, before aiortc sees it; pure, with clear reasons."""

from __future__ import annotations

import re
from enum import StrEnum

MAX_SDP_BYTES = 64 * 1024
"""Browser offers are a few kilobytes; anything far larger is not an offer."""
SDP_CONTENT_TYPE = "application/sdp"
STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
"""Stream, room and camera ids: safe in URLs, Redis fields and file names."""

_MEDIA = re.compile(r"^m=(\w+) ", re.MULTILINE)
_DIRECTION = re.compile(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", re.MULTILINE)


class Purpose(StrEnum):
    """What the offer is for, which fixes the directions it must carry."""

    PUBLISH = "publish"
    """WHIP or a conference join: the client sends media."""
    VIEW = "view"
    """WHEP: the client receives media."""


class SdpProblem(StrEnum):
    """Reason codes of a refused offer."""

    CONTENT_TYPE = "content_type"
    TOO_LARGE = "too_large"
    NOT_TEXT = "not_text"
    NOT_SDP = "not_sdp"
    NO_MEDIA = "no_media"
    NO_ICE = "no_ice_credentials"
    NO_FINGERPRINT = "no_dtls_fingerprint"
    WRONG_DIRECTION = "wrong_direction"
    REJECTED = "rejected_by_webrtc"


class SdpError(ValueError):
    """An offer we will not answer; `problem` is the reason code, the message says what to fix."""

    def __init__(self, problem: SdpProblem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        """The reason code."""


def valid_id(value: str) -> bool:
    """Whether `value` is an acceptable stream, room or camera id."""
    return STREAM_ID.fullmatch(value) is not None


def _sections(text: str) -> list[str]:
    """The media sections of an SDP, each from its `m=` line to the next."""
    starts = [m.start() for m in _MEDIA.finditer(text)]
    ends = starts[1:] + [len(text)]
    return [text[a:b] for a, b in zip(starts, ends, strict=False)]


def parse_offer(body: bytes, content_type: str | None, purpose: Purpose) -> str:
    """The offer as text, or SdpError saying why it cannot be answered."""
    if (content_type or "").split(";")[0].strip().lower() != SDP_CONTENT_TYPE:
        raise SdpError(SdpProblem.CONTENT_TYPE,
                       f"Content-Type must be {SDP_CONTENT_TYPE}, not {content_type!r}")
    if len(body) > MAX_SDP_BYTES:
        raise SdpError(SdpProblem.TOO_LARGE, f"the offer exceeds {MAX_SDP_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError(SdpProblem.NOT_TEXT, "the offer is not UTF-8 text") from exc
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not text.startswith("v=0\r\n"):
        raise SdpError(SdpProblem.NOT_SDP, "an SDP offer starts with the line v=0")
    sections = _sections(text)
    media = [s for s in sections if s.startswith(("m=audio ", "m=video "))]
    if not media:
        raise SdpError(SdpProblem.NO_MEDIA, "the offer has no audio or video section")
    session = text[: text.find("\r\nm=") + 2]
    for section in sections:
        scope = session + section
        if "a=ice-ufrag:" not in scope or "a=ice-pwd:" not in scope:
            raise SdpError(SdpProblem.NO_ICE, "every media section needs a=ice-ufrag and a=ice-pwd")
        if "a=fingerprint:" not in scope:
            raise SdpError(SdpProblem.NO_FINGERPRINT,
                           "every media section needs a=fingerprint (DTLS-SRTP)")
    directions = [_direction(session, s) for s in media]
    wanted = {"sendonly", "sendrecv"} if purpose is Purpose.PUBLISH else {"recvonly", "sendrecv"}
    if not wanted.intersection(directions):
        verb = "send" if purpose is Purpose.PUBLISH else "receive"
        raise SdpError(SdpProblem.WRONG_DIRECTION,
                       f"this endpoint expects an offer to {verb} media; got {directions}")
    return text


def media_kinds(offer: str) -> list[str]:
    """The kinds of the offer's media sections, in order (audio, video, application)."""
    return _MEDIA.findall(offer)


def _direction(session: str, section: str) -> str:
    found = _DIRECTION.search(section) or _DIRECTION.search(session)
    return found.group(1) if found else "sendrecv"
