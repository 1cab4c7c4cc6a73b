"""Live push over real servers: the dashboard served in-process (or as `sitroom dashboard` with
two worker processes), a real Redis, and an SSE client signed in through the form.

What a browser sees on /live/stream: a snapshot, then the deltas of each `LiveState.apply`,
heartbeats; a fresh snapshot after a missed delta, a rebuild, or Redis coming back.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.settings import Settings
from dashboard.auth import Role
from dashboard.live_frames import parse_sse
from incidents.live import LiveState, LiveUnavailable
from incidents.live_wire import LiveDelta, encode_delta
from incidents.model import Incident, IncidentStatus, Level, UnitState
from tests.support.auth import TEST_PASSWORD, create_user, csrf_of, served_dashboard, with_auth
from tests.support.messages import minutes_ago
from tests.support.processes import start_sitroom
from tests.support.servers import free_port, start_redis, stop, wait_port

pytestmark = pytest.mark.integration

Event = tuple[str, dict[str, Any]]


def unit(name: str, lat: float, minutes: float = 0.0) -> UnitState:
    return UnitState(unit=name, agency="police", lat=lat, lon=114.5, ts=minutes_ago(minutes))


def incident(ident: str, status: IncidentStatus = IncidentStatus.REPORTED,
             level: Level = Level.II) -> Incident:
    now = minutes_ago(0)
    return Incident(id=ident, type="fire", level=level, status=status, title="仓库火情",
                    lat=37.05, lon=114.49, reported_at=now, updated_at=now, agency="fire")


class SseClient:
    """Reads the events of one /live/stream response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.worker = response.headers.get("X-Sitroom-Worker", "")
        self._buffer = b""
        self._events: deque[Event] = deque()

    async def next(self, name: str | None = None, timeout_s: float = 5.0) -> Event:
        """The next event (named `name`, skipping others); TimeoutError when none comes."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self._events:
                event = self._events.popleft()
                if name is None or event[0] == name:
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name or 'event'} within {timeout_s} s")
            chunk = await asyncio.wait_for(self.response.content.readany(), left)
            if not chunk:
                raise EOFError("the stream ended")
            events, self._buffer = parse_sse(self._buffer + chunk)
            self._events.extend((n, json.loads(body)) for n, body in events)


async def signed_in(base_url: str, username: str) -> aiohttp.ClientSession:
    """An HTTP session signed in through the sign-in form."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(f"{base_url}/login", params={"next": "/"}) as form:
        page = await form.text()
    async with session.post(f"{base_url}/login", allow_redirects=False, data={
            "username": username, "password": TEST_PASSWORD, "csrf_token": csrf_of(page),
            "next": "/"}) as answer:
        assert answer.status in (302, 303), answer.status
    return session


@asynccontextmanager
async def stream(session: aiohttp.ClientSession, base_url: str) -> AsyncIterator[SseClient]:
    """An open /live/stream."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with session.get(f"{base_url}/live/stream", timeout=timeout) as response:
        assert response.status == 200, response.status
        assert response.headers["Content-Type"].startswith("text/event-stream")
        yield SseClient(response)


async def rebuild_after_restart(live: LiveState, units: list[UnitState],
                                incidents: list[Incident]) -> None:
    """Rebuild as ingest does once Redis is back (its pooled connection died with the old
    server: the first command on it fails, the next one reconnects)."""
    for _ in range(10):
        try:
            await live.rebuild(units, incidents)
            return
        except LiveUnavailable:
            await asyncio.sleep(0.2)
    raise AssertionError("Redis did not come back")


@pytest.fixture
def push_settings(database_url: str, redis_server: str, redis_prefix: str,
                  tmp_path: Path) -> Settings:
    """Dashboard settings on the test's database and Redis prefix."""
    return with_auth(Settings(database_url=database_url, redis_url=redis_server,
                              redis_prefix=redis_prefix, var_dir=tmp_path))


async def test_a_browser_gets_a_snapshot_then_each_change_then_heartbeats(
        push_settings: Settings, live: LiveState, database_url: str) -> None:
    await create_user(database_url, "wall", Role.OPERATOR)
    await live.apply([unit("car-1", 37.0, minutes=1)], [incident("i-1")])
    with served_dashboard(push_settings) as served:
        async with await signed_in(served.url, "wall") as session, \
                stream(session, served.url) as sse:
            _, snapshot = await sse.next("snapshot")
            assert snapshot["v"] == await live.version()
            assert [u[0] for u in snapshot["u"]] == ["car-1"]
            assert [i[0] for i in snapshot["i"]] == ["i-1"]

            await live.apply([unit("car-1", 37.2), unit("car-2", 37.3)],
                             [incident("i-1", IncidentStatus.VERIFIED), incident("i-2")])
            _, units = await sse.next()
            assert units["v"] == snapshot["v"] + 1
            assert {u[0]: u[3] for u in units["u"]} == {"car-1": 37.2, "car-2": 37.3}
            name, incidents = await sse.next()
            assert name == "incidents" and incidents["r"] == []
            assert {i[0]: i[3] for i in incidents["i"]} == {"i-1": "verified", "i-2": "reported"}

            # An older fix is not a change; a closed incident leaves.
            await live.apply([unit("car-1", 36.0, minutes=10)],
                             [incident("i-1", IncidentStatus.CLOSED)])
            name, closed = await sse.next()
            assert (name, closed["i"], closed["r"]) == ("incidents", [], ["i-1"])

            _, beat = await sse.next("heartbeat", timeout_s=8)
            assert beat["live"] is True and beat["v"] == await live.version()
            assert abs(beat["t"] / 1000 - time.time()) < 5
            assert beat["w"] == sse.worker


