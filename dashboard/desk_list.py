"""The desk's left column, pure: the incident list's filter and order, and the rows of the
incident, unit and alarm lists as view models, as plain data for the browser's windowed
lists (assets/desk_list.js), and as Dash components (the replay page's short list). No I/O
here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from dash import html

from dashboard.desk_text import (
    LABELS,
    TIME_WINDOWS,
    agency_name,
    ago,
    alarm_state_name,
    data_attrs,
    level_short,
    stamp,
    status_name,
    type_name,
    unit_kind_name,
)
from dashboard.geojson import agency_colour, is_online
from dashboard.i18n import Lang
from incidents.history import AlarmSeen
from incidents.lifecycle import severity
from incidents.model import Incident, IncidentStatus, Level, UnitState
from incidents.taxonomy import Taxonomy

ROW = "desk-row"
"""Pattern-matching id type of an incident row: {"type": ROW, "id": incident id}."""
OUTSIDE = "outside"
"""District filter value of incidents outside every district."""
OPEN = "open"
"""Status filter value of every status but closed."""
ALL = "all"
"""Filter value meaning no filter."""


class SortKey(StrEnum):
    """How the incident list is ordered."""

    TIME = "time"
    """Most recently reported first."""
    LEVEL = "level"
    """Most severe first, then most recent."""


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What the leader narrowed the incident list to; empty sets mean "any"."""

    levels: frozenset[Level] = frozenset()
    """Levels to show."""
    types: frozenset[str] = frozenset()
    """Incident type codes to show."""
    districts: frozenset[str] = frozenset()
    """District codes to show (`OUTSIDE` for incidents outside the city)."""
    statuses: frozenset[IncidentStatus] = frozenset()
    """Statuses to show."""
    window: timedelta | None = None
    """Only incidents reported within this long before now."""
    sort: SortKey = SortKey.TIME
    """Order of the list."""

    @classmethod
    def from_controls(cls, levels: Iterable[str] | None, types: Iterable[str] | None,
                      districts: Iterable[str] | None, status: str | None,
                      window: str | None, sort: str | None) -> ListFilter:
        """The filter the list's controls describe (values as the browser sends them)."""
        if status in (None, "", ALL):
            statuses: frozenset[IncidentStatus] = frozenset()
        elif status == OPEN:
            statuses = frozenset(IncidentStatus) - {IncidentStatus.CLOSED}
        else:
            statuses = frozenset({IncidentStatus(status)})
        return cls(levels=frozenset(Level(v) for v in levels or ()),
                   types=frozenset(types or ()), districts=frozenset(districts or ()),
                   statuses=statuses, window=TIME_WINDOWS.get(window or "any"),
                   sort=SortKey(sort) if sort else SortKey.TIME)


def matches(incident: Incident, district: str | None, flt: ListFilter, now: datetime) -> bool:
    """Whether one incident passes the filter; `district` is its district code or None."""
    if flt.levels and incident.level not in flt.levels:
        return False
    if flt.types and incident.type not in flt.types:
        return False
    if flt.statuses and incident.status not in flt.statuses:
        return False
    if flt.districts and (district or OUTSIDE) not in flt.districts:
        return False
    return flt.window is None or incident.reported_at >= now - flt.window


def select(incidents: Iterable[Incident], districts: Mapping[str, str | None],
           flt: ListFilter, now: datetime) -> list[Incident]:
    """The incidents that pass the filter, in the filter's order (ties broken by id)."""
    kept = [i for i in incidents if matches(i, districts.get(i.id), flt, now)]
    by_time = sorted(kept, key=lambda i: (i.reported_at, i.id), reverse=True)
    if flt.sort is SortKey.LEVEL:
        return sorted(by_time, key=lambda i: -severity(i.level))  # stable: newest first within
    return by_time


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One line of the incident list, ready to show."""

    id: str
    """Incident id."""
    level: Level
    """Severity (colours the row)."""
    status: IncidentStatus
    """Life-cycle state (styles the badge)."""
    level_text: str
    """"II级" / "Lv II"."""
    type_text: str
    """Type name."""
    status_text: str
    """Status name."""
    title: str
    """Short description."""
    place: str
    """District name, or "outside the city"."""
    when: str
    """Reported at, "11-26 09:15"."""
    age: str
    """"5分钟前" / "5 min ago"."""


def incident_rows(incidents: Sequence[Incident], districts: Mapping[str, str | None],
                  district_names: Mapping[str, str], taxonomy: Taxonomy, lang: Lang,
                  now: datetime) -> list[IncidentRow]:
    """View models of the list's rows, in the given order."""
    outside = LABELS("outside", lang)
    return [IncidentRow(
        id=i.id, level=i.level, status=i.status, level_text=level_short(i.level, lang),
        type_text=type_name(taxonomy, i.type, lang), status_text=status_name(i.status, lang),
        title=i.title, place=district_names.get(districts.get(i.id) or "", outside),
        when=stamp(i.reported_at), age=ago(i.reported_at, now, lang)) for i in incidents]


