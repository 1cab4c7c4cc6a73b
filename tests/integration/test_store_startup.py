"""Start-up steps wait for a PostgreSQL that comes up after them (issue #13: the first
`make demo` after an unclean stop failed with "the database system is starting up")."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from incidents.store import Store, StoreUnavailable, ensure_database
from sitroom import embedded
from tests.support.servers import ServerProcess, free_port, launch, wait_port

pytestmark = pytest.mark.integration

DELAY_S = 3.0


async def test_ensure_database_and_migrate_wait_for_a_server_that_starts_later(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "pg"
    embedded.prepare_postgres(data)  # initdb now: only the server start is delayed
    port = free_port()
    spec = embedded.postgres(data, port)
    log = tmp_path / "postgres.log"
    started: list[ServerProcess] = []

    def start_server() -> None:
        process = launch(spec.argv, log, spec.user)
        started.append(ServerProcess(process, port, spec.argv, log, spec.user))
        wait_port(port, process, log=log)

    async def start_later() -> None:
        await asyncio.sleep(DELAY_S)
        await asyncio.to_thread(start_server)

    caplog.set_level(logging.WARNING, "incidents.store.waiting")
    server_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    later = asyncio.create_task(start_later())
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        await ensure_database(server_dsn, "sitroom", wait_s=60)
        assert loop.time() - began >= DELAY_S
        await later
        store = await Store.connect(f"postgresql://postgres@127.0.0.1:{port}/sitroom", wait_s=5)
        try:
            assert await store.migrate()  # the new database got the schema
        finally:
            await store.close()
    finally:
        await later
        for server in started:
            server.stop()
    waits = [r.getMessage() for r in caplog.records]
    assert waits and waits[0].startswith(f"waiting for PostgreSQL at 127.0.0.1:{port} (")


async def test_without_a_server_start_up_fails_after_the_wait_saying_what_to_do() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(StoreUnavailable) as caught:
        await ensure_database(dsn, "sitroom", wait_s=1.0)
    assert "did not become ready within 1 s" in str(caught.value)
    last = caught.value.__cause__
    assert isinstance(last, StoreUnavailable)  # the last attempt's, with the driver's error
    assert isinstance(last.__cause__, OSError)
