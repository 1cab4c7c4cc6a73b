"""New reports that each open an incident, stored with their incidents and journal events in
one autocommitted statement: the rules' busiest path (120/119 calls) in one round trip."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg

from incidents.feeds import BatchResult, Evaluate
from incidents.journal import JournalEntry
from incidents.model import CASUALTY_FIELDS, Inbound, Incident, Report
from incidents.outcomes import OpenIncident, Rule
from incidents.store.journal_sql import AFTER_LAST_CTES, JournalWriter
from incidents.store.rules_sql import INCIDENT_ROWS, incident_arrays, opened

_REPORT_ROWS = (
    "INSERT INTO reports (id, agency, source, ts, type, lat, lon, text, level, reporter,"
    " received_at, incident_id, deaths, injured, missing, trapped) SELECT * FROM unnest("
    "$28::text[], $29::text[], $30::text[], $31::timestamptz[], $32::text[], $33::float8[],"
    " $34::float8[], $35::text[], $36::text[], $37::text[], $38::timestamptz[], $39::uuid[],"
    " $40::int[], $41::int[], $42::int[], $43::int[])")

# Journal ($1..$14), incidents ($15..$27), reports ($28..$43): all written, or (the head moved
# since this writer's last append) none. A report stored before fails the statement with a
# unique violation (no ON CONFLICT here), which also writes nothing.
_OPEN_REPORTS = (
    f"WITH {AFTER_LAST_CTES},"
    f" opened AS ({INCIDENT_ROWS.format(*range(15, 28))} WHERE EXISTS (SELECT FROM head)),"
    f" stored AS ({_REPORT_ROWS} WHERE EXISTS (SELECT FROM head))"
    " SELECT count(*) FROM head")


class ReportsAtOnce(NamedTuple):
    """A batch of new reports ready to go in one statement (see `plan_reports_at_once`)."""

    incidents: list[Incident]
    entries: list[JournalEntry]
    arguments: tuple[Any, ...]


def plan_reports_at_once(inbound: Sequence[Inbound], evaluate: Evaluate,
                         journal: JournalWriter) -> ReportsAtOnce | None:
    """The statement's incidents, journal entries and parameters for a batch of new reports
    that open one incident each; None when the batch needs write_batch's transaction instead.

    That is when it holds anything but reports or an id twice, when the rules do anything
    else with it (join a report to an incident, ...), or when this writer does not know the
    journal head. Pure but for the journal writer's memory: no connection is needed to say no.
    `evaluate` may have run by then: the caller evaluates the batch again, on a fresh fork of
    its rules, in write_batch.
    """
    reports = [(i.envelope, i.message) for i in inbound if isinstance(i.message, Report)]
    ids = [r.id for _, r in reports]
    if not reports or len(reports) != len(inbound) or len(set(ids)) != len(ids):
        return None
    outcomes = evaluate(inbound)
    opens = [o for o in outcomes if isinstance(o, OpenIncident) and o.rule is Rule.REPORT]
    if len(opens) != len(outcomes) or [o.evidence for o in opens] != [(i,) for i in ids]:
        return None
    incidents, events = opened(opens, datetime.now(UTC))
    sealed = journal.after_last(events)
    if sealed is None:
        return None
    entries, journal_arguments = sealed
    arguments = (
        *journal_arguments, *incident_arrays(incidents, opens),
        ids, [e.agency for e, _ in reports], [e.source for e, _ in reports],
        [r.ts for _, r in reports], [r.type for _, r in reports],
        [r.lat for _, r in reports], [r.lon for _, r in reports],
        [r.text for _, r in reports], [r.level.value if r.level else None for _, r in reports],
        [r.reporter for _, r in reports], [e.received_at for e, _ in reports],
        [uuid.UUID(i.id) for i in incidents],
        *([getattr(r.casualties, f) if r.casualties else None for _, r in reports]
          for f in CASUALTY_FIELDS))
    return ReportsAtOnce(incidents, entries, arguments)


async def write_reports_at_once(conn: asyncpg.Connection, planned: ReportsAtOnce,
                                journal: JournalWriter) -> BatchResult | None:
    """Run the planned statement; None, with nothing written, when a report was stored
    before (a redelivery) or the journal head is not where this writer left it."""
    try:
        written = await conn.fetchval(_OPEN_REPORTS, *planned.arguments)
    except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
        return None  # a redelivery, or a race with another worker's transaction
    if not written:
        journal.moved()
        return None
    journal.appended(planned.entries, after_last=True)
    return BatchResult(positions_new=0, units=[], incidents=planned.incidents, dead_letters=0)
