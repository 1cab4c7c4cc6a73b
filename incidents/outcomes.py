"""What the rules decide: open an incident, update one, or attach a report to one.

Every incident a rule manages has a stable `key` (``gauge:xt-wl-qilihe-01``,
``site:xt-hs-003:H2S``, ``area:xt-sa-school-01:smoke``, ``reports:fire:<first report id>``);
the caller maps keys to incident ids in the store. At most one incident per key is open.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from incidents.model import Level


class Rule(StrEnum):
    """The rule that opened an incident."""

    RIVER_GAUGE = "river_gauge"
    """A water level above a gauge's 警戒水位 or 保证水位."""
    HAZARDOUS_SITE = "hazardous_site"
    """A gas concentration above a limit at a 重大危险源."""
    SENSITIVE_AREA = "sensitive_area"
    """A device alarm inside a sensitive area."""
    REPORT = "report"
    """A report that no open incident of its type correlates with."""
    GEOFENCE = "geofence"
    """A watched vehicle (e.g. carrying hazardous goods) inside a sensitive area."""


class Change(StrEnum):
    """Why an incident is updated."""

    ESCALATED = "escalated"
    """A higher threshold was crossed: the level rose."""
    NEW_MAXIMUM = "new_maximum"
    """The reading rose by at least the configured step over the last reported maximum."""
    BREACHED_AGAIN = "breached_again"
    """Above the threshold again after falling back below it."""
    CLEARED = "cleared"
    """Back below the lowest threshold, or every device's alarm cleared; the level stays."""
    ANOTHER_DEVICE = "another_device"
    """One more device in the area raised the same alarm."""
    DWELL = "dwell"
    """A watched vehicle stayed in the area longer than allowed: the level rose."""


def gauge_key(sensor: str) -> str:
    """Key of the incident of a river gauge."""
    return f"gauge:{sensor}"


def site_key(site: str, gas: str) -> str:
    """Key of the incident of one gas at one hazardous site."""
    return f"site:{site}:{gas}"


def area_key(area: str, alarm_type: str) -> str:
    """Key of the incident of one alarm type in one sensitive area."""
    return f"area:{area}:{alarm_type}"


def fence_key(rule: str, unit: str, area: str) -> str:
    """Key of the incident of one watched vehicle in one sensitive area."""
    return f"fence:{rule}:{unit}:{area}"


def report_key(report_type: str, first_report: str) -> str:
    """Key of the incident opened by a report (report ids may themselves contain `:`)."""
    return f"reports:{report_type}:{first_report}"


class OpenIncident(
    msgspec.Struct, frozen=True, kw_only=True, gc=False,  # acyclic: no GC tracking needed
    tag_field="outcome", tag="open",
):
    """Open a new incident."""

    key: str
    """Stable key of the incident; later outcomes name it."""
    type: str
    """Incident type, e.g. flood, chemical_leak, fire."""
    level: Level
    """Level the rule raises."""
    title_zh: str
    title_en: str
    lat: float
    """Where the incident is, WGS-84 (the gauge, the site, the device, the first report)."""
    lon: float
    rule: Rule
    """The rule that fired."""
    note_zh: str
    """What the rule saw, for the incident's journal."""
    note_en: str
    evidence: tuple[str, ...]
    """Ids of the messages that made the rule fire."""


class UpdateIncident(
    msgspec.Struct, frozen=True, kw_only=True, gc=False,  # acyclic: no GC tracking needed
    tag_field="outcome", tag="update",
):
    """Add to an open incident's journal, and raise its level if `level` is more severe."""

    key: str
    level: Level
    """The level the rule asks for now; never lower than before (rules do not de-escalate)."""
    change: Change
    note_zh: str
    note_en: str
    evidence: tuple[str, ...]


class Correlated(
    msgspec.Struct, frozen=True, kw_only=True, gc=False,  # acyclic: no GC tracking needed
    tag_field="outcome", tag="correlated",
):
    """A report belongs to an open incident: attach it, open nothing."""

    key: str
    report_id: str


Outcome = OpenIncident | UpdateIncident | Correlated


class KeyedIncident(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """An open incident that a rule manages, as the store keeps it; for RuleEngine.restore."""

    key: str
    """Its rule key."""
    level: Level
    """Its current level."""
    lat: float
    lon: float
    opened_at: datetime
    """When it was opened (the first report's time, for reports)."""
    last_report_at: datetime | None = None
    """Time of its latest correlated report, for report incidents; defaults to opened_at."""
