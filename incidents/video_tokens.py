"""Short signed bearer tokens: HMAC-SHA256 over compact JSON claims, and what each role may do.

A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))`. The
dashboard mints tokens for its logged-in users with the same secret; field units and cameras
get tokens that name the only stream ids they may publish.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from enum import StrEnum

import msgspec

# Callers import the roles from here too; staff may watch and join rooms when the token says so.
from incidents.roles import STAFF as STAFF
from incidents.roles import Role as Role

MAX_TOKEN_CHARS = 4096
"""Longer tokens are refused before any work is done on them."""
ANY = "*"
"""In `publish` or `rooms`: every stream or room (honoured for staff roles only)."""


ROOM_MANAGERS = frozenset({Role.LEADER, Role.OPERATOR, Role.ADMIN})
"""Roles that may open conference rooms and record them."""
SOURCES = frozenset({Role.UNIT, Role.CAMERA})
"""Roles that only publish their own streams."""


class Claims(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a token grants, until `exp`."""

    sub: str
    """The holder: a user name, unit id or camera id."""
    role: Role
    """The holder's role; checked on the server for every request."""
    exp: int
    """Expiry, Unix seconds."""
    publish: tuple[str, ...] = ()
    """Stream ids the holder may publish (a unit: only its own)."""
    may_watch: bool = False
    """Whether the holder may watch field and camera streams (never for units and cameras)."""
    rooms: tuple[str, ...] = ()
    """Conference room ids the holder may join; `*` for every room (staff only)."""


class TokenProblem(StrEnum):
    """Why a token was refused."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    BAD_CLAIMS = "bad_claims"
    EXPIRED = "expired"


class TokenError(Exception):
    """A token that cannot be trusted; `problem` says why."""

    def __init__(self, problem: TokenProblem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        """The reason code."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Claims)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()


def mint(secret: bytes, claims: Claims) -> str:
    """Sign `claims` with `secret`."""
    body = _b64encode(_encoder.encode(claims))
    return body + "." + _b64encode(_mac(secret, body))


def verify(secret: bytes, token: str, now: float | None = None) -> Claims:
    """The claims of a genuine, unexpired token, or TokenError saying what is wrong."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenError(TokenProblem.MALFORMED, "expected two base64url parts joined by '.'")
    body, signature = token.split(".")
    try:
        given = _b64decode(signature)
        raw = _b64decode(body)
    except (binascii.Error, ValueError) as exc:
        raise TokenError(TokenProblem.MALFORMED, "not base64url") from exc
    # Check the signature before parsing anything the holder wrote.
    if not hmac.compare_digest(given, _mac(secret, body)):
        raise TokenError(TokenProblem.BAD_SIGNATURE, "signature does not match")
    try:
        claims = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise TokenError(TokenProblem.BAD_CLAIMS, str(exc)) from exc
    if claims.exp <= (time.time() if now is None else now):
        raise TokenError(TokenProblem.EXPIRED, "token has expired")
    return claims


def issue(secret: bytes, sub: str, role: Role, ttl_s: int, *, publish: tuple[str, ...] = (),
          may_watch: bool = False, rooms: tuple[str, ...] = (), now: float | None = None) -> str:
    """Mint a token for `sub` valid for `ttl_s` seconds from `now`."""
    start = time.time() if now is None else now
    return mint(secret, Claims(sub=sub, role=role, exp=int(start + ttl_s), publish=publish,
                               may_watch=may_watch, rooms=rooms))


def may_publish(claims: Claims, stream_id: str) -> bool:
    """Whether the holder may publish `stream_id` (a wildcard counts for admins only)."""
    if stream_id in claims.publish:
        return True
    return claims.role is Role.ADMIN and ANY in claims.publish


def may_watch(claims: Claims) -> bool:
    """Whether the holder may watch field and camera streams."""
    return claims.may_watch and claims.role in STAFF


def may_join(claims: Claims, room_id: str) -> bool:
    """Whether the holder may join (and watch the participants of) conference `room_id`."""
    if room_id in claims.rooms:
        return True
    return claims.role in STAFF and ANY in claims.rooms


def in_any_room(claims: Claims) -> bool:
    """Whether the holder may join some room (and so list its participants' streams)."""
    return any(room != ANY for room in claims.rooms) or (
        claims.role in STAFF and ANY in claims.rooms)


def may_manage_rooms(claims: Claims) -> bool:
    """Whether the holder may open conference rooms."""
    return claims.role in ROOM_MANAGERS


def may_record(claims: Claims, room_id: str) -> bool:
    """Whether the holder may start and stop the recording of `room_id`."""
    return claims.role in ROOM_MANAGERS and may_join(claims, room_id)


def is_admin(claims: Claims) -> bool:
    """Whether the holder administers the video server (cameras)."""
    return claims.role is Role.ADMIN
