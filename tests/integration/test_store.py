"""The PostgreSQL store against a real server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from incidents.model import (
    Alarm,
    AlarmState,
    DeadLetter,
    Envelope,
    Inbound,
    IncidentStatus,
    Kind,
    Level,
    Observation,
)
from incidents.store import Store, StoreUnavailable
from incidents.store.session import ARRAY_TYPES
from incidents.store.store import migrations
from tests.support.messages import inbound, minutes_ago, position, report

pytestmark = pytest.mark.integration


async def test_migrate_twice_applies_nothing_the_second_time(store: Store) -> None:
    assert await store.migrate() == []  # the template already had 0001
    assert await store.migrate() == []


async def test_connections_go_back_to_the_pool_clean(store: Store) -> None:
    # The pool skips asyncpg's reset query on release: the migration's session lock and an
    # abandoned transaction must not stay with the connection the next caller gets.
    await store.migrate()
    with pytest.raises(RuntimeError):
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute("CREATE TEMP TABLE left_behind (x int)")
            raise RuntimeError("the caller fails mid-transaction")
    async with store.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                   " AND pid = pg_backend_pid()")
        assert held == 0
        assert await conn.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
    assert store.pool.get_size() == 1  # the same connection both times


async def test_pooled_connections_know_the_store_array_types_before_their_first_batch(
        store: Store, postgres_server: str) -> None:
    # asyncpg introspects an array type the first time a connection sees it: the pool does it
    # when a connection opens, so no batch pays for it. A bare connection shows the difference.
    statement = "SELECT " + ", ".join(
        f"cardinality(${n}::{name}[])" for n, name in enumerate(ARRAY_TYPES, start=1))
    values = [[1], [b"x"], [1.5], [2], ['{"a": 1}'], [datetime.now(UTC)], [uuid.uuid4()]]
    assert len(values) == len(ARRAY_TYPES)

    async def introspections(conn: asyncpg.Connection) -> int:
        logged: list[str] = []
        conn.add_query_logger(lambda q: logged.append(q.query))
        assert list(await conn.fetchrow(statement, *values)) == [1] * len(values)
        return sum("pg_catalog.pg_type" in q or "pg_type" in q for q in logged)

    async with store.pool.acquire() as conn:
        assert await introspections(conn) == 0
    bare = await asyncpg.connect(postgres_server)
    try:
        assert await introspections(bare) > 0
    finally:
        await bare.close()


async def test_migrate_on_an_empty_database_creates_every_table(postgres_server: str) -> None:
    conn = await asyncpg.connect(postgres_server)
    await conn.execute('DROP DATABASE IF EXISTS "sitroom_t_empty" WITH (FORCE)')
    await conn.execute('CREATE DATABASE "sitroom_t_empty"')
    await conn.close()
    dsn = postgres_server.rpartition("/")[0] + "/sitroom_t_empty"
    fresh = await Store.connect(dsn)
    try:
        shipped = [version for version, _ in migrations()]
        assert shipped[:6] == ["0001_init", "0002_feeds", "0003_cap", "0004_rules",
                               "0005_journal_chain", "0006_dispatch"]
        assert await fresh.migrate() == shipped
        assert await fresh.migrate() == []
        counts = await fresh.counts()
        assert counts == {"positions": 0, "units": 0, "reports": 0, "open_incidents": 0,
                          "dead_letters": 0, "feeds": 0}
    finally:
        await fresh.close()
        conn = await asyncpg.connect(postgres_server)
        await conn.execute('DROP DATABASE "sitroom_t_empty" WITH (FORCE)')
        await conn.close()


async def test_same_position_twice_is_stored_once(store: Store) -> None:
    fix = inbound(position())
    first = await store.write_batch([fix, fix], [])
    second = await store.write_batch([fix], [])
    assert (first.positions_new, second.positions_new) == (1, 0)
    assert await store.position_ids() == [fix.message.id]


async def test_an_older_fix_does_not_move_the_unit_back(store: Store) -> None:
    newer = inbound(position(lat=37.10, ts=minutes_ago(1)))
    older = inbound(position(lat=36.90, ts=minutes_ago(5)))
    await store.write_batch([newer], [])
    await store.write_batch([older], [])
    (unit,) = await store.units()
    assert unit.lat == pytest.approx(37.10)
    assert (await store.counts())["positions"] == 2  # history keeps both


async def test_latest_fix_in_a_batch_wins(store: Store) -> None:
    a = inbound(position(lat=37.0, ts=minutes_ago(2)))
    b = inbound(position(lat=37.2, ts=minutes_ago(1)))
    result = await store.write_batch([b, a], [])
    assert [u.lat for u in result.units] == [pytest.approx(37.2)]


async def test_deferred_units_move_only_when_written_and_never_back(store: Store) -> None:
    newer = inbound(position(lat=37.10, ts=minutes_ago(1)))
    older = inbound(position(lat=36.90, ts=minutes_ago(5)))
    first = await store.write_batch([newer], [], defer_units=True)
    second = await store.write_batch([older], [], defer_units=True)
    assert (first.positions_new, second.positions_new) == (1, 1)
    assert await store.units() == []  # positions stored, units not yet written
    await store.update_units([*second.unit_fixes, *first.unit_fixes])
    (unit,) = await store.units()
    assert unit.lat == pytest.approx(37.10)
    await store.update_units(second.unit_fixes)  # a late, older fix alone
    (unit,) = await store.units()
    assert unit.lat == pytest.approx(37.10)


async def test_plain_feeds_go_in_one_statement_and_are_safe_to_repeat(store: Store) -> None:
    now = datetime.now(UTC)

    def arrived(kind: Kind, message: Observation | Alarm) -> Inbound:
        return Inbound(envelope=Envelope(topic="t", agency="water", kind=kind, source="s",
                                         received_at=now), message=message)

    rain = [arrived(Kind.OBSERVATION, Observation(
        id=f"obs-{i}", ts=now, sensor="xt-rain-001", quantity="rainfall", value=1.5 + i,
        unit="mm", lat=37.0, lon=114.5)) for i in range(3)]
    smoke = [arrived(Kind.ALARM, Alarm(id="alarm-1", ts=now, device="xt-smoke-001",
                                      type="smoke", state=AlarmState.TEST, lat=37.0,
                                      lon=114.5))]
    fixes = [inbound(position(unit=f"car-{i}")) for i in range(2)]
    batch = [*rain, *fixes, *smoke]
    first = await store.write_batch(batch, [], defer_units=True)
    again = await store.write_batch(batch, [], defer_units=True)
    assert (first.positions_new, again.positions_new) == (2, 0)
    counts = await store.counts()
    assert (counts["positions"], counts["feeds"]) == (2, 4)
    only_feeds = await store.write_batch(rain[:1], [], defer_units=True)  # and no positions
    assert only_feeds.positions_new == 0 and (await store.counts())["feeds"] == 4


async def test_units_catch_up_with_fixes_a_stopped_worker_never_wrote(store: Store) -> None:
    await store.write_batch([inbound(position(unit="a", lat=37.0, ts=minutes_ago(3)))], [])
    # A worker committed these positions and died before writing `units`:
    lost = [inbound(position(unit="a", lat=37.3, ts=minutes_ago(1))),
            inbound(position(unit="a", lat=37.2, ts=minutes_ago(2))),
            inbound(position(unit="b", lat=36.9, ts=minutes_ago(2)))]
    await store.write_batch(lost, [], defer_units=True)
    assert await store.catch_up_units() == 2
    units = {u.unit: u.lat for u in await store.units()}
    assert units == {"a": pytest.approx(37.3), "b": pytest.approx(36.9)}
    assert await store.catch_up_units() == 0  # nothing newer left


async def test_a_report_opens_one_incident_with_a_journal_entry(store: Store) -> None:
    item = inbound(report(level=Level.II), agency="fire", source="c119")
    result = await store.write_batch([item, item], [])
    again = await store.write_batch([item], [])
    assert len(result.incidents) == 1 and again.incidents == []
    incident = result.incidents[0]
    assert (incident.level, incident.status, incident.type) == (Level.II, IncidentStatus.REPORTED,
                                                                 "fire")
    assert [i.id for i in await store.open_incidents()] == [incident.id]
    (event,) = await store.incident_events(incident.id)
    assert event["action"] == "reported" and event["actor"] == "fire/c119"
    assert event["data"]["text"] == "居民楼起火"


async def test_report_without_level_defaults_to_level_iv(store: Store) -> None:
    result = await store.write_batch([inbound(report(level=None))], [])
    assert result.incidents[0].level is Level.IV


async def test_dead_letters_keep_raw_bytes_and_reason(store: Store) -> None:
    letter = DeadLetter(topic="sitroom/v1/police/position/x", payload=b"\xff{bad",
                        received_at=datetime.now(UTC), reason="malformed_json",
                        detail="JSON is malformed", message_id=None)
    await store.write_batch([], [letter])
    (stored,) = await store.dead_letters()
    assert stored.letter.payload == b"\xff{bad"
    assert (stored.letter.reason, stored.letter.topic) == ("malformed_json", letter.topic)


async def test_the_incident_journal_refuses_update_and_delete(store: Store,
                                                             database_url: str) -> None:
    await store.write_batch([inbound(report())], [])
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE incident_events SET actor = 'someone else'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM incident_events")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("TRUNCATE incident_events CASCADE")
    finally:
        await conn.close()


async def test_units_within_radius_use_earthdistance_without_postgis(store: Store,
                                                                     database_url: str) -> None:
    await store.write_batch([inbound(position(unit="near", lat=37.07, lon=114.50)),
                             inbound(position(unit="far", lat=37.50, lon=115.00))], [])
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT unit FROM units WHERE earth_box(ll_to_earth(37.071, 114.501), 2000)"
            " @> ll_to_earth(lat, lon)"
            " AND earth_distance(ll_to_earth(37.071, 114.501), ll_to_earth(lat, lon)) < 2000"
        )
    finally:
        await conn.close()
    assert [r["unit"] for r in rows] == ["near"]


async def test_an_unreachable_server_raises_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        await Store.connect("postgresql://postgres@127.0.0.1:1/nothing")


async def test_concurrent_batches_over_the_same_units_do_not_deadlock(database_url: str) -> None:
    """Two workers commit batches touching the same units in opposite orders."""
    a, b = await Store.connect(database_url), await Store.connect(database_url)
    try:
        units = [f"u-{i:03d}" for i in range(200)]
        for _ in range(15):
            forward = [inbound(position(unit=u)) for u in units]
            backward = [inbound(position(unit=u)) for u in reversed(units)]
            await asyncio.gather(a.write_batch(forward, []), b.write_batch(backward, []))
    finally:
        await a.close()
        await b.close()
    assert len(await a_units(database_url)) == 200


async def a_units(dsn: str) -> list[str]:
    store = await Store.connect(dsn)
    try:
        return [u.unit for u in await store.units()]
    finally:
        await store.close()
