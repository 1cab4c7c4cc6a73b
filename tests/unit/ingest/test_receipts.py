"""Receipts tell each source which of its messages are stored and which were rejected."""

from __future__ import annotations

from datetime import UTC, datetime

from incidents.model import DeadLetter
from ingest.receipts import Receipt, receipts_for
from ingest.topics import TopicScheme
from tests.support.messages import inbound, position, report

SCHEME = TopicScheme("sitroom/v1", frozenset({"police", "fire"}))
AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def letter(topic: str, message_id: str | None, reason: str = "invalid") -> DeadLetter:
    """A dead letter of `topic`."""
    return DeadLetter(topic=topic, payload=b"{}", received_at=AT, reason=reason, detail="",
                      message_id=message_id)


def test_stored_and_rejected_ids_go_to_the_source_that_sent_them() -> None:
    items = [inbound(position(message_id="p1"), source="car-7"),
             inbound(report(message_id="r1"), agency="fire", source="app-3"),
             inbound(position(message_id="p2"), source="car-7")]
    dead = [letter("sitroom/v1/police/position/car-7", "bad-1", "too_large"),
            letter("sitroom/v1/police/position/car-9", "bad-2")]
    assert receipts_for(SCHEME, items, dead, 1765094400.1234567) == {
        "car-7": Receipt(ids=["p1", "p2"], rejected={"bad-1": "too_large"},
                         committed_at=1765094400.123457),
        "app-3": Receipt(ids=["r1"], rejected={}, committed_at=1765094400.123457),
        "car-9": Receipt(ids=[], rejected={"bad-2": "invalid"},
                         committed_at=1765094400.123457),
    }


def test_a_letter_without_a_source_or_an_id_has_nobody_to_tell() -> None:
    dead = [letter("sitroom/v1/police/position", "bad-1"),  # no source in the topic
            letter("sitroom/v1/police/position/", "bad-2"),  # an empty source
            letter("sitroom/v1/police/position/car-7/x", "bad-3"),  # too deep
            letter("sitroom/v1/police/position/car-7", None)]  # id unreadable
    assert receipts_for(SCHEME, [], dead, 0.0) == {}
