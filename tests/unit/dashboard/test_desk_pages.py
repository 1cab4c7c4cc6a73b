"""The desk's pages without a browser: the desk re-uses the situation page's live parts, an
action is refused by role before it runs, the replay slider's arithmetic, and the analytics
figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import dash
import pytest
from flask import Flask, g

from config.settings import Settings
from dashboard import desk, desk_callbacks, situation
from dashboard.analytics import days_between, figures
from dashboard.auth import Action, AuthMethod, Role, User
from dashboard.desk_callbacks import attempt
from dashboard.desk_data import DeskData, Districts
from dashboard.i18n import Lang
from dashboard.replay import SPAN_MIN, moment, parse_at, slider_value, summarize
from incidents.command import Actor
from incidents.errors import Conflict
from incidents.history import IncidentAt
from incidents.model import LOCAL_TZ, Incident, IncidentStatus, Level
from incidents.taxonomy import load_taxonomy

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TAXONOMY = load_taxonomy()
SETTINGS = Settings(redis_url="redis://127.0.0.1:6379/0")


def walk(component: Any) -> list[Any]:
    return list(desk.walk(component))


def signed_in(role: Role) -> User:
    return User(username=f"{role.value}-1", display_name="测试", role=role, agency=None,
                via=AuthMethod.SESSION)


@pytest.fixture
def server() -> Flask:
    return Flask(__name__)


def test_the_desk_lays_out_the_situation_pages_live_parts(server: Flask) -> None:
    with server.test_request_context("/"):
        g.setdefault("sitroom_user", signed_in(Role.LEADER))  # what the auth gate sets
        page = desk.layout(SETTINGS, TAXONOMY, Districts(), Lang.ZH, False)
    ids = {str(c.id) for c in walk(page) if getattr(c, "id", None)}
    # The situation page's map, KPI tiles, badge, silent feeds, clock and live configuration …
    assert {situation.MAP_ID, situation.LIVE_ID, situation.FEEDS_ID, situation.CLOCK_ID,
            situation.CONFIG_ID, situation.KPI_UNITS_ID, situation.TICK_ID} <= ids
    header = next(c for c in walk(page) if "desk-header" in str(getattr(c, "className", "")))
    assert situation.FEEDS_ID in {getattr(c, "id", None) for c in walk(header)}
    # … with the desk's list, panel, dialog and the ring of the selected incident.
    assert {"desk-list", "desk-panel", "desk-head", "desk-dialog", "desk-focus",
            "desk-act-verify", "desk-act-dispatch", "desk-lvl-I", "desk-note"} <= ids
    perm = next(c for c in walk(page) if getattr(c, "id", None) == "desk-perm")
    assert perm.data == {"act": True, "dispatch": True, "conference": False,
                         "role": "测试 · 指挥长"}
    conference = next(c for c in walk(page) if getattr(c, "id", None) == "desk-act-conference")
    assert conference.disabled and "未配置" in conference.title
    assert desk.video_settings(SETTINGS) is None
    text = str([getattr(c, "href", "") for c in walk(page)] + [getattr(c, "src", "")
                                                              for c in walk(page)])
    assert "http://" not in text and "https://" not in text


def test_an_operator_is_shown_as_such_and_refused_before_anything_runs(server: Flask) -> None:
    ran: list[Actor] = []

    def verify(actor: Actor) -> str:
        ran.append(actor)
        return "核实"

    with server.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        g.setdefault("sitroom_user", signed_in(Role.OPERATOR))
        assert desk.permissions(Lang.EN).act is False
        refused = attempt(Lang.ZH, Action.INCIDENT_ACT, verify)
    assert not refused.ok and "值班员" in refused.text and ran == []

    with server.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        g.setdefault("sitroom_user", signed_in(Role.LEADER))
        done = attempt(Lang.EN, Action.INCIDENT_ACT, verify)
        assert done.ok and done.text == "Done: 核实"
        assert ran == [Actor(name="leader-1", client="10.1.2.3")]

        def conflict(actor: Actor) -> str:
            raise Conflict("事件已是 II 级", "the incident is already level II")

        assert attempt(Lang.EN, Action.INCIDENT_ACT, conflict).text == (
            "the incident is already level II")
        assert attempt(Lang.ZH, Action.INCIDENT_ACT, conflict).outputs()[1] == (
            "desk-msg desk-msg-err")


def test_the_replay_slider_counts_minutes_back_from_its_anchor() -> None:
    assert slider_value(NOW, None) == 0
    assert slider_value(NOW, NOW - timedelta(minutes=90, seconds=20)) == -90
    assert slider_value(NOW, NOW - timedelta(days=3)) == -SPAN_MIN
    assert slider_value(NOW, NOW + timedelta(hours=1)) == 0
    assert moment(NOW, -90) == NOW - timedelta(minutes=90) and moment(NOW, None) == NOW
    assert parse_at("2026-11-26T09:30") == datetime(2026, 11, 26, 9, 30, tzinfo=LOCAL_TZ)
    assert parse_at("2026-11-26T01:30:00+00:00") == datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
    assert parse_at("yesterday") is None and parse_at(None) is None


def then(ident: str, level: Level, status: IncidentStatus) -> IncidentAt:
    return IncidentAt(incident=Incident(
        id=ident, type="fire", level=level, status=status, title="t", lat=37.0, lon=114.5,
        reported_at=NOW, updated_at=NOW, agency="fire"), reconstructed=True)


def test_the_replay_summary_counts_what_was_open() -> None:
    summary = summarize(7, [then("a", Level.II, IncidentStatus.VERIFIED),
                            then("b", Level.II, IncidentStatus.CLOSED),
                            then("c", Level.IV, IncidentStatus.REPORTED)])
    assert summary.units_online == 7
    assert summary.open_by_level == {Level.I: 0, Level.II: 1, Level.III: 0, Level.IV: 1}


def row(ident: str, kind: str, level: str, day: int, verify_min: float | None,
        scene_min: float | None, status: str = "verified") -> dict[str, Any]:
    reported = datetime(2026, 11, day, 1, 0, tzinfo=UTC)
    return {"id": ident, "type": kind, "level": level, "status": status, "lat": 37.0,
            "lon": 114.5, "reported_at": reported,
            "verified_at": reported + timedelta(minutes=verify_min) if verify_min else None,
            "first_on_scene_at": (reported + timedelta(minutes=scene_min) if scene_min
                                  else None)}


def test_analytics_figures() -> None:
    rows = [row("a", "fire", "III", 24, 4, 12), row("b", "fire", "II", 24, 6, None, "closed"),
            row("c", "flood", "II", 26, 10, 30), row("d", "flood", "IV", 26, None, None)]
    districts = {"a": "130502", "b": "130502", "c": "130503", "d": None}
    names = {"130502": "襄都区", "130503": "信都区"}
    found = figures(rows, date(2026, 11, 23), date(2026, 11, 26), TAXONOMY, districts, names,
                    Lang.ZH)
    assert (found.total, found.still_open) == (4, 3)
    assert (found.median_verify_min, found.median_scene_min) == (6.0, 21.0)
    bars = {t["name"]: t["y"] for t in found.over_time["data"]}
    assert bars == {"火灾": [0, 2, 0, 0], "洪涝（城市内涝、河道超警）": [0, 0, 0, 2]}
    assert found.over_time["data"][0]["x"] == ["11-23", "11-24", "11-25", "11-26"]
    to_verify, to_scene = found.response["data"]
    assert sorted(to_verify["y"]) == [4.0, 6.0, 10.0] and len(to_scene["x"]) == 2
    assert to_verify["name"] == "接报→核实"
    (district,) = found.by_district["data"]
    assert dict(zip(district["y"], district["x"], strict=True)) == {
        "襄都区": 2, "信都区": 1, "市外": 1}
    assert found.by_level["data"][0]["values"] == [0, 2, 1, 1]
    assert days_between(date(2026, 11, 30), date(2026, 12, 1)) == [date(2026, 11, 30),
                                                                    date(2026, 12, 1)]
    empty = figures([], date(2026, 11, 26), date(2026, 11, 26), TAXONOMY, {}, names, Lang.EN)
    assert (empty.total, empty.median_verify_min, empty.over_time["data"]) == (0, None, [])


def test_the_lists_filters_and_selection_leave_the_map_alone() -> None:
    app = dash.Dash(__name__)
    desk_callbacks.register(app, cast(DeskData, None), TAXONOMY, None, situation.MAP_ID)
    listing = ("desk-f-", "desk-ltab", "desk-list-data", "desk-other")
    for output, spec in app.callback_map.items():
        inputs = {i["id"] for i in spec["inputs"] if isinstance(i["id"], str)}
        if any(i.startswith(listing) for i in inputs):
            assert situation.MAP_ID not in output and "desk-focus" not in output, output
    # The lists leave as data, and selecting an incident re-reads no list on the server.
    (refresh,) = [spec for out, spec in app.callback_map.items() if "desk-list-data" in out
                  and "desk-list-drawn" not in out]
    assert "desk-selected" not in {i["id"] for i in refresh["inputs"]}
