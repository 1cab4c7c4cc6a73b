"""The Redis live state: latest unit positions and open incidents, rebuilt from PostgreSQL.

Every change is also published, compactly (incidents.live_wire), on `{prefix}live`, with a
version that grows by one per change; `LiveState.watch` follows it (snapshot, then deltas,
resyncing on a gap) for the dashboard's live push.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from incidents.errors import LiveUnavailable
from incidents.live_wire import (
    LiveDelta,
    LiveSnapshot,
    decode_delta,
    encode_delta,
    encode_row,
    incident_row,
    unit_row,
)
from incidents.model import Incident, IncidentStatus, UnitState

# Set a unit only if its fix is newer than the stored one, open or drop incidents, bump the
# version and announce the change: one round trip per batch, atomic for readers. Two messages
# go out: the bare version on `changes` (for watchers that only need to know), and the batch's
# delta on `live`, spliced from rows the caller encoded (incidents.live_wire). Only fixes
# that were actually stored make it into the delta. The units travel as ONE argument, a JSON
# array of [unit, ts, doc, row] (redis-py packs each argument in Python: four per unit cost
# ingest more than the script does), decoded here by Redis's own cjson.
_APPLY = """
local units, incidents, removed = {}, {}, {}
for _, u in ipairs(cjson.decode(ARGV[3])) do
  local unit, ts, doc, row = u[1], u[2], u[3], u[4]
  local old = tonumber(redis.call('HGET', KEYS[2], unit) or '-1')
  if ts >= old then
    redis.call('HSET', KEYS[1], unit, doc)
    redis.call('HSET', KEYS[2], unit, ts)
    units[#units + 1] = row
  end
end
local i = 4
while i <= #ARGV do
  local id, doc, row = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if doc == '' then
    redis.call('HDEL', KEYS[3], id)
    removed[#removed + 1] = row
  else
    redis.call('HSET', KEYS[3], id, doc)
    incidents[#incidents + 1] = row
  end
  i = i + 3
end
local changed = #units + #incidents + #removed
if changed > 0 then
  local version = redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', ARGV[1], version)
  redis.call('PUBLISH', ARGV[2], '{"v":' .. version .. ',"u":[' .. table.concat(units, ',')
    .. '],"i":[' .. table.concat(incidents, ',') .. '],"r":[' .. table.concat(removed, ',')
    .. ']}')
end
return changed
"""

__all__ = ["LiveState", "LiveUnavailable"]  # LiveUnavailable: defined in incidents.errors

log = logging.getLogger(__name__)

_unit_decoder = msgspec.json.Decoder(UnitState)
_incident_decoder = msgspec.json.Decoder(Incident)
_encoder = msgspec.json.Encoder()


class LiveState:
    """Derived, rebuildable live state in Redis, under one key prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._keys = [prefix + "units", prefix + "units:ts", prefix + "incidents",
                      prefix + "version"]
        self._apply = client.register_script(_APPLY)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> LiveState:
        """Live state on the Redis at `url` (connects lazily)."""
        client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3,
                                         health_check_interval=10)
        return cls(client, prefix)

    @property
    def channel(self) -> str:
        """Pub/sub channel on which each new version number is announced."""
        return self._prefix + "changes"

    @property
    def deltas_channel(self) -> str:
        """Pub/sub channel carrying each change itself (a LiveDelta, see `watch`)."""
        return self._prefix + "live"

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def ping(self) -> None:
        """Round-trip to Redis, or raise LiveUnavailable."""
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(f"Redis is unavailable: {exc}") from exc

    async def apply(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> int:
        """Record newer unit fixes and incident changes; return how many entries changed."""
        if not units and not incidents:
            return 0
        packed = _encoder.encode([
            (unit.unit, int(unit.ts.timestamp() * 1000), _encoder.encode(unit).decode(),
             encode_row(unit_row(unit)).decode())
            for unit in units])
        args: list[Any] = [self.channel, self.deltas_channel, packed]
        for incident in incidents:
            if incident.status is IncidentStatus.CLOSED:
                args += [incident.id, b"", encode_row(incident.id)]
            else:
                args += [incident.id, _encoder.encode(incident),
                         encode_row(incident_row(incident))]
        try:
            changed: int = await self._apply(keys=self._keys, args=args)
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(f"cannot update the live state: {exc}") from exc
        return changed

    async def rebuild(self, units: Sequence[UnitState], incidents: Sequence[Incident]) -> None:
        """Replace the live state with what PostgreSQL holds."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*self._keys[:3])
                for unit in units:
                    pipe.hset(self._keys[0], unit.unit, _encoder.encode(unit))
                    pipe.hset(self._keys[1], unit.unit, int(unit.ts.timestamp() * 1000))
                for incident in incidents:
                    pipe.hset(self._keys[2], incident.id, _encoder.encode(incident))
                pipe.incr(self._keys[3])
                pipe.set(self._prefix + "epoch", str(time.time()))
                results = await pipe.execute()
            await self._redis.publish(self.channel, "rebuilt")
            rebuilt = LiveDelta(v=int(results[-2]), rebuilt=True)
            await self._redis.publish(self.deltas_channel, encode_delta(rebuilt))
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(f"cannot rebuild the live state: {exc}") from exc

    async def has_epoch(self) -> bool:
        """False when Redis lost the state (restart, flush) and it must be rebuilt."""
        try:
            return bool(await self._redis.exists(self._prefix + "epoch"))
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc

    async def version(self) -> int:
        """A number that grows with every change; 0 when Redis holds nothing yet."""
        try:
            value = await self._redis.get(self._keys[3])
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc
        return int(value or 0)

    async def units(self) -> list[UnitState]:
        """Every unit's latest position."""
        try:
            docs = await self._redis.hvals(self._keys[0])
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc
        return sorted((_unit_decoder.decode(d) for d in docs), key=lambda u: u.unit)

    async def incidents(self) -> list[Incident]:
        """Every open incident, most recent first."""
        try:
            docs = await self._redis.hvals(self._keys[2])
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc
        found = [_incident_decoder.decode(d) for d in docs]
        return sorted(found, key=lambda i: i.reported_at, reverse=True)

    async def snapshot(self) -> LiveSnapshot:
        """Every unit and open incident as compact rows, with the version they belong to.

        Read in one MULTI, so the version matches the rows exactly: a watcher applies only the
        deltas after it.
        """
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._keys[3])
                pipe.hvals(self._keys[0])
                pipe.hvals(self._keys[2])
                version, unit_docs, incident_docs = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(f"cannot read the live state: {exc}") from exc
        units = sorted(unit_row(_unit_decoder.decode(d)) for d in unit_docs)
        incidents = sorted(incident_row(_incident_decoder.decode(d)) for d in incident_docs)
        return LiveSnapshot(version=int(version or 0), units=units, incidents=incidents)

    async def watch(self, idle_s: float = 1.0
                    ) -> AsyncGenerator[LiveSnapshot | LiveDelta | None, None]:
        """Follow the live state: a snapshot, then each delta in order.

        A fresh snapshot follows whenever a delta was missed (its version skips one) or the
        state was rebuilt; deltas the snapshot already contains are skipped. Yields None after
        `idle_s` without a message, so the caller keeps control. redis-py's pub/sub does not
        reconnect by itself: a lost connection raises LiveUnavailable and the caller starts
        again (with a new snapshot).
        """
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.deltas_channel)
            # Subscribed first, then read: a change in between is both in the snapshot and
            # in the buffered messages, and its version tells which to skip.
            snapshot = await self.snapshot()
            yield snapshot
            version = snapshot.version
            while True:
                message = await pubsub.get_message(timeout=idle_s)
                if message is None:
                    yield None
                    continue
                delta = _read_delta(message["data"])
                if delta is None or delta.rebuilt or delta.v > version + 1:
                    snapshot = await self.snapshot()
                    version = snapshot.version
                    yield snapshot
                elif delta.v == version + 1:
                    version = delta.v
                    yield delta
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(f"lost the live state's channel: {exc}") from exc
        finally:
            await _close_quietly(pubsub)

    async def set_status(self, component: str, status: dict[str, Any], ttl_s: int = 10) -> None:
        """Publish a component's heartbeat (expires if the component stops reporting)."""
        try:
            await self._redis.set(self._prefix + "status:" + component,
                                  _encoder.encode(status), ex=ttl_s)
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc

    async def status(self, component: str) -> dict[str, Any] | None:
        """The last heartbeat of a component, or None when it is silent."""
        try:
            doc = await self._redis.get(self._prefix + "status:" + component)
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc
        if doc is None:
            return None
        decoded: dict[str, Any] = msgspec.json.decode(doc)
        return decoded

    async def statuses(self, prefix: str) -> dict[str, dict[str, Any]]:
        """The live heartbeats of every component whose name starts with `prefix`, by name."""
        head = self._prefix + "status:"
        # MATCH is a glob: escape the literal part so a prefix like "a[1]" matches itself.
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in head + prefix) + "*"
        try:
            keys = sorted({k async for k in self._redis.scan_iter(match=pattern, count=200)})
            docs = await self._redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            raise LiveUnavailable(str(exc)) from exc
        found: dict[str, dict[str, Any]] = {}
        for key, doc in zip(keys, docs, strict=True):
            if doc is not None:  # expired between SCAN and MGET
                name = key.decode() if isinstance(key, bytes) else str(key)
                found[name.removeprefix(head)] = msgspec.json.decode(doc)
        return found


def _read_delta(data: bytes | str) -> LiveDelta | None:
    """The delta in a message, or None (logged) when it cannot be read: the watcher resyncs."""
    try:
        return decode_delta(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("unreadable live delta (%s); re-reading the snapshot", exc)
        return None


async def _close_quietly(pubsub: Any) -> None:
    """Close a pub/sub connection that may already be dead: there is nothing left to save."""
    try:
        await pubsub.aclose()
    except (RedisError, OSError) as exc:
        log.debug("closing the live channel: %s", exc)
