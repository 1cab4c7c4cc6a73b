"""The rule engine under generated messages, and what ingest may keep out of its transaction."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.model import (
    Alarm,
    AlarmState,
    FieldMessage,
    Kind,
    Level,
    Observation,
    Position,
    Report,
)
from ingest.rules import Correlated, OpenIncident, Outcome, RuleEngine, RuleSet, parse_rules
from tests.support.rules import (
    FIRE,
    GATE_STATION,
    OFFICE,
    PARK,
    QILIHE,
    SCHOOL,
    SEWAGE_WORKS,
    START,
    TEST_RULES,
    FakeClock,
    Rig,
    envelope,
    next_id,
    offset,
)

# --- properties ---------------------------------------------------------------------------

ANCHORS = {"observation": [QILIHE, SEWAGE_WORKS, GATE_STATION], "alarm": [SCHOOL, PARK, OFFICE],
           "report": [FIRE], "position": [FIRE]}
KEY = re.compile(r"^(gauge:[^:]+|site:[^:]+:[^:]+|area:[^:]+:[^:]+|reports:[a-z0-9_]+:.+)\Z")


@st.composite
def places(draw: st.DrawFn, kind: str) -> tuple[float, float]:
    """Mostly near the places where `kind` has rules, sometimes anywhere on Earth."""
    if draw(st.integers(0, 4)) == 0:
        return (draw(st.floats(-90, 90)), draw(st.floats(-180, 180)))
    anchor = draw(st.sampled_from(ANCHORS[kind]))
    spread = draw(st.sampled_from([100.0, 800.0]))
    return offset(anchor, draw(st.floats(-spread, spread)), draw(st.floats(-spread, spread)))


@st.composite
def messages(draw: st.DrawFn, number: int, now: datetime) -> FieldMessage:
    ts = now + timedelta(seconds=draw(st.integers(-600, 60) | st.integers(-7200, 7200)))
    kind = draw(st.sampled_from(["observation", "alarm", "report", "position"]))
    lat, lon = draw(places(kind))
    message_id = f"m-{number}"
    if kind == "observation":
        quantity, unit = draw(st.sampled_from(
            [("water_level", "m"), ("h2s", "ppm"), ("ch4", "%LEL"), ("h2s", "mg/m3"),
             ("rainfall", "mm")]))
        return Observation(
            id=message_id, ts=ts, quantity=quantity, unit=unit, lat=lat, lon=lon,
            sensor=draw(st.sampled_from(["xt-wl-qilihe-01", "xt-wl-fuyang-01", "s1", "s2"])),
            value=draw(st.floats(62, 66) | st.floats(0, 60) | st.floats()))
    if kind == "alarm":
        return Alarm(id=message_id, ts=ts, lat=lat, lon=lon,
                     device=draw(st.sampled_from(["d1", "d2", "d3"])),
                     type=draw(st.sampled_from(["smoke", "intrusion"])),
                     state=draw(st.sampled_from(AlarmState)), text=draw(st.none() | st.text()))
    if kind == "report":
        return Report(id=message_id, ts=ts, lat=lat, lon=lon, text=draw(st.text(max_size=200)),
                      type=draw(st.sampled_from(["fire", "traffic_accident", "medical", "x"])),
                      level=draw(st.none() | st.sampled_from(Level)))
    return Position(id=message_id, ts=ts, unit="u1", lat=lat, lon=lon)


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple[float, FieldMessage | None]]:
    """Steps of (minutes the clock moves, a message or None to close the latest incident)."""
    steps: list[tuple[float, FieldMessage | None]] = []
    now = START
    for number in range(draw(st.integers(1, 40))):
        minutes = draw(st.floats(0, 5) | st.floats(0, 90))
        now += timedelta(minutes=minutes)
        closing = draw(st.integers(0, 9)) == 0
        steps.append((minutes, None if closing else draw(messages(number, now))))
    return steps


def run(rules: RuleSet, steps: list[tuple[float, FieldMessage | None]]) -> list[list[Outcome]]:
    clock = FakeClock()
    engine = RuleEngine(rules, clock)
    opened: list[str] = []
    results: list[list[Outcome]] = []
    for minutes, message in steps:
        clock.advance(minutes=minutes)
        if message is None:
            if opened:
                engine.forget(opened.pop())
            results.append([])
            continue
        outcomes = engine.evaluate(envelope("water", Kind.OBSERVATION, clock.now), message)
        for outcome in outcomes:
            assert KEY.match(outcome.key), outcome.key
            if isinstance(outcome, OpenIncident):
                assert outcome.key not in opened  # one open incident per key
                assert outcome.evidence == (message.id,)
                opened.append(outcome.key)
            else:
                assert outcome.key in opened  # only incidents still open are updated
        if isinstance(message, Report):  # a report opens an incident or joins one
            assert len(outcomes) == 1 and isinstance(outcomes[0], OpenIncident | Correlated)
        results.append(outcomes)
    return results


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=scenarios())
def test_evaluate_never_raises_and_its_keys_are_stable(
        steps: list[tuple[float, FieldMessage | None]]) -> None:
    rules = parse_rules(TEST_RULES)
    assert run(rules, steps) == run(rules, steps)  # same messages, same outcomes and keys



# --- what ingest may keep out of the rules' transaction ---------------------------------------

def _state(engine: RuleEngine) -> tuple[object, ...]:
    return (engine._tracked, engine._clusters, engine._last_at, engine._inside)  # noqa: SLF001


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=scenarios())
def test_a_message_the_rules_do_not_concern_changes_nothing(
        steps: list[tuple[float, FieldMessage | None]]) -> None:
    clock = FakeClock()
    engine = RuleEngine(parse_rules(TEST_RULES), clock)
    for minutes, message in steps:
        clock.advance(minutes=minutes)
        if message is None:
            continue
        concerned = engine.concerns(message)
        before = _state(engine.fork())
        outcomes = engine.evaluate(envelope("water", Kind.OBSERVATION, clock.now), message)
        if not concerned:
            assert outcomes == [] and _state(engine) == before, message


def test_what_the_rules_concern(rig: Rig) -> None:
    engine = rig.engine
    now = rig.clock.now

    def obs(sensor: str, quantity: str, unit: str, value: float = 1.0,
            at: tuple[float, float] = QILIHE) -> Observation:
        return Observation(id=next_id(sensor), ts=now, sensor=sensor, quantity=quantity,
                           unit=unit, value=value, lat=at[0], lon=at[1])

    def alarm(at: tuple[float, float], state: AlarmState = AlarmState.ACTIVE) -> Alarm:
        return Alarm(id=next_id("d"), ts=now, device="d", type="smoke", state=state,
                     lat=at[0], lon=at[1])

    assert engine.concerns(obs("xt-wl-qilihe-01", "water_level", "m"))  # a watched gauge
    assert not engine.concerns(obs("xt-wl-qilihe-01", "water_level", "m", math.nan))
    assert not engine.concerns(obs("xt-rain-001", "rainfall", "mm"))  # no rule on rainfall
    assert engine.concerns(obs("s1", "h2s", "ppm", at=SEWAGE_WORKS))  # gas at a site
    assert not engine.concerns(obs("s1", "h2s", "ppm", at=FIRE))  # gas far from every site
    assert engine.concerns(alarm(SCHOOL))
    assert not engine.concerns(alarm(SCHOOL, AlarmState.TEST))
    assert not engine.concerns(alarm(offset(SCHOOL, north_m=400)))
    assert engine.concerns(Report(id="r", ts=now, type="medical", lat=FIRE[0], lon=FIRE[1],
                                  text="120"))
    truck = Position(id="p", ts=now, unit="t", unit_type="hazmat_truck", lat=1.0, lon=1.0)
    assert engine.concerns(truck)
    assert not engine.concerns(msgspec.structs.replace(truck, unit_type="patrol_car"))
