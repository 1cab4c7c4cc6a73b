"""Throttling sign-in instead of locking accounts as a weapon.

Three guards, each with its own setting (config.settings.AuthSettings):
- per address: after `address_free_failures` wrong passwords from one address, each further
  attempt from it must wait 1, 2, 4 … s (up to `address_max_wait_s`), kept in Redis so every
  dashboard worker sees it;
- per account: one password check at a time (a guess racing another for the same account is
  turned away, so concurrent guesses cannot get past the account's failure count);
- per process: at most `password_checks` Argon2 checks run at once and `password_queue` wait;
  anyone beyond is answered "busy" at once, so strangers cannot make the server burn its CPU.
Addresses in `trusted_networks` (the command centre's own) are exempt from the account lock
that failures from elsewhere set, so a leader under attack can still sign in from the desk.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dashboard.auth.sessions import Clock, SessionUnavailable

log = logging.getLogger(__name__)

IN_FLIGHT_S = 10
"""An account's "being checked" mark expires after this, should its worker die mid-check."""


class Busy(Exception):
    """Too many password checks are running or waiting: try again in a few seconds."""


@dataclass(frozen=True, slots=True)
class Wait:
    """An attempt turned away before any password was checked."""

    until: datetime
    """When the next attempt will be heard."""


def trusted(client: str, networks: Sequence[str]) -> bool:
    """Whether the client address lies in one of `networks` (CIDR or single addresses)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in networks:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue  # refused when the settings were loaded; nothing to match here
    return False


def address_wait_s(failures: int, free: int, max_wait_s: float) -> float:
    """Seconds an address waits after `failures` wrong passwords in a row (0 while free)."""
    if failures <= free:
        return 0.0
    return float(min(max_wait_s, 2.0 ** (failures - free - 1)))


class Throttle:
    """The three guards; one per dashboard process, on the sessions' Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str, clock: Clock, *,
                 free_failures: int, max_wait_s: float, window: timedelta,
                 checks: int, queue: int) -> None:
        self._redis, self._prefix, self._clock = client, prefix, clock
        self._free, self._max_wait_s, self._window = free_failures, max_wait_s, window
        self._checks = asyncio.Semaphore(checks)
        self._capacity = checks + queue
        self._admitted = 0

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}signin-{kind}:{name}"

    async def address_wait(self, client: str) -> Wait | None:
        """The wait an address still has to sit out, or None."""
        try:
            left_ms = await self._redis.pttl(self._key("wait", client))
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot read sign-in throttling: {exc}") from exc
        if left_ms <= 0:
            return None
        return Wait(until=self._clock() + timedelta(milliseconds=left_ms))

    async def address_failed(self, client: str) -> Wait | None:
        """Count a wrong password from `client`; the wait it now has, if any."""
        key = self._key("fails", client)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, math.ceil(self._window.total_seconds()))
                failures, _ = await pipe.execute()
            wait_s = address_wait_s(int(failures), self._free, self._max_wait_s)
            if wait_s <= 0:
                return None
            await self._redis.set(self._key("wait", client), b"1", px=math.ceil(wait_s * 1000))
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot record sign-in throttling: {exc}") from exc
        return Wait(until=self._clock() + timedelta(seconds=wait_s))

    async def address_succeeded(self, client: str) -> None:
        """A right password from `client`: its count starts again."""
        try:
            await self._redis.delete(self._key("fails", client), self._key("wait", client))
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot record sign-in throttling: {exc}") from exc

    @asynccontextmanager
    async def account_check(self, account: str, zone: str) -> AsyncIterator[bool]:
        """Hold the account's one check of `zone` (trusted or outside); yields False when
        another check of it is running (the caller turns the attempt away)."""
        key = self._key("checking", f"{zone}:{account}")
        try:
            took = await self._redis.set(key, b"1", nx=True, ex=IN_FLIGHT_S)
        except (RedisError, OSError) as exc:
            raise SessionUnavailable(f"cannot read sign-in throttling: {exc}") from exc
        try:
            yield bool(took)
        finally:
            if took:
                try:
                    await self._redis.delete(key)
                except (RedisError, OSError) as exc:
                    # It expires in IN_FLIGHT_S: the account's next attempt waits at most that.
                    log.warning("cannot clear the sign-in mark of %s: %s", account, exc)

    @asynccontextmanager
    async def password_slot(self) -> AsyncIterator[None]:
        """A turn to run one password check, or Busy when the queue is full."""
        if self._admitted >= self._capacity:
            raise Busy
        self._admitted += 1
        try:
            async with self._checks:
                yield
        finally:
            self._admitted -= 1
