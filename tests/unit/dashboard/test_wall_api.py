"""The wall's figures, shaped from store rows: units per agency, response times, weather,
ticker lines, and the local day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.wall_api import (
    local_day,
    response_times,
    ticker_item,
    units_by_agency,
    weather_of,
)
from incidents.model import Level
from incidents.spatial import UnitPoint
from incidents.taxonomy import load_taxonomy
from incidents.wallboard import JournalEvent, Reading

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def point(unit: str, agency: str, available: bool) -> UnitPoint:
    return UnitPoint(unit=unit, agency=agency, unit_kind=None, lat=37.0, lon=114.5,
                     available=available)


def test_units_are_counted_per_agency_biggest_first_with_bilingual_names() -> None:
    rows = units_by_agency([point("p1", "police", True), point("f1", "fire", True),
                            point("f2", "fire", False), point("f3", "fire", True),
                            point("x1", "port_authority", False)], load_taxonomy())
    assert [(r.agency, r.available, r.engaged) for r in rows] == [
        ("fire", 2, 1), ("police", 1, 0), ("port_authority", 0, 1)]
    assert (rows[0].zh, rows[0].en) == ("消防救援", "Fire and rescue")
    assert (rows[1].zh, rows[1].en) == ("公安", "Public security")
    assert (rows[2].zh, rows[2].en) == ("port_authority", "port_authority")


def test_response_time_is_the_mean_of_reached_incidents_only() -> None:
    rows: list[dict[str, datetime | None]] = [
            {"reported_at": T0, "first_on_scene_at": T0 + timedelta(minutes=10)},
            {"reported_at": T0, "first_on_scene_at": T0 + timedelta(minutes=20)},
            {"reported_at": T0, "first_on_scene_at": None},
            {"reported_at": T0, "first_on_scene_at": T0 - timedelta(minutes=1)}]  # skewed
    times = response_times(rows)
    assert (times.average_s, times.reached, times.reported) == (900.0, 2, 4)
    assert response_times([]).average_s is None


def reading(quantity: str, value: float, minutes: float, station: str | None = "城区站"
            ) -> Reading:
    return Reading(sensor=f"s-{quantity}", station=station, quantity=quantity, value=value,
                   unit="u", ts=T0 - timedelta(minutes=minutes))


def test_weather_takes_the_newest_reading_of_each_figure_and_says_nothing_without_data() -> None:
    found = weather_of([reading("temperature", 18.0, 30), reading("temperature", 19.5, 5),
                        reading("precipitation", 1.2, 2, station=None),
                        reading("wind_speed", 3.0, 1)])
    assert found["temperature"].value == 19.5 and found["temperature"].station == "城区站"
    assert found["rainfall"].value == 1.2 and found["rainfall"].station == "s-precipitation"
    assert found["wind_speed"].at == int((T0 - timedelta(minutes=1)).timestamp() * 1000)
    assert "wind_direction" not in found
    assert weather_of([]) == {}


def event(action: str, data: dict[str, object], seq: int = 7) -> JournalEvent:
    return JournalEvent(seq=seq, at=T0, action=action, actor="leader", data=data,
                        incident_id="i-1", title="仓库起火", level=Level.III)


def test_journal_events_become_bilingual_ticker_lines() -> None:
    names = {"building_fire": ("建筑火灾事故应急预案", "Building fire response plan")}
    dispatch = ticker_item(event("dispatch", {"plan": "building_fire", "orders": ["a", "b"]}),
                           names)
    assert dispatch.key == "j7" and dispatch.kind == "dispatch" and dispatch.level == "III"
    assert dispatch.zh == "调派「建筑火灾事故应急预案」2 个单位 · 仓库起火"
    assert dispatch.en.startswith("Dispatched (Building fire response plan): 2 units")
    ack = ticker_item(event("order_ack", {"unit": "xt-119-01", "state": "on_scene"}, seq=8))
    assert (ack.kind, ack.zh, ack.en) == ("ack", "xt-119-01 已到场 · 仓库起火",
                                          "xt-119-01 on scene · 仓库起火")
    overdue = ticker_item(event("order_overdue", {"unit": "xt-119-02"}, seq=9))
    assert overdue.kind == "overdue" and "超时" in overdue.zh
    manual = ticker_item(event("dispatch", {"plan": None, "orders": ["a"]}))
    assert "单独调派" in manual.zh


def test_today_is_the_local_calendar_day() -> None:
    start, end = local_day(datetime(2025, 6, 1, 17, 30, tzinfo=UTC))  # 01:30 in Beijing
    assert start.isoformat() == "2025-06-02T00:00:00+08:00"
    assert end - start == timedelta(days=1)
