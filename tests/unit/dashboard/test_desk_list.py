"""The desk's incident list: filters, order, rows in both languages; units and alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dash import html

from dashboard.desk_list import (
    ListFilter,
    SortKey,
    alarm_list,
    digest,
    incident_list,
    incident_rows,
    render_incident_rows,
    select,
    unit_list,
    unit_rows,
)
from dashboard.i18n import Lang
from incidents.history import AlarmSeen
from incidents.model import Alarm, AlarmState, Incident, IncidentStatus, Level, UnitState
from incidents.taxonomy import load_taxonomy

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
TAXONOMY = load_taxonomy()
NAMES = {"130502": "襄都区", "130503": "信都区"}


def incident(ident: str, level: Level, status: IncidentStatus, minutes_ago: int,
             kind: str = "fire") -> Incident:
    at = NOW - timedelta(minutes=minutes_ago)
    return Incident(id=ident, type=kind, level=level, status=status, title=f"标题{ident}",
                    lat=37.0, lon=114.5, reported_at=at, updated_at=at, agency="fire")


INCIDENTS = [
    incident("a", Level.IV, IncidentStatus.REPORTED, 5),
    incident("b", Level.I, IncidentStatus.RESPONDING, 30, "chemical_leak"),
    incident("c", Level.II, IncidentStatus.CLOSED, 90),
    incident("d", Level.II, IncidentStatus.VERIFIED, 600, "flood"),
    incident("e", Level.I, IncidentStatus.CONTAINED, 60 * 30, "chemical_leak"),
]
DISTRICTS = {"a": "130502", "b": "130503", "c": "130502", "d": None, "e": "130502"}


def props(component: Any) -> dict[str, Any]:
    """A Dash component's properties as the browser receives them."""
    found: dict[str, Any] = component.to_plotly_json()["props"]
    return found


def ids(found: list[Incident]) -> list[str]:
    return [i.id for i in found]


def test_controls_become_a_filter() -> None:
    flt = ListFilter.from_controls(["I", "II"], ["fire"], ["130502"], "open", "6h", "level")
    assert flt.levels == {Level.I, Level.II} and flt.types == {"fire"}
    assert flt.statuses == set(IncidentStatus) - {IncidentStatus.CLOSED}
    assert flt.window == timedelta(hours=6) and flt.sort is SortKey.LEVEL
    assert ListFilter.from_controls(None, None, None, "all", "any", None) == ListFilter()
    assert ListFilter.from_controls([], [], [], "closed", None, None).statuses == {
        IncidentStatus.CLOSED}


@pytest.mark.parametrize(("flt", "expected"), [
    (ListFilter(), ["a", "b", "c", "d", "e"]),
    (ListFilter(statuses=frozenset(IncidentStatus) - {IncidentStatus.CLOSED}),
     ["a", "b", "d", "e"]),
    (ListFilter(levels=frozenset({Level.I})), ["b", "e"]),
    (ListFilter(types=frozenset({"chemical_leak", "flood"})), ["b", "d", "e"]),
    (ListFilter(districts=frozenset({"130502"})), ["a", "c", "e"]),
    (ListFilter(districts=frozenset({"outside", "130503"})), ["b", "d"]),
    (ListFilter(window=timedelta(hours=1)), ["a", "b"]),
    (ListFilter(sort=SortKey.LEVEL), ["b", "e", "c", "d", "a"]),
    (ListFilter(levels=frozenset({Level.II}), statuses=frozenset({IncidentStatus.VERIFIED}),
                window=timedelta(hours=24)), ["d"]),
])
def test_select_filters_and_orders(flt: ListFilter, expected: list[str]) -> None:
    assert ids(select(INCIDENTS, DISTRICTS, flt, NOW)) == expected


def test_rows_in_both_languages() -> None:
    chosen = select(INCIDENTS, DISTRICTS, ListFilter(), NOW)
    zh = incident_rows(chosen, DISTRICTS, NAMES, TAXONOMY, Lang.ZH, NOW)
    assert [(r.level_text, r.type_text, r.status_text, r.place) for r in zh[:2]] == [
        ("IV级", "火灾", "接报", "襄都区"), ("I级", "危险化学品泄漏", "处置中", "信都区")]
    assert zh[0].when == "11-26 09:55" and zh[0].age == "5分钟前"
    assert zh[3].place == "市外"
    en = incident_rows(chosen, DISTRICTS, NAMES, TAXONOMY, Lang.EN, NOW)
    assert (en[1].level_text, en[1].status_text, en[3].place) == (
        "Lv I", "Responding", "Outside the city")
    assert (zh[4].age, en[4].age) == ("30小时前", "30 h ago")


