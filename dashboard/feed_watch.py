"""The feeds as the dashboard shows them: which agencies are silent, by name, for the pages'
heartbeat (dashboard.live_push) and the `feeds` section of /api/health (dashboard.api).

The computation is incidents.feedwatch's; this adds the configured agencies, the threshold
and the taxonomy's short names in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from config.settings import Settings
from dashboard.live_frames import FeedsBeat, SilentFeed
from incidents.feedwatch import FeedState, feed_states, silent
from incidents.lang import Lang
from incidents.taxonomy import Taxonomy, load_taxonomy

INGEST_COMPONENT = "ingest:"
"""Heartbeat name prefix of the ingest workers (`ingest:{client_id}`)."""

Heartbeats = Mapping[str, Mapping[str, Any]]
"""Ingest heartbeats by name, as `LiveState.statuses(INGEST_COMPONENT)` reads them."""


class FeedWatch:
    """The expected agencies, the stale threshold and the agencies' names."""

    def __init__(self, expected: Sequence[str], stale_s: float,
                 names: Mapping[str, tuple[str, str]]) -> None:
        self.expected = tuple(expected)
        """Agencies expected to publish, in display order."""
        self.stale_s = stale_s
        """Silent longer than this is stale."""
        self._names = dict(names)

    @classmethod
    def from_settings(cls, settings: Settings, taxonomy: Taxonomy | None = None) -> FeedWatch:
        """The watch the settings ask for, with the taxonomy's short names."""
        taxonomy = taxonomy or load_taxonomy()
        expected = settings.watched_agencies
        names = {code: (taxonomy.agency_name(code, Lang.ZH, short=True),
                        taxonomy.agency_name(code, Lang.EN, short=True)) for code in expected}
        return cls(expected, settings.feeds.stale_s, names)

    def name(self, agency: str, lang: Lang) -> str:
        """An agency's short name (its code when the taxonomy does not name it)."""
        zh, en = self._names.get(agency, (agency, agency))
        return zh if lang is Lang.ZH else en

    def states(self, workers: Heartbeats | None, now: float) -> list[FeedState]:
        """Every expected agency's feed now; `workers` None: the heartbeats cannot be read."""
        docs = None if workers is None else list(workers.values())
        return feed_states(docs, self.expected, self.stale_s, now)

    def beat(self, workers: Heartbeats | None, now: float) -> FeedsBeat:
        """What the pages' heartbeat says about the feeds."""
        quiet = silent(self.states(workers, now))
        return FeedsBeat(stale_s=self.stale_s, ingest=bool(workers), silent=[
            SilentFeed(a=s.agency, zh=self.name(s.agency, Lang.ZH),
                       en=self.name(s.agency, Lang.EN),
                       age=None if s.age_s is None else int(s.age_s)) for s in quiet])

    def health(self, workers: Heartbeats | None, now: float) -> dict[str, Any]:
        """The `feeds` section of the health report."""
        states = self.states(workers, now)
        quiet = silent(states)
        if not self.expected:
            detail = "no feed is watched (feeds.agencies is empty)"
        elif not workers:
            detail = "no ingest heartbeat: no feed is known to arrive"
        elif quiet:
            detail = (f"silent for over {self.stale_s:g} s: "
                      + ", ".join(f"{s.agency} ({_age(s.age_s)})" for s in quiet))
        else:
            detail = f"{len(states)} feed(s) arriving"
        return {
            "ok": not quiet, "detail": detail, "stale_s": self.stale_s,
            "silent": [s.agency for s in quiet],
            "agencies": [{"agency": s.agency, "name": self.name(s.agency, Lang.ZH),
                          "name_en": self.name(s.agency, Lang.EN),
                          "seconds": None if s.age_s is None else round(s.age_s, 1),
                          "last_at": s.last_at, "stale": s.stale} for s in states],
        }


def _age(age_s: float | None) -> str:
    return "never heard" if age_s is None else f"{age_s:.0f} s"
