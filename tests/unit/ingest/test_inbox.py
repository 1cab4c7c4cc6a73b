"""The inbox hands out received messages in batches, by size and by the oldest one's age."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from incidents.clock import ManualClock
from ingest.inbox import Inbox
from ingest.source import Received


def _received(clock: ManualClock, mid: int) -> Received:
    return Received(1, mid, 1, "sitroom/v1/police/position/car-1", b"{}", clock.time())


async def test_a_full_batch_goes_at_once_and_the_rest_follows_in_order() -> None:
    clock = ManualClock()
    inbox = Inbox(clock)
    for mid in range(1, 8):
        inbox.put(_received(clock, mid))
    inbox.close()
    async with aclosing(inbox.batches(max_size=3, gather_s=60.0)) as batches:
        first = await asyncio.wait_for(anext(batches), 1.0)  # full: no waiting for more
        assert [r.mid for r in first] == [1, 2, 3]
        clock.advance(60.0)  # the rest is old enough to go without gathering
        assert [[r.mid for r in b] async for b in batches] == [[4, 5, 6], [7]]


async def test_a_small_batch_waits_until_its_oldest_message_is_old_enough() -> None:
    clock = ManualClock()
    inbox = Inbox(clock)
    inbox.put(_received(clock, 1))
    async with aclosing(inbox.batches(max_size=100, gather_s=30.0)) as batches:
        waiting = asyncio.ensure_future(anext(batches))
        done, _ = await asyncio.wait([waiting], timeout=0.1)
        assert not done  # 30 s on the clock have not passed: still gathering
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    clock.advance(30.0)
    async with aclosing(inbox.batches(max_size=100, gather_s=30.0)) as batches:
        batch = await asyncio.wait_for(anext(batches), 1.0)
    assert [r.mid for r in batch] == [1]


async def test_an_empty_inbox_waits_for_a_message_and_ends_once_closed() -> None:
    clock = ManualClock()
    inbox = Inbox(clock)
    async with aclosing(inbox.batches(max_size=10, gather_s=0.0)) as batches:
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        inbox.put(_received(clock, 5))
        assert [r.mid for r in await asyncio.wait_for(waiting, 1.0)] == [5]
        inbox.close()
        assert [b async for b in batches] == []


async def test_a_broken_source_ends_the_batches_with_its_error() -> None:
    inbox = Inbox(ManualClock())
    async with aclosing(inbox.batches(max_size=10, gather_s=0.0)) as batches:
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.01)
        inbox.fail(ConnectionError("socket gone"))
        with pytest.raises(ConnectionError, match="socket gone"):
            await asyncio.wait_for(waiting, 1.0)