def test_rendered_rows_mark_the_selection_and_carry_the_id() -> None:
    rows = incident_rows(INCIDENTS[:2], DISTRICTS, NAMES, TAXONOMY, Lang.ZH, NOW)
    first, second = render_incident_rows(rows, "b", Lang.ZH)
    assert isinstance(first, html.Button)
    assert props(first)["id"] == {"type": "desk-row", "id": "a"}
    assert "desk-row-selected" not in props(first)["className"]
    assert "desk-row-selected" in props(second)["className"]
    assert props(second)["data-incident"] == "b"
    (static, _) = render_incident_rows(rows, None, Lang.ZH, clickable=False)
    assert isinstance(static, html.Div) and "desk-row-static" in props(static)["className"]
    (empty,) = render_incident_rows([], None, Lang.EN)
    assert empty.children == "No incident matches"


def test_units_of_one_agency_online_first() -> None:
    units = [UnitState(unit="p2", agency="police", lat=0, lon=0, ts=NOW - timedelta(hours=1)),
             UnitState(unit="p1", agency="police", lat=0, lon=0, ts=NOW, unit_type="patrol_car"),
             UnitState(unit="f1", agency="fire", lat=0, lon=0, ts=NOW)]
    rows = unit_rows(units, {"p1"}, None, TAXONOMY, Lang.ZH, NOW, 300)
    assert [(r.unit, r.online, r.busy) for r in rows] == [
        ("f1", True, False), ("p1", True, True), ("p2", False, False)]
    assert (rows[1].kind_text, rows[0].kind_text) == ("巡逻警车", "–")
    police = unit_rows(units, set(), "police", TAXONOMY, Lang.EN, NOW, 300)
    assert [r.unit for r in police] == ["p1", "p2"]
    assert police[0].agency_text.startswith("Public security")


def test_the_lists_leave_as_compact_rows_keyed_by_id() -> None:
    rows = incident_rows(INCIDENTS[:2], DISTRICTS, NAMES, TAXONOMY, Lang.ZH, NOW)
    data = incident_list(rows, Lang.ZH)
    assert data["kind"] == "incidents" and data["empty"] == "暂无符合条件的事件"
    assert data["rows"][0] == ["a", "IV", "reported", Level.IV.colour, "IV级", "火灾", "接报",
                               "标题a", "襄都区", "11-26 09:55 · 5分钟前"]
    assert incident_list([], Lang.EN)["rows"] == []
    units = [UnitState(unit="p1", agency="police", lat=0, lon=0, ts=NOW, unit_type="patrol_car"),
             UnitState(unit="p2", agency="police", lat=0, lon=0, ts=NOW - timedelta(hours=1))]
    listed = unit_list(unit_rows(units, {"p1"}, None, TAXONOMY, Lang.EN, NOW, 300), Lang.EN)
    assert listed["head"][0] == "Unit" and len(listed["head"]) == 5
    (busy, offline) = listed["rows"]
    assert busy[:2] == ["p1", "desk-vrow-busy"] and busy[4] == "p1" and len(busy) == 9
    assert offline[1] == "desk-dim"


def test_alarm_list_rows() -> None:
    seen = [AlarmSeen(agency="fire", source="s", alarm=Alarm(
        id="x", ts=NOW, device="smoke-1", type="smoke", state=AlarmState.ACTIVE, lat=0, lon=0))]
    data = alarm_list(seen, TAXONOMY, Lang.ZH)
    (row,) = data["rows"]
    assert row[0] == "x" and row[1] == "desk-alarm-active"
    assert "smoke-1" in row and "告警中" in row and any("消防救援" in str(c) for c in row)
    assert alarm_list([], TAXONOMY, Lang.EN)["empty"] == "No alarm in the last 24 hours"


def test_a_list_is_fingerprinted_by_its_content() -> None:
    rows = incident_rows(INCIDENTS, DISTRICTS, NAMES, TAXONOMY, Lang.ZH, NOW)
    same = incident_rows(INCIDENTS, DISTRICTS, NAMES, TAXONOMY, Lang.ZH, NOW)
    assert digest(incident_list(rows, Lang.ZH)) == digest(incident_list(same, Lang.ZH))
    later = incident_rows(INCIDENTS, DISTRICTS, NAMES, TAXONOMY, Lang.ZH,
                          NOW + timedelta(minutes=1))
    assert digest(incident_list(rows, Lang.ZH)) != digest(incident_list(later, Lang.ZH))
