"""The simulator's callers: levels from the rules, one incident per simulated event (the real
rule engine judges), follow-ups that join it."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import timedelta

import msgspec
import pytest

from incidents.model import Kind, Level, Report
from ingest.rules import Correlated, OpenIncident, RuleEngine
from ingest.rules.config import RuleSet, load_rules
from ingest.rules.index import RuleIndex
from ingest.sim_events import REPORTS, EventReports
from ingest.sim_units import Hub, load_hubs
from tests.support.rules import START, FakeClock, envelope

RULES = load_rules()
"""The shipped rules: the simulator reads the same file."""
HUBS = load_hubs()


def callers(seed: int = 1, rules: RuleSet = RULES, hubs: list[Hub] = HUBS,
            follow_up_share: float = 0.3) -> EventReports:
    ids = itertools.count(1)
    return EventReports(hubs, rules, random.Random(seed), new_id=lambda: f"e{next(ids)}",
                        follow_up_share=follow_up_share)


def calls(made: EventReports, count: int, clock: FakeClock, seed: int = 2
          ) -> list[tuple[str, Report]]:
    """`count` reports, a few minutes apart on `clock`."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        clock.advance(minutes=rng.expovariate(1 / 3))
        report = made.next_report(clock.now)
        if report is not None:
            out.append(report)
    return out


def event_of(report: Report) -> str:
    return report.id.rsplit("-", 1)[0]


def test_every_report_carries_the_level_the_rules_give_its_type() -> None:
    index = RuleIndex(RULES)
    reports = [r for _, r in calls(callers(), 400, FakeClock())]
    assert {r.type for r in reports} == {kind for kind, _, _ in REPORTS}
    for report in reports:
        assert report.level is index.report_spec(report.type).level, report
    # The bug this replaced: 40 cm of standing water raised level I floods.
    assert all(r.level is not Level.I for r in reports if r.type == "flood")


def test_levels_follow_the_rules_file_when_it_changes() -> None:
    flood = next(t for t in RULES.reports.types if t.type == "flood")
    changed = msgspec.structs.replace(RULES, reports=msgspec.structs.replace(
        RULES.reports, level=Level.III, types=tuple(
            msgspec.structs.replace(t, level=Level.II) if t is flood else t
            for t in RULES.reports.types)))
    index = RuleIndex(changed)
    reports = [r for _, r in calls(callers(rules=changed), 300, FakeClock())]
    levels = {r.type: r.level for r in reports}
    assert levels["flood"] is Level.II
    for report_type, level in levels.items():
        assert level is index.report_spec(report_type).level


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_event_opens_one_incident_and_its_follow_ups_join_it(seed: int) -> None:
    clock = FakeClock()
    engine = RuleEngine(RULES, clock)
    opened: Counter[str] = Counter()
    joined: Counter[str] = Counter()
    made = calls(callers(seed), 500, FakeClock(), seed=seed + 10)
    for agency, report in made:  # the engine sees each report at the time it was made
        clock.now = report.ts
        for outcome in engine.evaluate(envelope(agency, Kind.REPORT, report.ts), report):
            if isinstance(outcome, OpenIncident):
                opened[event_of(report)] += 1
                assert report.id.endswith("-1"), f"follow-up {report.id} opened an incident"
            elif isinstance(outcome, Correlated):
                joined[event_of(report)] += 1
    events = {event_of(r) for _, r in made}
    assert set(opened) == events and set(opened.values()) == {1}
    assert sum(joined.values()) >= 50  # follow-ups happened, and every one joined
    assert sum(joined.values()) == sum(1 for _, r in made if not r.id.endswith("-1"))


def test_medical_calls_get_no_follow_ups_and_ids_are_unique() -> None:
    made = [r for _, r in calls(callers(follow_up_share=0.9), 300, FakeClock())]
    assert len({r.id for r in made}) == len(made)
    medical = [r for r in made if r.type == "medical"]
    assert medical and all(r.id.endswith("-1") for r in medical)


def test_no_two_events_of_one_type_are_reported_from_one_district_at_once() -> None:
    made = callers(follow_up_share=0.0)
    clock = FakeClock()
    for _ in range(200):
        clock.advance(minutes=1)
        made.next_report(clock.now)
        pairs = [(e.type, e.place) for e in made.active]
        assert len(pairs) == len(set(pairs))


def test_once_every_type_is_busy_in_every_district_nothing_new_is_reported() -> None:
    hub = Hub(code="130502", name="襄都区", lat=37.06959, lon=114.55774, radius_km=4.0,
              weight=1)
    made = callers(hubs=[hub], follow_up_share=0.0)
    at = START
    first = [made.next_report(at) for _ in range(len(REPORTS))]
    assert all(f is not None for f in first)
    # Every (type, district) is being reported: a caller is a follow-up or nobody new.
    later = made.next_report(at + timedelta(seconds=1))
    assert later is None or not later[1].id.endswith("-1")


def test_the_rules_window_ends_an_event() -> None:
    made = callers(follow_up_share=1.0)
    first = made.next_report(START)
    assert first is not None
    window = made.spec(first[1].type).window
    assert made.active
    made.next_report(START + window + timedelta(minutes=200))
    assert all(e.last_at > START for e in made.active)
