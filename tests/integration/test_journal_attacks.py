"""Attacks on the journal by someone who holds the database but not the key: resetting the
chain's start, wiping the journal, cutting its tail, restoring an older copy. `sitroom journal
verify` exits 1 and names each; the anchor kept outside the database catches the rollback."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from incidents.store import Store
from tests.conftest import Broker
from tests.integration.test_journal import journal_with_rows, run_journal, tamper

pytestmark = pytest.mark.integration


def tampered(database_url: str, anchors: Path, *named: str) -> str:
    """Run verify: it must fail and name each of `named`; its report."""
    result = run_journal(database_url, anchors)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "JOURNAL TAMPERED" in result.stderr
    for problem in named:
        assert problem in result.stderr, result.stderr
    return result.stderr


async def test_moving_the_chain_start_past_every_row_is_a_reset(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await journal_with_rows(store)
    # Everything "predates the chain" and the head is unsealed: before, this read "intact".
    await tamper(database_url, "UPDATE journal_head SET chain_start = seq, head_mac = NULL")
    report = tampered(database_url, tmp_path / "anchors", "reset")
    assert "7 sealed rows lie before the chain's start 7" in report


async def test_moving_the_start_but_keeping_the_head_mac_shows_too(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "UPDATE journal_head SET chain_start = 5")
    tampered(database_url, tmp_path / "anchors", "reset", "tail_removed")


async def test_a_wiped_journal_beside_existing_incidents_is_named(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "DELETE FROM incident_events")
    await tamper(database_url, "UPDATE journal_head SET seq = 0, chain_start = 0,"
                 " mac = '\\x00'::bytea, head_mac = NULL")
    report = tampered(database_url, tmp_path / "anchors", "unjournaled")
    assert "3 incidents have no journal row" in report


async def test_a_truncated_tail_is_named(store: Store, database_url: str,
                                         tmp_path: Path) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "DELETE FROM incident_events WHERE seq > 5")
    tampered(database_url, tmp_path / "anchors", "tail_removed")


async def test_a_rollback_to_an_older_copy_is_caught_by_the_anchor(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    anchors = tmp_path / "backup-site" / "anchors.jsonl"
    incident = await journal_with_rows(store)
    older = await store.journal_head()  # the head as an older copy of the database holds it
    await store.commands.note(incident, "第五次反馈", "leader-wang", "10.1.2.3")
    anchored = run_journal(database_url, anchors, "anchor")
    assert anchored.returncode == 0, anchored.stderr
    assert "anchored row 8" in anchored.stdout
    assert oct(anchors.stat().st_mode & 0o777) == "0o600"
    intact = run_journal(database_url, anchors)
    assert intact.returncode == 0, intact.stderr
    assert "checked against the anchor of" in intact.stdout and "(row 8)" in intact.stdout

    # "Restore" the older copy: the newest row gone, the head back where it was — every MAC
    # in it genuine, so only the anchor can tell.
    start, head = older
    assert head is not None
    await tamper(database_url, "DELETE FROM incident_events WHERE seq > $1", head[0])
    await tamper(database_url, "UPDATE journal_head SET seq = $1, mac = $2, head_mac = $3",
                 *head)
    report = tampered(database_url, anchors, "rolled_back")
    assert "row 8 was anchored outside the database" in report


async def test_a_forged_head_is_never_anchored(store: Store, database_url: str,
                                               tmp_path: Path) -> None:
    await journal_with_rows(store)
    await tamper(database_url, "UPDATE journal_head SET head_mac = '\\x01'::bytea")
    refused = run_journal(database_url, tmp_path / "anchors", "anchor")
    assert refused.returncode == 1 and "not anchored" in refused.stderr
    assert not (tmp_path / "anchors").exists()


async def test_edited_anchor_lines_are_ignored_with_a_warning(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    await journal_with_rows(store)
    assert run_journal(database_url, anchors, "anchor").returncode == 0
    line = anchors.read_text()
    anchors.write_text(line + line.replace('"seq":7', '"seq":9'))  # pretend a later head
    result = run_journal(database_url, anchors)
    assert result.returncode == 0, result.stderr  # the forged line proves nothing
    assert "1 line(s)" in result.stderr and "(row 7)" in result.stdout


async def test_the_anchor_on_the_broker_catches_a_rollback_when_the_file_is_gone(
    store: Store, database_url: str, tmp_path: Path, mosquitto: Broker
) -> None:
    broker = {"SITROOM_MQTT_URL": mosquitto.url, "SITROOM_MQTT_PROTOCOL": mosquitto.protocol,
              "SITROOM_TOPIC_ROOT": f"t{uuid.uuid4().hex[:8]}/v1"}
    anchors = tmp_path / "anchors.jsonl"
    incident = await journal_with_rows(store)
    _, older = await store.journal_head()
    assert older is not None
    await store.commands.note(incident, "第五次反馈", "leader-wang", "10.1.2.3")
    anchored = run_journal(database_url, anchors, "anchor", broker=broker)
    assert anchored.returncode == 0, anchored.stderr
    assert "published on" in anchored.stdout

    # The intruder restores the older copy and deletes the anchor file too.
    await tamper(database_url, "DELETE FROM incident_events WHERE seq > $1", older[0])
    await tamper(database_url, "UPDATE journal_head SET seq = $1, mac = $2, head_mac = $3",
                 *older)
    anchors.unlink()
    result = run_journal(database_url, anchors, broker=broker)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "rolled_back" in result.stderr and "(row 8)" in result.stdout
