"""Which feeds are silent: newest receive time per agency over the ingest workers, against the
stale threshold, on a hand-moved clock."""

from __future__ import annotations

from typing import Any

from incidents.clock import ManualClock
from incidents.feedwatch import FEEDS_KEY, feed_states, newest_by_agency, silent

EXPECTED = ("police", "fire", "water")


def beat(**feeds: float) -> dict[str, Any]:
    """An ingest heartbeat that heard each agency at the given time."""
    return {"committed": 1, FEEDS_KEY: feeds}


def test_the_newest_time_of_each_agency_wins_across_workers() -> None:
    newest = newest_by_agency([beat(police=100.0, fire=90.0), beat(police=95.0, fire=99.0),
                               {"committed": 3}, {FEEDS_KEY: "garbage"}])
    assert newest == {"police": 100.0, "fire": 99.0}


def test_a_feed_is_stale_only_after_the_threshold() -> None:
    clock = ManualClock()
    heard = beat(police=clock.time(), fire=clock.time())
    clock.advance(60)
    states = feed_states([heard], EXPECTED, 60, clock.time())
    assert [(s.agency, s.age_s, s.stale) for s in states] == [
        ("police", 60.0, False), ("fire", 60.0, False), ("water", None, True)]
    clock.advance(0.5)
    assert [s.agency for s in silent(feed_states([heard], EXPECTED, 60, clock.time()))] == [
        "police", "fire", "water"]


def test_one_fresh_worker_keeps_an_agency_live_while_another_lags() -> None:
    clock = ManualClock()
    old = beat(police=clock.time())
    clock.advance(120)
    fresh = beat(police=clock.time() - 5)
    states = feed_states([old, fresh], ("police",), 60, clock.time())
    assert states[0].age_s == 5 and not states[0].stale
    assert states[0].last_at == clock.time() - 5


def test_an_agency_never_heard_from_is_silent() -> None:
    clock = ManualClock()
    (state,) = feed_states([beat(police=clock.time())], ("fire",), 60, clock.time())
    assert (state.last_at, state.age_s, state.stale) == (None, None, True)


def test_without_any_ingest_heartbeat_every_feed_is_stale() -> None:
    clock = ManualClock()
    nobodies: list[list[dict[str, Any]] | None] = [[], None]
    for nobody in nobodies:
        states = feed_states(nobody, EXPECTED, 60, clock.time())
        assert [s.stale for s in states] == [True, True, True]


def test_a_time_from_a_clock_slightly_ahead_counts_as_just_now() -> None:
    clock = ManualClock()
    (state,) = feed_states([beat(police=clock.time() + 2)], ("police",), 60, clock.time())
    assert (state.age_s, state.stale) == (0.0, False)


def test_nothing_watched_is_never_silent() -> None:
    assert feed_states(None, (), 60, ManualClock().time()) == []