def render_incident_rows(rows: Sequence[IncidentRow], selected: str | None, lang: Lang, *,
                         clickable: bool = True) -> list[Any]:
    """The rows (buttons that select the incident, or plain blocks when not `clickable`), or a
    line saying there are none."""
    if not rows:
        return [html.Div(LABELS("empty_list", lang), className="desk-empty")]
    return [_row(r, r.id == selected, clickable) for r in rows]


def _row(row: IncidentRow, selected: bool, clickable: bool) -> Any:
    children = [
        html.Div(className="desk-row-top", children=[
            html.Span(row.level_text, className="desk-level-badge"),
            html.Span(row.type_text, className="desk-row-type"),
            html.Span(row.status_text, className=f"desk-status desk-status-{row.status.value}"),
        ]),
        html.Div(row.title, className="desk-row-title"),
        html.Div(className="desk-row-meta", children=[
            html.Span(row.place), html.Span(f"{row.when} · {row.age}"),
        ]),
    ]
    css = "desk-row" + (" desk-row-selected" if selected else "")
    style = {"--level-colour": row.level.colour}
    if not clickable:
        return html.Div(children, className=css + " desk-row-static", style=style,
                        **data_attrs(incident=row.id, status=row.status.value,
                                     level=row.level.value))
    return html.Button(children, type="button", id={"type": ROW, "id": row.id},
                       className=css, style=style, **data_attrs(incident=row.id))


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One line of the unit list."""

    unit: str
    """Call sign."""
    agency: str
    """Agency code."""
    agency_text: str
    """Agency name."""
    kind_text: str
    """Unit kind name."""
    seen: str
    """Last fix, "11-26 09:15"."""
    online: bool
    """Whether the last fix is recent."""
    busy: bool
    """Whether it holds an open order."""


def unit_rows(units: Iterable[UnitState], busy: Iterable[str], agency: str | None,
              taxonomy: Taxonomy, lang: Lang, now: datetime, online_s: int) -> list[UnitRow]:
    """Units of one agency (all when None), online first, then by agency and call sign."""
    engaged = set(busy)
    rows = [UnitRow(unit=u.unit, agency=u.agency, agency_text=agency_name(taxonomy, u.agency,
                                                                          lang),
                    kind_text=unit_kind_name(taxonomy, u.unit_type, lang), seen=stamp(u.ts),
                    online=is_online(u, now, online_s), busy=u.unit in engaged)
            for u in units if agency in (None, "", ALL) or u.agency == agency]
    return sorted(rows, key=lambda r: (not r.online, r.agency, r.unit))


# --- the lists as data for the browser (assets/desk_list.js draws the visible rows) -------

ListData = dict[str, Any]
"""What a list sends to the browser: {"kind", "rows", "empty", "label"?, "head"?}; every row a flat
list whose first item is its key. Plain data, so the browser can draw only the rows in view
and update them one by one (see docs/decisions.md 63)."""


def incident_list(rows: Sequence[IncidentRow], lang: Lang) -> ListData:
    """The incident list as data: per row [id, level, status, level colour, level text,
    type, status text, title, place, "when · age"]."""
    return {"kind": "incidents", "empty": LABELS("empty_list", lang), "rows": [
        [r.id, r.level.value, r.status.value, r.level.colour, r.level_text, r.type_text,
         r.status_text, r.title, r.place, f"{r.when} · {r.age}"] for r in rows]}


def unit_list(rows: Sequence[UnitRow], lang: Lang) -> ListData:
    """The unit list as data: per row [unit, row class, tooltip, dot colour, and the cells
    call sign, agency, kind, last fix, state]."""
    head = [LABELS(k, lang) for k in ("u_unit", "f_agency", "u_kind", "u_seen", "u_state")]
    return {"kind": "units", "label": LABELS("tab_units", lang), "head": head,
            "empty": LABELS("empty_units", lang), "rows": [
        [r.unit, "desk-vrow-busy" if r.busy else "" if r.online else "desk-dim", "",
         agency_colour(r.agency), r.unit, r.agency_text, r.kind_text, r.seen,
         LABELS("busy" if r.busy else "online" if r.online else "offline", lang)]
        for r in rows]}


def alarm_list(alarms: Sequence[AlarmSeen], taxonomy: Taxonomy, lang: Lang) -> ListData:
    """Recent alarms as data, newest first: per row [id, row class, text, no dot, and the
    cells time, agency, device, type, state]."""
    head = [LABELS(k, lang) for k in ("a_time", "f_agency", "a_device", "a_type", "u_state")]
    return {"kind": "alarms", "label": LABELS("tab_alarms", lang), "head": head,
            "empty": LABELS("empty_alarms", lang), "rows": [
        [a.alarm.id, f"desk-alarm-{a.alarm.state.value}", a.alarm.text or "", "",
         stamp(a.alarm.ts), agency_name(taxonomy, a.agency, lang), a.alarm.device,
         a.alarm.type, alarm_state_name(a.alarm.state, lang)] for a in alarms]}


def digest(data: Any) -> str:
    """A short fingerprint of what a list would send: an unchanged list is not sent again."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def agency_options(taxonomy: Taxonomy, lang: Lang) -> list[dict[str, str]]:
    """Options of the units' and alarms' agency filter."""
    return [{"label": LABELS("all", lang), "value": ALL}] + [
        {"label": agency_name(taxonomy, code, lang), "value": code}
        for code in taxonomy.agencies]
