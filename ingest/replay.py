"""Re-ingest dead letters after a fix (a codec that now accepts them, a new agency …)."""

from __future__ import annotations

from dataclasses import dataclass, field

from incidents.model import DeadLetter, Inbound
from incidents.store import BatchResult, Store
from ingest.codecs import CrsPolicy, decode
from ingest.topics import TopicScheme


@dataclass(slots=True)
class ReplayOutcome:
    """What a replay did."""

    replayed: list[int] = field(default_factory=list)
    """Dead-letter row ids now stored as messages (marked replayed)."""
    still_failing: dict[int, str] = field(default_factory=dict)
    """Row id → the reason it still fails today."""
    result: BatchResult | None = None
    """What the replayed messages changed (for the live state)."""


async def replay_dead_letters(store: Store, scheme: TopicScheme, *, max_bytes: int,
                              row_ids: list[int] | None = None, reason: str | None = None,
                              limit: int = 1000, crs: CrsPolicy | None = None
                              ) -> ReplayOutcome:
    """Decode pending dead letters again; store those that now decode, in one batch."""
    pending = await store.dead_letters(limit, reason=reason, pending_only=True, row_ids=row_ids)
    outcome = ReplayOutcome()
    inbound: list[Inbound] = []
    for stored in pending:
        letter: DeadLetter = stored.letter
        decoded = decode(scheme, letter.topic, letter.payload, letter.received_at, max_bytes,
                         crs)
        if isinstance(decoded, Inbound):
            inbound.append(decoded)
            outcome.replayed.append(stored.row_id)
        else:
            outcome.still_failing[stored.row_id] = f"{decoded.reason}: {decoded.detail}"
    if inbound:
        # The same ids as a live message: if one was re-sent and stored meanwhile, no duplicate.
        outcome.result = await store.write_batch(inbound, [])
        await store.mark_replayed(outcome.replayed)
    return outcome
