"""The picture at a past time, as records: an incident as it stood then, the alarms and reports
seen. `incidents.store.replay` reads them from PostgreSQL; the desk and replay pages show them.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from incidents.model import Alarm, Incident, IncidentStatus, Level, Report


class IncidentAt(msgspec.Struct, frozen=True, kw_only=True):
    """An incident as it stood at a past time."""

    incident: Incident
    """The incident with its status, level and last change as they were then."""
    reconstructed: bool
    """False when its journal says nothing before that time and the current row was used."""


class AlarmSeen(msgspec.Struct, frozen=True, kw_only=True):
    """A stored device alarm with the agency that published it."""

    agency: str
    """Publishing agency (from the topic)."""
    source: str
    """Publishing system or device (from the topic)."""
    alarm: Alarm
    """The alarm as received."""


class AttachedReport(msgspec.Struct, frozen=True, kw_only=True):
    """A report linked to an incident."""

    agency: str
    """Publishing agency (from the topic)."""
    source: str
    """Publishing system (from the topic): a call desk, an app, a unit."""
    received_at: datetime
    """When ingest received it."""
    report: Report
    """The report as received."""


def state_at(current: Incident, status: str | None, level: str | None,
             changed_at: datetime | None) -> IncidentAt:
    """The incident with the status and level its journal gives at the time (pure)."""
    if status is None and level is None:
        return IncidentAt(incident=current, reconstructed=False)
    then = msgspec.structs.replace(
        current, status=IncidentStatus(status) if status else IncidentStatus.REPORTED,
        level=Level(level) if level else current.level,
        updated_at=max(changed_at, current.reported_at) if changed_at else current.reported_at)
    return IncidentAt(incident=then, reconstructed=True)
