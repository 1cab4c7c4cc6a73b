"""`sitroom deadletters list|replay`: look at rejected input and re-ingest it after a fix."""

from __future__ import annotations

from config.settings import Settings
from incidents.live import LiveState, LiveUnavailable
from incidents.store import Store
from ingest.replay import replay_dead_letters
from ingest.topics import TopicScheme
from sitroom.secrets import journal_key
from sitroom.wiring import crs_policy


async def list_dead_letters(settings: Settings, reason: str | None, limit: int) -> int:
    """Print the most recent dead letters, newest first."""
    assert settings.database_url is not None
    store = await Store.connect(settings.database_url)
    try:
        found = await store.dead_letters(limit, reason=reason)
    finally:
        await store.close()
    if not found:
        print("no dead letters" + (f" with reason {reason}" if reason else ""))
        return 0
    for stored in found:
        letter = stored.letter
        state = f"replayed {stored.replayed_at:%Y-%m-%d %H:%M}" if stored.replayed_at else "pending"
        preview = letter.payload[:80].decode("utf-8", errors="replace")
        print(f"#{stored.row_id} {letter.received_at:%Y-%m-%d %H:%M:%S} {letter.reason:<16}"
              f" {state:<26} {letter.topic}\n    {letter.detail}\n    {preview!r}")
    return 0


async def replay(settings: Settings, ids: list[int] | None, reason: str | None,
                 limit: int) -> int:
    """Re-decode pending dead letters; store what now passes. Exit 1 if some still fail."""
    assert settings.database_url is not None
    store = await Store.connect(settings.database_url, journal_key=journal_key(settings))
    scheme = TopicScheme(settings.topic_root, frozenset(settings.agencies))
    try:
        outcome = await replay_dead_letters(
            store, scheme, max_bytes=settings.ingest.max_payload_bytes, row_ids=ids,
            reason=reason, limit=limit, crs=crs_policy(settings),
        )
    finally:
        await store.close()
    if outcome.result is not None and settings.redis_url is not None:
        live = LiveState.from_url(settings.redis_url, settings.redis_prefix)
        try:
            await live.apply(outcome.result.units, outcome.result.incidents)
        except LiveUnavailable as exc:
            print(f"stored, but the live map was not updated ({exc}); ingest rebuilds it")
        finally:
            await live.close()
    print(f"replayed {len(outcome.replayed)} dead letter(s)"
          + (f": {', '.join(f'#{i}' for i in outcome.replayed)}" if outcome.replayed else ""))
    for row_id, why in outcome.still_failing.items():
        print(f"#{row_id} still fails: {why}")
    return 1 if outcome.still_failing else 0
