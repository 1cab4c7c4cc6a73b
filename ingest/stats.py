"""Ingest's counters, reported in its heartbeat."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from incidents.feedwatch import FEEDS_KEY
from ingest.source import SourceStats


@dataclass(slots=True)
class IngestStats:
    """Counters of the commit pipeline and the live writer."""

    committed: int = 0
    """Messages stored (or found already stored)."""
    duplicates: int = 0
    """Positions that were already stored (redeliveries)."""
    dead_letters: int = 0
    """Messages dead-lettered."""
    batches: int = 0
    """Batches committed and acknowledged."""
    store_retries: int = 0
    """Writes retried because PostgreSQL was unavailable."""
    live_failures: int = 0
    """Live-state updates that failed (each leads to a rebuild)."""
    last_commit_at: float | None = None
    """When the last batch committed (Unix seconds)."""
    lag_ms: deque[float] = field(default_factory=lambda: deque(maxlen=512))
    """Arrival of each batch's first message to its commit, for the last batches."""
    heard: dict[str, float] = field(default_factory=dict)
    """Per agency, when its newest message that decoded arrived (Unix seconds): the wall
    and the health report tell silent feeds by it (incidents.feedwatch)."""

    def as_dict(self, source: SourceStats, backlog: int, connected: bool,
                at: float) -> dict[str, Any]:
        """The heartbeat document."""
        lags = sorted(self.lag_ms)
        return {
            "received": source.received, "committed": self.committed,
            "duplicates": self.duplicates, "dead_letters": self.dead_letters,
            "batches": self.batches, "store_retries": self.store_retries,
            "live_failures": self.live_failures, "last_commit_at": self.last_commit_at,
            "backlog": backlog, "broker_connected": connected,
            "broker_dropped": source.broker_dropped,
            "broker_dropped_rising_at": source.broker_dropped_rising_at,
            "lag_p50_ms": lags[len(lags) // 2] if lags else None,
            "lag_max_ms": lags[-1] if lags else None,
            FEEDS_KEY: dict(self.heard),  # a copy: the decoder goes on writing it
            "at": at,
        }
