"""Server-side sessions in Redis, shared by every dashboard worker.

The browser holds only a random session id; Redis holds `{prefix}session:{sha256(id)}` with who
signed in, when, and when they were last seen. A session ends after `idle` without a request
(sliding) or `lifetime` after sign-in, whichever comes first. Expiry is decided here from the
injected clock; the Redis TTL only collects what nobody asks for again.

Losing Redis signs everyone out and loses nothing else: sessions are not in PostgreSQL on
purpose (they are short-lived and asked for on every request).

Each record is stored as `MAC.JSON`, the MAC (HMAC-SHA256 with a key derived from the
dashboard's secret) taken over the record's Redis key and its JSON: whoever can write to Redis
but does not hold the secret cannot make a session (an admin, a far-future `checked_at`), nor
move a genuine one to another id. A record that does not verify is deleted and grants nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dashboard.auth.roles import Role, User
from dashboard.auth.tokens import new_nonce, new_session_id, session_digest

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Returns the current time (timezone-aware); injected so tests can move it."""

TOUCH_EVERY_S = 15.0
"""A session's last-seen time is written at most this often (every Dash poll would be waste)."""


class SessionUnavailable(RuntimeError):
    """Redis cannot be reached: nobody can be signed in or checked until it returns."""


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """What the server keeps about one signed-in browser."""

    username: str
    """The account."""
    display_name: str
    """Name shown to people."""
    role: Role
    """Role at sign-in (re-checked against the database every few minutes)."""
    agency: str | None
    """A liaison's agency."""
    created_at: float
    """Sign-in time, epoch seconds."""
    seen_at: float
    """Last request, epoch seconds (to within TOUCH_EVERY_S)."""
    checked_at: float
    """When the account was last re-read from the database, epoch seconds."""
    csrf: str
    """Nonce the session's CSRF tokens (e.g. the sign-out form's) are bound to."""


_decoder = msgspec.json.Decoder(Session)
_encoder = msgspec.json.Encoder()
_MAC_HEX = 64
"""Length of the hex MAC in front of each record."""


def seal(mac_key: bytes, key: str, session: Session) -> bytes:
    """The record as stored under `key`: its MAC (bound to the key), a dot, its JSON."""
    body = _encoder.encode(session)
    mac = hmac.new(mac_key, key.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    return mac.encode() + b"." + body


def unseal(mac_key: bytes, key: str, doc: bytes | str) -> Session | None:
    """The session in a stored record, or None when its MAC or its JSON is wrong."""
    mac, dot, body = (doc if isinstance(doc, bytes) else doc.encode()).partition(b".")
    if not dot or len(mac) != _MAC_HEX:
        return None
    expected = hmac.new(mac_key, key.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac):
        return None
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError:
        return None


class SessionStore:
    """Creates, finds, slides and ends sessions in Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str, idle: timedelta,
                 lifetime: timedelta, clock: Clock, mac_key: bytes) -> None:
        """`mac_key` seals every record (derived from the dashboard's secret)."""
        self._redis = client
        self._mac_key = mac_key
        self._prefix = prefix
        self._idle = idle.total_seconds()
        self._lifetime = lifetime.total_seconds()
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, prefix: str, idle: timedelta, lifetime: timedelta,
                 clock: Clock, mac_key: bytes) -> SessionStore:
        """Sessions on the Redis at `url` under `prefix` (connects lazily)."""
        client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3,
                                         health_check_interval=10)
        return cls(client, prefix, idle, lifetime, clock, mac_key)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    def key(self, session_id: str) -> str:
        """The Redis key of a session: the id itself is never stored."""
        return f"{self._prefix}session:{session_digest(session_id)}"

    def _index(self, username: str) -> str:
        return f"{self._prefix}user-sessions:{username}"

    async def create(self, user: User) -> tuple[str, Session]:
        """Start a session for `user`; returns the id for the cookie, and the session."""
        now = self._clock().timestamp()
        session_id = new_session_id()
        session = Session(username=user.username, display_name=user.display_name,
                          role=user.role, agency=user.agency, created_at=now, seen_at=now,
                          checked_at=now, csrf=new_nonce())
        key = self.key(session_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, seal(self._mac_key, key, session), ex=self._ttl(session, now))
                pipe.sadd(self._index(user.username), key)
                pipe.expire(self._index(user.username), math.ceil(self._lifetime))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot store the session: {exc}") from exc
        return session_id, session

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id, slid forward; None when unknown or expired."""
        key = self.key(session_id)
        try:
            doc = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot read the session: {exc}") from exc
        if doc is None:
            return None
        session = unseal(self._mac_key, key, doc)
        if session is None:
            # Written by hand, by another version, or with another secret: it grants nothing.
            log.warning("session record %s does not verify: deleted", key)
            await self._delete_key(key, "")
            return None
        now = self._clock().timestamp()
        if self._expired(session, now):
            await self._delete_key(key, session.username)
            return None
        if now - session.seen_at >= TOUCH_EVERY_S:
            session = msgspec.structs.replace(session, seen_at=now)
            await self._write(key, session, now)
        return session

    async def replace(self, session_id: str, session: Session) -> None:
        """Store a changed session (e.g. after re-reading the account) if it still exists."""
        await self._write(self.key(session_id), session, self._clock().timestamp())

    async def delete(self, session_id: str) -> None:
        """End one session (sign-out)."""
        key = self.key(session_id)
        try:
            doc = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot read the session: {exc}") from exc
        if doc is not None:
            session = unseal(self._mac_key, key, doc)
            await self._delete_key(key, session.username if session else "")

    async def delete_user(self, username: str) -> int:
        """End every session of `username` (disabled, new password); returns how many."""
        index = self._index(username)
        try:
            keys = await self._redis.smembers(index)
            async with self._redis.pipeline(transaction=True) as pipe:
                if keys:
                    pipe.delete(*keys)
                pipe.delete(index)
                done = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot end the sessions of {username}: {exc}") from exc
        return int(done[0]) if keys else 0

    def _expired(self, session: Session, now: float) -> bool:
        return (now - session.seen_at >= self._idle
                or now - session.created_at >= self._lifetime)

    def _ttl(self, session: Session, now: float) -> int:
        left = min(self._idle, session.created_at + self._lifetime - now)
        return max(1, math.ceil(left))

    async def _write(self, key: str, session: Session, now: float) -> None:
        try:
            # XX: a request still in flight must not bring back a session signed out meanwhile.
            await self._redis.set(key, seal(self._mac_key, key, session),
                                  ex=self._ttl(session, now), xx=True)
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot update the session: {exc}") from exc

    async def _delete_key(self, key: str, username: str) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.srem(self._index(username), key)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot end the session: {exc}") from exc
