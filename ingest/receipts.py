"""The receipt ingest sends a source once its messages are committed."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from incidents.model import DeadLetter, Inbound
from ingest.topics import TopicScheme


class Receipt(msgspec.Struct, frozen=True):
    """Published on `{root}/receipts/{source}` once the named messages are committed."""

    ids: list[str]
    """Ids now stored (or already stored before): the sender may forget them."""
    rejected: dict[str, str] = {}
    """Ids that were dead-lettered, with the reason code: re-sending will not help."""
    committed_at: float | None = None
    """When the batch holding them was committed (Unix time, seconds): for the sender's
    records and delivery-latency figures."""


def receipts_for(scheme: TopicScheme, inbound: Sequence[Inbound], dead: Sequence[DeadLetter],
                 committed_at: float) -> dict[str, Receipt]:
    """Each source's receipt for a committed batch: ids stored, ids dead-lettered with why.

    A dead letter whose topic names no source, or whose id could not be read, has nobody
    to tell: the dead letter itself is the record.
    """
    by_source: dict[str, Receipt] = {}
    at = round(committed_at, 6)
    for item in inbound:
        source = item.envelope.source
        receipt = by_source.setdefault(source, Receipt(ids=[], rejected={}, committed_at=at))
        receipt.ids.append(item.message.id)
    for letter in dead:
        rejected_from = _source_of(scheme, letter.topic)
        if rejected_from is None or letter.message_id is None:
            continue
        receipt = by_source.setdefault(rejected_from,
                                       Receipt(ids=[], rejected={}, committed_at=at))
        receipt.rejected[letter.message_id] = letter.reason
    return by_source


def _source_of(scheme: TopicScheme, topic: str) -> str | None:
    parts = topic.split("/")
    root_depth = scheme.root.count("/") + 1
    if len(parts) == root_depth + 3 and parts[-1]:
        return parts[-1]
    return None
