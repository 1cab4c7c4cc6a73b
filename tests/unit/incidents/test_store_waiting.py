"""Start-up waits for PostgreSQL: retries with progress lines, then a clear failure."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from incidents.store import StoreUnavailable
from incidents.store.waiting import REPORT_EVERY_S, server_address, until_ready

DSN = "postgresql://sitroom:secret@db.example:5433/sitroom"


class FakeServer:
    """A server that says it is starting up until `ready_at` on a fake clock."""

    def __init__(self, ready_at: float) -> None:
        self.now = 0.0
        self.ready_at = ready_at
        self.attempts = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    async def connect(self) -> str:
        self.attempts += 1
        if self.now < self.ready_at:
            try:
                raise asyncpg.exceptions.CannotConnectNowError(
                    "the database system is starting up")
            except asyncpg.exceptions.CannotConnectNowError as exc:
                raise StoreUnavailable("PostgreSQL is unavailable") from exc
        return "pool"


async def test_waits_until_the_server_is_ready_showing_progress_every_few_seconds(
        caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer(ready_at=23.0)
    caplog.set_level(logging.WARNING, "incidents.store.waiting")
    result = await until_ready(server.connect, DSN, 120.0, clock=server.clock,
                               sleep=server.sleep, rand=lambda: 1.0)
    assert result == "pool"
    assert 23.0 <= server.now < 25.5  # retries at most 2 s apart: little lost after ready
    lines = [r.getMessage() for r in caplog.records]
    # The first failure at once, then a line every REPORT_EVERY_S or so, not per attempt.
    assert 3 <= len(lines) < server.attempts
    assert lines[0].startswith("waiting for PostgreSQL at db.example:5433"
                               " (the database system is starting up), 0 s of at most 120 s")
    waited = [float(line.split("), ")[1].split(" s")[0]) for line in lines]
    gaps = [b - a for a, b in zip(waited, waited[1:], strict=False)]
    assert all(REPORT_EVERY_S - 1 <= gap <= REPORT_EVERY_S + 2 for gap in gaps), waited
    assert all("secret" not in line for line in lines)


async def test_gives_up_after_the_timeout_saying_what_to_do() -> None:
    server = FakeServer(ready_at=float("inf"))
    with pytest.raises(StoreUnavailable) as caught:
        await until_ready(server.connect, DSN, 30.0, clock=server.clock, sleep=server.sleep)
    message = str(caught.value)
    assert "db.example:5433 did not become ready within 30 s" in message
    assert "the database system is starting up" in message
    assert "startup_wait_s" in message and "SITROOM_STARTUP_WAIT_S" in message
    assert 30.0 <= server.now < 31.0  # never sleeps past the deadline


async def test_a_missing_database_or_a_bug_is_not_waited_for() -> None:
    server = FakeServer(ready_at=0.0)

    async def missing() -> None:
        server.attempts += 1
        try:
            raise asyncpg.exceptions.InvalidCatalogNameError('database "x" does not exist')
        except asyncpg.exceptions.InvalidCatalogNameError as exc:
            raise StoreUnavailable("no database") from exc

    with pytest.raises(StoreUnavailable):
        await until_ready(missing, DSN, 60.0, clock=server.clock, sleep=server.sleep)
    assert server.attempts == 1 and server.now == 0.0

    async def refused() -> None:
        raise asyncpg.exceptions.InvalidPasswordError("password authentication failed")

    with pytest.raises(asyncpg.exceptions.InvalidPasswordError):
        await until_ready(refused, DSN, 60.0, clock=server.clock, sleep=server.sleep)


def test_server_address_names_host_and_port_only() -> None:
    assert server_address(DSN) == "db.example:5433"
    assert server_address("postgresql://postgres@127.0.0.1/sitroom") == "127.0.0.1:5432"
