"""The receipt ingest sends a source once its messages are committed."""

from __future__ import annotations

import msgspec


class Receipt(msgspec.Struct, frozen=True):
    """Published on `{root}/receipts/{source}` once the named messages are committed."""

    ids: list[str]
    """Ids now stored (or already stored before): the sender may forget them."""
    rejected: dict[str, str] = {}
    """Ids that were dead-lettered, with the reason code: re-sending will not help."""
    committed_at: float | None = None
    """When the batch holding them was committed (Unix time, seconds): for the sender's
    records and delivery-latency figures."""
