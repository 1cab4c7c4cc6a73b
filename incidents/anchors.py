"""Anchors: the journal's head, signed with the journal key and kept outside the database.

Whoever can write to the database can restore an older copy of it, or wipe it: every MAC in an
older copy is genuine, so the chain alone cannot tell. An anchor taken every few minutes and
kept elsewhere (a file on the backup site, a retained MQTT message) can: `sitroom journal
verify` fails when the journal ends before the last anchor's row, or holds a different row there.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import msgspec


class Anchor(msgspec.Struct, frozen=True, kw_only=True):
    """The journal head at one moment, signed."""

    start: int
    """Where the chain starts."""
    seq: int
    """The last row's seq."""
    mac: str
    """The last row's MAC, hex."""
    at: datetime
    """When it was taken (UTC)."""
    sig: str
    """HMAC-SHA256 of the fields above with the journal key, hex."""

    @property
    def point(self) -> tuple[int, bytes]:
        """(seq, MAC) the journal must still hold."""
        return self.seq, bytes.fromhex(self.mac)


def _body(start: int, seq: int, mac: str, at: datetime) -> bytes:
    return b"anchor1:%d:%d:%s:%s" % (start, seq, mac.encode(),
                                      at.astimezone(UTC).isoformat().encode())


def take(key: bytes, start: int, seq: int, mac: bytes, at: datetime) -> Anchor:
    """The signed anchor of a head."""
    text = mac.hex()
    sig = hmac.new(key, _body(start, seq, text, at), hashlib.sha256).hexdigest()
    return Anchor(start=start, seq=seq, mac=text, at=at.astimezone(UTC), sig=sig)


def genuine(key: bytes, anchor: Anchor) -> bool:
    """Whether the anchor was signed with this key and not changed since."""
    expected = hmac.new(key, _body(anchor.start, anchor.seq, anchor.mac, anchor.at),
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, anchor.sig)


def encode(anchor: Anchor) -> bytes:
    """One line of JSON."""
    return msgspec.json.encode(anchor)


def decode(line: bytes) -> Anchor | None:
    """The anchor on a line, or None when the line is not one."""
    try:
        return msgspec.json.decode(line, type=Anchor)
    except msgspec.DecodeError:  # a torn last line after a crash, or not an anchor at all
        return None
