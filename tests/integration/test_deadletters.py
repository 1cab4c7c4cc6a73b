"""Dead letters can be listed (CLI and API) and re-ingested after the fix that admits them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from config.settings import Settings
from incidents.model import DeadLetter
from incidents.store import Store
from ingest.codecs import decode
from ingest.topics import TopicScheme
from tests.support.http import get_json
from tests.support.processes import settings_env

pytestmark = pytest.mark.integration


def _letter(root: str, topic: str, payload: bytes) -> DeadLetter:
    scheme = TopicScheme(root, frozenset({"police"}))
    result = decode(scheme, f"{root}/{topic}", payload, datetime.now(UTC), 65536)
    assert isinstance(result, DeadLetter)
    return result


def _position(message_id: str) -> bytes:
    return json.dumps({"id": message_id, "ts": datetime.now(UTC).isoformat(), "unit": "boat-1",
                       "lat": 37.0, "lon": 114.6}).encode()


def _sitroom(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sitroom", *args], env=settings_env(settings),
                          capture_output=True, text=True, timeout=60)


async def test_replay_stores_what_a_new_agency_admits(store: Store, settings: Settings) -> None:
    # A maritime-safety feed arrived before its agency was configured: dead letters.
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    root = settings.topic_root
    letters = [_letter(root, "maritime/position/ais-1", _position(i)) for i in ids]
    garbage = _letter(root, "police/position/x", b"{oops")
    await store.write_batch([], [*letters, garbage])
    listed = _sitroom(settings, "deadletters", "list", "--reason", "unknown_agency")
    assert listed.returncode == 0 and listed.stdout.count("unknown_agency") == 2

    fixed = settings.model_copy(update={"agencies": (*settings.agencies, "maritime")})
    replayed = _sitroom(fixed, "deadletters", "replay")
    assert replayed.returncode == 1, replayed.stdout  # the garbage one still fails …
    assert "replayed 2 dead letter(s)" in replayed.stdout
    assert "still fails: malformed_json" in replayed.stdout
    assert sorted(await store.position_ids()) == sorted(ids)
    again = _sitroom(fixed, "deadletters", "replay", "--reason", "unknown_agency")
    assert "replayed 0 dead letter(s)" in again.stdout  # … and nothing is stored twice
    pending = await store.dead_letters(pending_only=True)
    assert [d.letter.reason for d in pending] == ["malformed_json"]


async def test_the_api_lists_dead_letters_with_their_payload(store: Store, dashboard: str,
                                                             settings: Settings,
                                                             api_token: str) -> None:
    letter = _letter(settings.topic_root, "police/position/x", b"\xff\xfe{bin")
    await store.write_batch([], [letter])
    status, doc = await asyncio.to_thread(get_json, f"{dashboard}/api/deadletters?limit=5",
                                          api_token)
    (entry,) = doc["dead_letters"]
    assert status == 200 and entry["reason"] == "malformed_json"
    assert entry["payload_text"] is None and entry["payload_base64"] == "//57Ymlu"
    status, doc = await asyncio.to_thread(get_json,
                                          f"{dashboard}/api/deadletters?limit=many", api_token)
    assert status == 400 and "whole number" in doc["detail"]

