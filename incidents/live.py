"""The Redis live state: latest unit positions and open incidents, rebuilt from PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from incidents.model import Incident, IncidentStatus, UnitState

# Set a unit only if its fix is newer than the stored one, open or drop incidents, bump the
# version and announce the change: one round trip per batch, atomic for readers.
_APPLY = """
local n_units = tonumber(ARGV[2])
local changed = 0
local i = 3
for _ = 1, n_units do
  local unit, ts, doc = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local old = tonumber(redis.call('HGET', KEYS[2], unit) or '-1')
  if ts >= old then
    redis.call('HSET', KEYS[1], unit, doc)
    redis.call('HSET', KEYS[2], unit, ts)
    changed = changed + 1
  end
  i = i + 3
end
while i <= #ARGV do
  local id, doc = ARGV[i], ARGV[i + 1]
  if doc == '' then redis.call('HDEL', KEYS[3], id) else redis.call('HSET', KEYS[3], id, doc) end
  changed = changed + 1
  i = i + 2
end
if changed > 0 then
  local version = redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', ARGV[1], version)
end
return changed
"""

_unit_decoder = msgspec.json.Decoder(UnitState)
_incident_decoder = msgspec.json.Decoder(Incident)
_encoder = msgspec.json.Encoder()


class LiveUnavailable(RuntimeError):
    """Redis cannot be reached; the live state will be rebuilt when it returns."""


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
        args: list[Any] = [self.channel, len(units)]
        for unit in units:
            args += [unit.unit, int(unit.ts.timestamp() * 1000), _encoder.encode(unit)]
        for incident in incidents:
            doc = b"" if incident.status is IncidentStatus.CLOSED else _encoder.encode(incident)
            args += [incident.id, doc]
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
                await pipe.execute()
            await self._redis.publish(self.channel, "rebuilt")
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
