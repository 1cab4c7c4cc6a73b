"""The stream registry: every stream's owner, kind, state and position, mirrored into Redis.

The video process holds the registry; Redis carries a copy (`{prefix}video:streams`, one JSON
value per stream id) and a PUBLISH on `{prefix}video:changes` for each change, so dashboard
workers can draw streams on the map. The copy is derived: it is rewritten whole at start-up
and after Redis comes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from enum import StrEnum

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from incidents.geo import haversine_m
from incidents.live import LiveState, LiveUnavailable

log = logging.getLogger("sitroom.video.registry")

class StreamKind(StrEnum):
    """Where a stream comes from."""

    FIELD = "field"
    CAMERA = "camera"
    CONFERENCE = "conference"


class StreamState(StrEnum):
    """Whether a stream has a source right now."""

    LIVE = "live"
    INTERRUPTED = "interrupted"
    ENDED = "ended"


class StreamEvent(StrEnum):
    """What happened to a stream's source."""

    STARTED = "started"
    """A publisher (or camera) began sending, perhaps again."""
    LOST = "lost"
    """The source dropped without saying goodbye (ICE failure, crash, camera error)."""
    STOPPED = "stopped"
    """The source ended on purpose (WHIP DELETE), or was interrupted too long."""


class InvalidTransition(ValueError):
    """An event that makes no sense for a stream that does not exist."""


class PositionSource(StrEnum):
    """Where a stream's position came from."""

    UNIT = "unit"
    """The owner unit's latest position in the live state."""
    PUBLISH = "publish"
    """Given by the publisher with its WHIP request."""
    CAMERA = "camera"
    """Configured for a fixed camera."""


class StreamInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One stream as the dashboard shows it."""

    id: str
    """Stream id, as in /whip/{id} and /whep/{id}."""
    owner: str
    """Unit id, camera id or conference participant's user name."""
    kind: StreamKind
    """Field unit, fixed camera, or conference participant."""
    title: str
    """Human-readable label."""
    state: StreamState
    """live, interrupted or ended."""
    lat: float | None = None
    """WGS 84 latitude, when known."""
    lon: float | None = None
    """WGS 84 longitude, when known."""
    position_source: PositionSource | None = None
    """Where lat/lon came from."""
    room: str | None = None
    """Conference room id, for conference streams."""
    started_at: float
    """When the stream first went live, Unix seconds."""
    updated_at: float
    """When the state or position last changed, Unix seconds."""


_TRANSITIONS: dict[tuple[StreamState | None, StreamEvent], StreamState] = {
    (None, StreamEvent.STARTED): StreamState.LIVE,
    (StreamState.LIVE, StreamEvent.STARTED): StreamState.LIVE,
    (StreamState.INTERRUPTED, StreamEvent.STARTED): StreamState.LIVE,
    (StreamState.ENDED, StreamEvent.STARTED): StreamState.LIVE,
    (StreamState.LIVE, StreamEvent.LOST): StreamState.INTERRUPTED,
    (StreamState.INTERRUPTED, StreamEvent.LOST): StreamState.INTERRUPTED,
    (StreamState.ENDED, StreamEvent.LOST): StreamState.ENDED,
    (StreamState.LIVE, StreamEvent.STOPPED): StreamState.ENDED,
    (StreamState.INTERRUPTED, StreamEvent.STOPPED): StreamState.ENDED,
    (StreamState.ENDED, StreamEvent.STOPPED): StreamState.ENDED,
}