async def test_a_missed_delta_or_a_rebuild_sends_a_fresh_snapshot(
        push_settings: Settings, live: LiveState, database_url: str) -> None:
    await create_user(database_url, "wall", Role.OPERATOR)
    with served_dashboard(push_settings) as served:
        async with await signed_in(served.url, "wall") as session, \
                stream(session, served.url) as sse:
            await sse.next("snapshot")
            await live.apply([unit("car-1", 37.0)], [])
            await sse.next("units")
            # A delta whose version skips some: the worker re-reads Redis and resends it all.
            current = await live.version()
            await live._redis.publish(  # noqa: SLF001 - a gap, as a lost message would make
                live.deltas_channel, encode_delta(LiveDelta(v=current + 5)))
            _, again = await sse.next()
            assert again["v"] == current and [u[0] for u in again["u"]] == ["car-1"]

            await live.rebuild([unit("car-9", 37.1)], [incident("i-9", level=Level.I)])
            name, rebuilt = await sse.next()
            assert name == "snapshot" and [u[0] for u in rebuilt["u"]] == ["car-9"]
            assert [i[0] for i in rebuilt["i"]] == ["i-9"]


async def test_without_a_session_the_stream_does_not_open(push_settings: Settings) -> None:
    with served_dashboard(push_settings) as served:
        async with aiohttp.ClientSession() as session, session.get(
                f"{served.url}/live/stream", allow_redirects=False) as answer:
            assert answer.status == 302
            assert answer.headers["Location"].startswith("/login")


async def test_the_stream_says_when_redis_is_lost_and_resyncs_when_it_is_back(
        database_url: str, tmp_path: Path) -> None:
    redis = start_redis(tmp_path / "redis")
    url = f"redis://127.0.0.1:{redis.port}/0"
    settings = with_auth(Settings(database_url=database_url, redis_url=url, var_dir=tmp_path))
    live = LiveState.from_url(url, settings.redis_prefix)
    try:
        await create_user(database_url, "wall", Role.OPERATOR)
        await live.apply([unit("car-1", 37.0)], [])
        with served_dashboard(settings) as served:
            async with await signed_in(served.url, "wall") as session, \
                    stream(session, served.url) as sse:
                await sse.next("snapshot")
                _, beat = await sse.next("heartbeat", timeout_s=8)
                assert beat["live"] is True

                redis.kill()
                _, beat = await sse.next("heartbeat", timeout_s=8)
                assert beat["live"] is False  # the page shows the data as stale

                redis.restart()
                await rebuild_after_restart(live, [unit("car-2", 37.5)], [incident("i-3")])
                _, snapshot = await sse.next("snapshot", timeout_s=25)
                assert [u[0] for u in snapshot["u"]] == ["car-2"]
                await live.apply([unit("car-2", 37.6)], [])
                _, units = await sse.next("units")
                assert units["u"][0][3] == 37.6
                _, beat = await sse.next("heartbeat", timeout_s=8)
                assert beat["live"] is True
    finally:
        await live.close()
        redis.stop()


async def test_two_worker_processes_both_push_the_same_change(
        database_url: str, redis_server: str, redis_prefix: str, live: LiveState,
        tmp_path: Path) -> None:
    await create_user(database_url, "wall", Role.OPERATOR)
    port = free_port()
    settings = with_auth(Settings(database_url=database_url, redis_url=redis_server,
                                  redis_prefix=redis_prefix, var_dir=tmp_path,
                                  dashboard_port=port))
    log = tmp_path / "dashboard.log"
    process = start_sitroom(["dashboard"], settings, log,
                            {"SITROOM_DASHBOARD_WORKERS": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, process, timeout_s=60, log=log)
        async with await signed_in(base, "wall") as session, AsyncExitStack() as streams:
            clients: dict[str, SseClient] = {}
            # The kernel spreads connections over the workers (SO_REUSEPORT): open streams
            # until two different workers answer. The second worker may still be starting,
            # and each stream holds a server thread: close every stream of a known worker.
            deadline = time.monotonic() + 60
            while len(clients) < 2 and time.monotonic() < deadline:
                opened = AsyncExitStack()
                sse = await opened.enter_async_context(stream(session, base))
                if sse.worker in clients:
                    await opened.aclose()
                    await asyncio.sleep(0.2)
                    continue
                clients[sse.worker] = sse
                streams.push_async_callback(opened.aclose)
            assert len(clients) == 2, f"only worker(s) {sorted(clients)} answered"
            for sse in clients.values():
                await sse.next("snapshot", timeout_s=10)
            marker = f"car-{uuid.uuid4().hex[:6]}"
            await live.apply([unit(marker, 37.25)], [])
            for worker, sse in clients.items():
                _, units = await sse.next("units", timeout_s=5)
                assert [u[0] for u in units["u"]] == [marker], worker
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text(errors="replace")[-3000:]
