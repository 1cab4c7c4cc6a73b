"""Which agencies' feeds are arriving: the newest receive time per agency, merged from the
ingest workers' heartbeats, against a stale threshold. Pure: the caller brings the time.

Each ingest worker keeps, per agency, when it last received a message that decoded
(`ingest.stats.IngestStats.heard`) and publishes it in its heartbeat under FEEDS_KEY. With
several workers sharing the subscription each sees only part of every feed, so the newest
time wins. A worker that stops reporting takes its times with it (its heartbeat expires);
with no worker reporting at all, nothing is known to arrive and every feed is stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FEEDS_KEY = "feeds"
"""Key of the agency → newest receive time (Unix seconds) map in an ingest heartbeat."""


@dataclass(frozen=True, slots=True)
class FeedState:
    """One agency's feed as seen now."""

    agency: str
    """Agency code (the topic's first segment)."""
    last_at: float | None
    """When its newest message arrived (Unix seconds); None: never, as far as anyone knows."""
    age_s: float | None
    """Seconds since then; None when it was never heard."""
    stale: bool
    """True when silent longer than the threshold, never heard, or ingest is not reporting."""


def newest_by_agency(heartbeats: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The newest receive time of each agency over every worker's heartbeat."""
    newest: dict[str, float] = {}
    for doc in heartbeats:
        feeds = doc.get(FEEDS_KEY)
        if not isinstance(feeds, Mapping):
            continue  # a worker from before feeds were reported, or a broken document
        for agency, at in feeds.items():
            if isinstance(at, int | float) and at > newest.get(agency, float("-inf")):
                newest[str(agency)] = float(at)
    return newest


def feed_states(heartbeats: Sequence[Mapping[str, Any]] | None, expected: Sequence[str],
                stale_s: float, now: float) -> list[FeedState]:
    """Every expected agency's feed, in the order given. `heartbeats`: the ingest workers'
    documents; empty or None (unreadable) means ingest is not reporting, so all are stale."""
    newest = newest_by_agency(heartbeats or ())
    reporting = bool(heartbeats)
    states = []
    for agency in expected:
        last = newest.get(agency)
        # A receive time a little ahead of this clock (another host's) counts as just now.
        age = None if last is None else max(0.0, now - last)
        stale = not reporting or age is None or age > stale_s
        states.append(FeedState(agency=agency, last_at=last, age_s=age, stale=stale))
    return states


def silent(states: Iterable[FeedState]) -> list[FeedState]:
    """The stale ones, in order."""
    return [state for state in states if state.stale]
