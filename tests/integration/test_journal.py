"""The journal on a real PostgreSQL: appended by ingest and by hand, refused edits, and
`verify` finding rows edited, deleted or inserted behind the trigger's back."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from incidents.journal import Event, Problem
from incidents.model import Envelope, Inbound, Kind, Report
from incidents.store import Store
from tests.support.keys import TEST_JOURNAL_KEY

pytestmark = pytest.mark.integration
KEY = TEST_JOURNAL_KEY.encode()


def report(n: int) -> Inbound:
    now = datetime.now(UTC)
    return Inbound(
        envelope=Envelope(topic="sitroom/v1/safety/report/desk", agency="safety",
                          kind=Kind.REPORT, source="desk", received_at=now),
        message=Report(id=f"r-{n}-{uuid.uuid4().hex[:6]}", ts=now, type="chemical_leak",
                       lat=37.05, lon=114.5, text=f"储罐泄漏 {n}"),
    )


async def journal_with_rows(store: Store) -> str:
    """Three reports open three incidents; then four notes on the first."""
    result = await store.write_batch([report(i) for i in range(3)], [])
    incident = result.incidents[0].id
    for i in range(4):
        await store.commands.note(incident, f"现场第{i}次反馈", "leader-wang", "10.1.2.3")
    return incident


async def tamper(database_url: str, sql: str, *args: object) -> None:
    """Run SQL as a superuser with triggers off: what an intruder with the database can do."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_ingest_and_leader_events_form_one_chain_that_verifies(store: Store) -> None:
    await journal_with_rows(store)
    checked, findings, unsealed = await store.verify_journal(KEY)
    assert (checked, findings, unsealed) == (7, [], 0)


async def test_writers_that_interleave_keep_one_chain(store: Store, database_url: str) -> None:
    # Each writer appends after the head it last wrote, in one statement, while that is still
    # the head; another writer moving it, or a rollback, must send it back to the locked read.
    other = await Store.connect(database_url, journal_key=KEY)
    try:
        incident = (await store.write_batch([report(0)], [])).incidents[0].id
        for i in range(3):
            await store.commands.note(incident, f"甲{i}", "a", None)
            await other.commands.note(incident, f"乙{i}", "b", None)
        await asyncio.gather(*(s.commands.note(incident, f"并{i}", "c", None)
                               for i in range(6) for s in (store, other)))
        with pytest.raises(RuntimeError):
            async with store.pool.acquire() as conn, conn.transaction():
                await store.journal.append(conn, [Event(incident, "a", "note", {"text": "x"})])
                raise RuntimeError("rolled back: the head it wrote never was")
        await store.commands.note(incident, "回滚之后", "a", None)
        await store.commands.note(incident, "再一次", "a", None)
    finally:
        await other.close()
    checked, findings, unsealed = await store.verify_journal(KEY)
    assert (checked, findings, unsealed) == (1 + 6 + 12 + 2, [], 0)


async def test_the_trigger_refuses_updates_and_deletes(store: Store, database_url: str) -> None:
    await journal_with_rows(store)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE incident_events SET actor = 'x' WHERE seq = 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM incident_events WHERE seq = 1")
    finally:
        await conn.close()


async def test_an_edited_row_is_found(store: Store, database_url: str) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "UPDATE incident_events SET data = $1::jsonb WHERE seq = 5",
                 json.dumps({"text": "改写过的反馈"}))
    _, findings, _ = await store.verify_journal(KEY)
    assert [(f.seq, f.problem) for f in findings] == [(5, Problem.EDITED)]


async def test_a_deleted_row_is_found(store: Store, database_url: str) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "DELETE FROM incident_events WHERE seq = 4")
    _, findings, _ = await store.verify_journal(KEY)
    assert {(f.seq, f.problem) for f in findings} == {(5, Problem.GAP),
                                                      (5, Problem.CHAIN_BROKEN)}


async def test_an_inserted_row_is_found(store: Store, database_url: str) -> None:
    incident = await journal_with_rows(store)
    # Make room in the middle by renumbering the tail, then slip a row in with a copied MAC.
    await tamper(database_url, "UPDATE incident_events SET seq = seq + 100 WHERE seq > 5")
    await tamper(
        database_url,
        "INSERT INTO incident_events (seq, incident_id, at, actor, action, client, data,"
        " prev_mac, mac) SELECT 6, $1, at, 'intruder', 'note', client, '{}'::jsonb, mac, mac"
        " FROM incident_events WHERE seq = 5", uuid.UUID(incident))
    _, findings, _ = await store.verify_journal(KEY)
    problems = {f.problem for f in findings}
    assert Problem.EDITED in problems and Problem.GAP in problems
    assert any(f.seq == 6 and f.problem is Problem.EDITED for f in findings)


async def test_removing_the_newest_rows_is_found(store: Store, database_url: str) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "DELETE FROM incident_events WHERE seq >= 6")
    _, findings, _ = await store.verify_journal(KEY)
    assert {f.problem for f in findings} == {Problem.TAIL_REMOVED}


def run_journal(database_url: str, anchors: Path, action: str = "verify",
                key: str = TEST_JOURNAL_KEY, broker: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """`sitroom journal ACTION` as a child process, anchoring to the file `anchors` (and to
    the broker when `broker` gives its SITROOM_MQTT_* settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITROOM_MQTT")}
    env |= {"SITROOM_DATABASE_URL": database_url, "SITROOM_JOURNAL_KEY": key,
            "SITROOM_JOURNAL__ANCHOR_FILE": str(anchors), **(broker or {})}
    return subprocess.run([sys.executable, "-m", "sitroom", "journal", action], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


async def test_the_cli_says_intact_then_names_the_tampered_row(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await journal_with_rows(store)
    intact = run_journal(database_url, tmp_path / "anchors")
    assert intact.returncode == 0, intact.stderr
    assert "journal intact: 7 rows verified" in intact.stdout
    await tamper(database_url, "UPDATE incident_events SET actor = 'someone-else' WHERE seq = 2")
    tampered = run_journal(database_url, tmp_path / "anchors")
    assert tampered.returncode == 1
    assert "seq 2: edited" in tampered.stderr and "日志被篡改" in tampered.stderr


async def test_the_cli_refuses_a_weak_key(database_url: str, tmp_path: Path) -> None:
    weak = run_journal(database_url, tmp_path / "anchors", key="secret")
    assert weak.returncode != 0 and "SITROOM_JOURNAL_KEY" in weak.stderr
