"""The rule engine's plumbing (forks, clock, outcomes as JSON) and its configuration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec
import pytest

from incidents.model import Kind, Position
from ingest.rules import (
    Change,
    OpenIncident,
    Outcome,
    RuleEngine,
    RulesError,
    RuleSet,
    UpdateIncident,
    load_rules,
    parse_rules,
)
from tests.support.rules import SCHOOL, START, TEST_RULES, FakeClock, Rig, envelope, only

# --- engine plumbing ----------------------------------------------------------------------

def test_a_fork_takes_a_batch_and_leaves_the_engine_as_it_was(rig: Rig) -> None:
    only(rig.level(64.0), OpenIncident)
    fork = Rig(rig.engine.fork(), rig.clock)
    assert only(fork.level(64.7), UpdateIncident).change is Change.ESCALATED
    only(fork.report()[1], OpenIncident)
    assert only(rig.level(64.7), UpdateIncident).change is Change.ESCALATED  # as if uncommitted
    assert rig.engine.open_keys() == {"gauge:xt-wl-qilihe-01"}


def test_positions_and_other_kinds_raise_nothing(rig: Rig) -> None:
    fix = Position(id="p-1", ts=START, unit="xt-110-001", lat=SCHOOL[0], lon=SCHOOL[1])
    assert rig.engine.evaluate(envelope("police", Kind.POSITION, START), fix) == []


def test_outcomes_round_trip_as_tagged_json(rig: Rig) -> None:
    outcomes = [*rig.level(64.0), *rig.level(64.7), *rig.report()[1]]
    encoded = msgspec.json.encode(outcomes)
    assert b'"outcome":"open"' in encoded and b'"outcome":"update"' in encoded
    assert msgspec.json.decode(encoded, type=list[Outcome]) == outcomes


def test_the_clock_must_be_timezone_aware(rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RuleEngine(rules, lambda: datetime(2026, 7, 20, 6, 0))  # naive, on purpose


# --- configuration ------------------------------------------------------------------------

def test_the_shipped_rules_load_and_raise_on_the_documented_gauge() -> None:
    shipped = load_rules()
    assert {g.sensor for g in shipped.river.gauges} >= {"xt-wl-qilihe-01"}
    assert {s.id for s in shipped.sites} >= {"xt-hs-003"}
    clock = FakeClock()
    rig = Rig(RuleEngine(shipped, clock), clock)
    assert rig.level(63.42) == []  # the example reading in docs/feeds.md
    assert only(rig.level(99.0), OpenIncident).key == "gauge:xt-wl-qilihe-01"


def test_load_rules_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(TEST_RULES, "utf-8")
    assert load_rules(path) == parse_rules(TEST_RULES)
    with pytest.raises(RulesError, match="missing.toml: cannot read"):
        load_rules(tmp_path / "missing.toml")


def broken(old: str, new: str) -> str:
    assert old in TEST_RULES
    return TEST_RULES.replace(old, new, 1)


@pytest.mark.parametrize(("text", "expected"), [
    (broken("radius_m = 500\nlimit", "radius = 500\nlimit"),
     r"unknown field `radius` - at `\$\.site\[0\]`"),
    (broken("radius_m = 500\nlimit", "radius_m = -50\nlimit"),
     r"Expected `float` > 0\.0 - at `\$\.site\[0\]\.radius_m`"),
    (broken("[37.0669, 114.5043],\n        [37.0641, 114.5043]]", "[37.0669, 114.5043]]"),
     r"\$\.area\[0\]\.ring \(xt-sa-school-01\): polygon not closed: the last point "
     r"\[37\.0669, 114\.5043\] must repeat the first \[37\.0641, 114\.5043\]"),
    (broken("[37.0669, 114.5077], [37.0669, 114.5043]", "[37.0669, 114.5043], [37.0669, 114.5077]"),
     r"\$\.area\[0\]\.ring \(xt-sa-school-01\): not a simple polygon: Self-intersection"),
    (broken("guarantee_m = 64.60", "guarantee_m = 63.00"),
     r"\$\.river\.gauge\[0\] \(xt-wl-qilihe-01\): guarantee_m 63\.0 must be above "
     r"warning_m 63\.8"),
    (broken('gas = "H2S", alarm = 10.0, danger = 20.0', 'gas = "SO2", alarm = 1.0'),
     r"\$\.site\[0\]\.limit\[0\] \(xt-hs-003 SO2\): unknown gas 'SO2'"),
    (broken('gas = "H2S", alarm = 10.0, danger = 20.0', 'gas = "H2S", alarm = 10.0, danger = 5.0'),
     r"danger 5\.0 must be above alarm 10\.0"),
    (broken('id = "xt-hs-004"', 'id = "xt-hs-003"'), r"\$\.site: id 'xt-hs-003' appears more"),
    (broken('id = "xt-hs-004"', 'id = "xt-hs:004"'), r"\$\.site\[1\]\.id"),
    (broken('level = "III"\nring', 'level = "V"\nring'), r"Invalid enum value 'V'"),
    (broken("[reports]", "[reports"), r"not valid TOML"),
    (broken("warning_m = 63.80", "warning_m = nan"), r"Expected `float` >= -500\.0"),
    (broken("alarm = 25.0 }", "alarm = inf }"), r"Expected `float` <= 1000000\.0"),
])
def test_configuration_errors_say_what_to_fix_and_where(text: str, expected: str) -> None:
    with pytest.raises(RulesError, match=r"^test_rules\.toml: .*" + expected):
        parse_rules(text, "test_rules.toml")
