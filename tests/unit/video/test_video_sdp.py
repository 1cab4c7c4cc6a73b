"""Offer validation at the edge: clear reasons for what aiortc should never see."""

from __future__ import annotations

import pytest

from video.sdp import Purpose, SdpError, SdpProblem, media_kinds, parse_offer, valid_id

SESSION = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
           "a=fingerprint:sha-256 AB:CD\r\n")
ICE = "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef0123456789\r\n"


def offer(*sections: str, session: str = SESSION) -> bytes:
    """An SDP with the given media sections."""
    return (session + "".join(sections)).encode()


def video(direction: str = "sendonly", ice: str = ICE) -> str:
    """A video section."""
    return f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n{ice}a={direction}\r\n"


def test_a_good_offer_passes_with_crlf_line_ends() -> None:
    text = parse_offer(offer(video()).replace(b"\r\n", b"\n"), "application/sdp",
                       Purpose.PUBLISH)
    assert text.startswith("v=0\r\n") and "\r\nm=video 9" in text
    assert media_kinds(text) == ["video"]


@pytest.mark.parametrize(("body", "content_type", "problem"), [
    (offer(video()), "text/plain", SdpProblem.CONTENT_TYPE),
    (offer(video()), None, SdpProblem.CONTENT_TYPE),
    (b"v=0\r\n" + b"a" * 70_000, "application/sdp", SdpProblem.TOO_LARGE),
    (b"\xff\xfe\x00", "application/sdp", SdpProblem.NOT_TEXT),
    (b"hello", "application/sdp", SdpProblem.NOT_SDP),
    (offer(), "application/sdp", SdpProblem.NO_MEDIA),
    (offer("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" + ICE), "application/sdp",
     SdpProblem.NO_MEDIA),
    (offer(video(ice="")), "application/sdp", SdpProblem.NO_ICE),
    (offer(video(), session=SESSION.replace("a=fingerprint:sha-256 AB:CD\r\n", "")),
     "application/sdp", SdpProblem.NO_FINGERPRINT),
    (offer(video("recvonly")), "application/sdp", SdpProblem.WRONG_DIRECTION),
])
def test_bad_offers_are_refused_with_a_reason(body: bytes, content_type: str | None,
                                              problem: SdpProblem) -> None:
    with pytest.raises(SdpError) as caught:
        parse_offer(body, content_type, Purpose.PUBLISH)
    assert caught.value.problem is problem
    assert str(caught.value)


def test_a_viewer_must_offer_to_receive() -> None:
    assert parse_offer(offer(video("recvonly")), "application/sdp; charset=utf-8",
                       Purpose.VIEW)
    with pytest.raises(SdpError) as caught:
        parse_offer(offer(video("sendonly")), "application/sdp", Purpose.VIEW)
    assert caught.value.problem is SdpProblem.WRONG_DIRECTION


@pytest.mark.parametrize(("value", "ok"), [
    ("car-7", True), ("room.AbC_9", True), ("a" * 64, True), ("a" * 65, False),
    ("", False), ("-x", False), ("a/b", False), ("a b", False), ("车-7", False),
])
def test_stream_ids(value: str, ok: bool) -> None:
    assert valid_id(value) is ok
