"""Control characters in a published report never reach the store, the live map or a title."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from config.settings import Settings
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.ingest import publisher, running_ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def report(text: str, reporter: str | None = None) -> tuple[str, str]:
    """A fire report's id and JSON payload."""
    message_id = str(uuid.uuid4())
    return message_id, json.dumps({
        "id": message_id, "ts": datetime.now(UTC).isoformat(), "type": "fire",
        "lat": 37.06, "lon": 114.49, "text": text, "reporter": reporter})


async def test_a_report_with_control_characters_is_stored_and_titled_clean(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    root = settings.topic_root
    clean_id, clean = report("居民楼\x01起火\x7f\r\n三楼\x1b[0m有人\x9b", "119\x00-座席\x854")
    empty_id, empty = report("\x01\x02\x1b\x7f")
    async with running_ingest(settings, store, live):
        with publisher(broker.url, broker.protocol) as pub:
            pub.publish(f"{root}/fire/report/119-desk", clean)
            pub.publish(f"{root}/fire/report/119-desk", empty)
            (incident,) = await eventually(live.incidents, lambda i: len(i) == 1)
            (letter,) = await eventually(store.dead_letters, lambda d: len(d) == 1)
    conn = await asyncpg.connect(settings.database_url or "")
    try:
        row = await conn.fetchrow("SELECT text, reporter FROM reports WHERE id = $1", clean_id)
        title = await conn.fetchval("SELECT title FROM incidents WHERE id = $1",
                                    uuid.UUID(incident.id))
    finally:
        await conn.close()
    assert row is not None
    assert (row["text"], row["reporter"]) == ("居民楼起火\n三楼[0m有人", "119-座席 4")
    assert incident.title == title
    assert title.endswith("居民楼起火 三楼[0m有人")  # the rules prefix the type's name
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in title)
    assert (letter.letter.reason, letter.letter.message_id) == ("empty_text", empty_id)
    assert "text" in letter.letter.detail
