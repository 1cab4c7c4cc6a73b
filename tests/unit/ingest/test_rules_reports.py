"""The rules' report correlation: close reports of one type are one incident."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidents.model import Level
from ingest.rules import Correlated, KeyedIncident, OpenIncident, Rule, RuleEngine, RuleSet
from tests.support.rules import FIRE, START, FakeClock, Rig, offset, only

# --- report correlation -------------------------------------------------------------------

def test_three_close_fire_reports_are_one_incident_and_a_later_one_opens_another(
        rig: Rig) -> None:
    first, outcomes = rig.report()
    opened = only(outcomes, OpenIncident)
    assert (opened.key, opened.type, opened.level, opened.rule) == (
        f"reports:fire:{first}", "fire", Level.IV, Rule.REPORT)
    assert opened.title_zh.startswith("火灾：居民楼")
    rig.clock.advance(minutes=4)
    second, outcomes = rig.report(at=offset(FIRE, north_m=200, east_m=150))
    assert outcomes == [Correlated(key=opened.key, report_id=second)]
    rig.clock.advance(minutes=6)
    third, outcomes = rig.report(at=offset(FIRE, east_m=-280))
    assert outcomes == [Correlated(key=opened.key, report_id=third)]
    rig.clock.advance(minutes=20)
    fourth, outcomes = rig.report()
    assert only(outcomes, OpenIncident).key == f"reports:fire:{fourth}"


def test_reports_far_apart_or_of_different_types_are_separate_incidents(rig: Rig) -> None:
    _, fire = rig.report()
    _, far = rig.report(at=offset(FIRE, north_m=2000))
    _, accident = rig.report(type="traffic_accident")
    keys = {only(fire, OpenIncident).key, only(far, OpenIncident).key,
            only(accident, OpenIncident).key}
    assert len(keys) == 3


def test_per_type_settings_radius_level_and_no_correlation(rig: Rig) -> None:
    _, outcomes = rig.report(type="traffic_accident")
    assert only(outcomes, OpenIncident).level is Level.III
    _, outcomes = rig.report(at=offset(FIRE, north_m=400), type="traffic_accident")
    only(outcomes, OpenIncident)  # 400 m: beyond the accidents' 300 m
    only(rig.report(type="medical")[1], OpenIncident)
    only(rig.report(type="medical")[1], OpenIncident)  # every 120 call is its own patient
    _, outcomes = rig.report(type="gas_explosion", level=Level.II)
    opened = only(outcomes, OpenIncident)
    assert (opened.level, opened.title_en.split(":")[0]) == (Level.II, "gas_explosion")


def test_a_report_joins_the_nearest_incident_of_its_type(rig: Rig) -> None:
    _, west = rig.report(at=offset(FIRE, east_m=-300))
    _, east = rig.report(at=offset(FIRE, east_m=300))
    _, outcomes = rig.report(at=offset(FIRE, east_m=100))
    assert only(outcomes, Correlated).key == only(east, OpenIncident).key != only(
        west, OpenIncident).key


def test_a_forgotten_report_incident_takes_no_more_reports(rig: Rig) -> None:
    _, outcomes = rig.report()
    rig.engine.forget(only(outcomes, OpenIncident).key)
    only(rig.report()[1], OpenIncident)


def test_restored_report_incidents_correlate_while_their_window_lasts(rules: RuleSet) -> None:
    clock = FakeClock()
    engine = RuleEngine(rules, clock)
    engine.restore([
        KeyedIncident(key="reports:fire:c119-0042", level=Level.III, lat=FIRE[0], lon=FIRE[1],
                      opened_at=START - timedelta(minutes=30),
                      last_report_at=START - timedelta(minutes=5)),
        KeyedIncident(key="reports:fire:c119-0001", level=Level.IV, lat=FIRE[0], lon=FIRE[1],
                      opened_at=START - timedelta(hours=3)),
    ])
    assert engine.open_keys() == {"reports:fire:c119-0042"}
    report_id, outcomes = Rig(engine, clock).report()
    assert outcomes == [Correlated(key="reports:fire:c119-0042", report_id=report_id)]
    with pytest.raises(ValueError, match="not a rule key"):
        engine.restore([KeyedIncident(key="c119-0042", level=Level.IV, lat=0, lon=0,
                                      opened_at=START)])
