"""New reports opening incidents in one statement: all of it written, or none of it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from incidents.model import Inbound, Level, Report
from incidents.outcomes import Correlated, OpenIncident, Outcome, Rule
from incidents.store import Store
from tests.support.db import fetch
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.messages import inbound, position, report

pytestmark = pytest.mark.integration
KEY = TEST_JOURNAL_KEY.encode()


def open_each(items: Sequence[Inbound]) -> list[Outcome]:
    """The rules for a type that is never joined: each report opens its own incident."""
    return [OpenIncident(key=f"report:{i.message.id}", type=i.message.type, level=Level.III,
                         title_zh=f"急救：{i.message.text}", title_en="Medical",
                         lat=i.message.lat, lon=i.message.lon, rule=Rule.REPORT,
                         note_zh="首报", note_en="first report", evidence=(i.message.id,))
            for i in items if isinstance(i.message, Report)]


def calls(n: int) -> list[Inbound]:
    return [inbound(report("medical", text=f"120 来电 {k}"), "health", "c120")
            for k in range(n)]


async def rows(database_url: str) -> tuple[int, int, int]:
    """(reports, incidents, journal rows)."""
    [counts] = await fetch(
        database_url,
        "SELECT (SELECT count(*) FROM reports) AS r, (SELECT count(*) FROM incidents) AS i,"
        " (SELECT count(*) FROM incident_events) AS e")
    return counts["r"], counts["i"], counts["e"]


async def test_new_reports_open_their_incidents_with_the_journal(
        store: Store, database_url: str) -> None:
    # Before the writer's first append it does not know the head: the transaction does it.
    assert await store.open_reports(calls(1), open_each) is None
    await store.write_batch(calls(1), [], open_each)
    batch = calls(3)
    result = await store.open_reports(batch, open_each)
    assert result is not None and len(result.incidents) == 3
    linked = await fetch(database_url,
                         "SELECT r.id, i.id AS incident, i.title, i.source_report"
                         " FROM reports r JOIN incidents i ON i.id = r.incident_id")
    by_report = {r["id"]: r for r in linked}
    for item, incident in zip(batch, result.incidents, strict=True):
        message = item.message
        assert isinstance(message, Report)
        row = by_report[message.id]
        assert str(row["incident"]) == incident.id
        assert row["source_report"] == message.id
        assert row["title"] == f"急救：{message.text}"
    assert await rows(database_url) == (4, 4, 4)
    assert await store.verify_journal(KEY) == (4, [], 0)


async def test_a_report_stored_before_writes_nothing(store: Store, database_url: str) -> None:
    first = calls(2)
    await store.write_batch(first, [], open_each)
    again = [*calls(2), first[1]]  # a redelivery among new reports
    assert await store.open_reports(again, open_each) is None
    assert await rows(database_url) == (2, 2, 2)
    result = await store.write_batch(again, [], open_each)  # the transaction skips it
    assert len(result.incidents) == 2
    assert await rows(database_url) == (4, 4, 4)
    assert (await store.verify_journal(KEY))[1:] == ([], 0)


async def test_a_head_moved_by_another_writer_writes_nothing(
        store: Store, database_url: str) -> None:
    await store.write_batch(calls(1), [], open_each)
    other = await Store.connect(database_url, journal_key=KEY)
    try:
        incident = (await other.write_batch(calls(1), [], open_each)).incidents[0].id
        await other.commands.note(incident, "另一个进程", "leader", None)
    finally:
        await other.close()
    batch = calls(2)
    assert await store.open_reports(batch, open_each) is None
    assert await rows(database_url) == (2, 2, 3)
    assert len((await store.write_batch(batch, [], open_each)).incidents) == 2
    # Now this writer wrote the head last: the one-statement path works again.
    assert await store.open_reports(calls(2), open_each) is not None
    assert await store.verify_journal(KEY) == (7, [], 0)


async def test_batches_the_rules_do_more_with_take_the_transaction(
        store: Store, database_url: str) -> None:
    await store.write_batch(calls(1), [], open_each)

    def joins(items: Sequence[Inbound]) -> list[Outcome]:
        return [Correlated(key="report:x", report_id=i.message.id) for i in items]

    assert await store.open_reports(calls(2), joins) is None
    assert await store.open_reports(calls(2), lambda items: []) is None
    twice = calls(1)
    assert await store.open_reports([*twice, *twice], open_each) is None
    with_a_fix = [*calls(1), inbound(position())]
    assert await store.open_reports(with_a_fix, open_each) is None
    assert await rows(database_url) == (1, 1, 1)