def transition(state: StreamState | None, event: StreamEvent) -> StreamState:
    """The state after `event`; `None` is a stream not yet known."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{event} for a stream that never started") from None


def nearest(streams: Iterable[StreamInfo], lat: float, lon: float, radius_m: float,
            limit: int) -> list[tuple[StreamInfo, float]]:
    """Streams with a position within `radius_m` of (lat, lon), nearest first, at most `limit`."""
    found = []
    for info in streams:
        if info.lat is None or info.lon is None:
            continue
        metres = haversine_m(lat, lon, info.lat, info.lon)
        if metres <= radius_m:
            found.append((info, metres))
    found.sort(key=lambda pair: (pair[1], pair[0].id))
    return found[:limit]


_encoder = msgspec.json.Encoder()


class StreamRegistry:
    """The streams of this video server; Redis (when given) receives a copy of every change."""

    def __init__(self, redis: aioredis.Redis | None, prefix: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._key = prefix + "video:streams"
        self._channel = prefix + "video:changes"
        self._live = LiveState(redis, prefix) if redis is not None else None
        self._clock = clock
        self._streams: dict[str, StreamInfo] = {}
        self._redis_stale = redis is not None
        """Whether the Redis copy may differ from ours (start-up, or a failed write)."""

    @property
    def channel(self) -> str:
        """Pub/sub channel announcing changes (JSON: id, state)."""
        return self._channel

    def get(self, stream_id: str) -> StreamInfo | None:
        """One stream, or None."""
        return self._streams.get(stream_id)

    def all(self) -> list[StreamInfo]:
        """Every known stream, by id."""
        return [self._streams[k] for k in sorted(self._streams)]

    async def apply(self, stream_id: str, event: StreamEvent, *, owner: str = "",
                    kind: StreamKind = StreamKind.FIELD, title: str = "",
                    lat: float | None = None, lon: float | None = None,
                    position_source: PositionSource | None = None,
                    room: str | None = None) -> StreamInfo:
        """Record `event` for a stream; the descriptive fields are used when it is new or
        (re)started."""
        old = self._streams.get(stream_id)
        state = transition(old.state if old else None, event)
        now = self._clock()
        if event is StreamEvent.STARTED or old is None:
            if lat is None or lon is None:
                # A restart without a position keeps the last one (the unit may have moved
                # on since, which follow_units() corrects).
                lat, lon = (old.lat, old.lon) if old else (None, None)
                position_source = old.position_source if old else None
            info = StreamInfo(
                id=stream_id, owner=owner, kind=kind, title=title or owner, state=state,
                lat=lat, lon=lon, position_source=position_source, room=room,
                started_at=old.started_at if old else now, updated_at=now)
        else:
            info = msgspec.structs.replace(old, state=state, updated_at=now)
        if old is None or info != old:
            self._streams[stream_id] = info
            await self._publish(info)
        return info

    async def remove(self, stream_id: str) -> None:
        """Forget a stream."""
        if self._streams.pop(stream_id, None) is None:
            return
        await self._write(lambda pipe: pipe.hdel(self._key, stream_id),
                          {"id": stream_id, "state": "removed"})

    async def follow_units(self) -> int:
        """Move field streams to their units' latest positions; return how many moved."""
        if self._live is None:
            return 0
        owners = {i.owner for i in self._streams.values() if i.kind is StreamKind.FIELD}
        if not owners:
            return 0
        try:
            units = {u.unit: u for u in await self._live.units() if u.unit in owners}
        except LiveUnavailable as exc:
            log.warning("unit positions unavailable: %s", exc)
            return 0
        moved = 0
        for info in list(self._streams.values()):
            unit = units.get(info.owner) if info.kind is StreamKind.FIELD else None
            if unit is None or (info.lat, info.lon) == (unit.lat, unit.lon):
                continue
            updated = msgspec.structs.replace(info, lat=unit.lat, lon=unit.lon,
                                              position_source=PositionSource.UNIT,
                                              updated_at=self._clock())
            self._streams[info.id] = updated
            await self._publish(updated)
            moved += 1
        return moved

    async def sync(self) -> None:
        """Rewrite the Redis copy from ours when it may be stale (start-up, after an error)."""
        if self._redis is None or not self._redis_stale:
            return
        docs = {k: _encoder.encode(v) for k, v in self._streams.items()}

        def rewrite(pipe: aioredis.client.Pipeline) -> None:
            pipe.delete(self._key)
            for stream_id, doc in docs.items():
                pipe.hset(self._key, stream_id, doc)

        self._redis_stale = False
        await self._write(rewrite, {"state": "resynced"})

    async def _publish(self, info: StreamInfo) -> None:
        await self._write(lambda pipe: pipe.hset(self._key, info.id, _encoder.encode(info)),
                          {"id": info.id, "state": str(info.state)})

    async def _write(self, command: Callable[[aioredis.client.Pipeline], object],
                     change: dict[str, str]) -> None:
        if self._redis is None:
            return
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                command(pipe)
                pipe.publish(self._channel, _encoder.encode(change))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # The registry here stays right; the copy is rewritten by the next sync().
            self._redis_stale = True
            log.warning("stream registry not mirrored to Redis: %s", exc)
