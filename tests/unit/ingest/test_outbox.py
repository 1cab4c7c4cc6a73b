"""The field client's on-disk outbox: keeping, resending, forgetting, surviving a crash."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import ingest.outbox as outbox_module
from ingest.outbox import Outbox, Pending


class FakeClock:
    """Stands in for the `time` module inside ingest.outbox."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(1_741_918_507.0)
    monkeypatch.setattr(outbox_module, "time", fake)
    return fake


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "outbox" / "gw01.sqlite"


@pytest.fixture
def outbox(path: Path) -> Iterator[Outbox]:
    box = Outbox(path)
    yield box
    box.close()


def pending(n: int, payload: bytes | None = None) -> Pending:
    return Pending(id=f"gw01-{n:06d}", topic="sitroom/v1/police/position/gw01",
                   payload=payload if payload is not None else f'{{"n": {n}}}'.encode())


def ids(items: list[Pending]) -> list[str]:
    return [p.id for p in items]


def test_new_outbox_is_empty_and_creates_its_folder(path: Path, outbox: Outbox) -> None:
    assert path.is_file()
    assert len(outbox) == 0
    assert outbox.due(older_than_s=-1) == []


def test_put_then_due_gives_the_messages_back(outbox: Outbox) -> None:
    items = [pending(1), pending(2, b"\x00\xff binary \xe7\x81\xab")]
    outbox.put_many(items)
    assert len(outbox) == 2
    assert outbox.due(older_than_s=0) == items


def test_an_id_is_kept_once(outbox: Outbox) -> None:
    outbox.put_many([pending(1, b"first")])
    outbox.put_many([pending(1, b"second"), pending(2)])
    outbox.put_many([pending(3), pending(3, b"again")])
    assert len(outbox) == 3
    due = outbox.due(older_than_s=-1)
    assert ids(due) == ["gw01-000001", "gw01-000002", "gw01-000003"]
    assert due[0].payload == b"first"


def test_put_nothing_is_harmless(outbox: Outbox) -> None:
    outbox.put_many([])
    assert len(outbox) == 0


def test_due_is_oldest_first_across_batches(outbox: Outbox) -> None:
    outbox.put_many([pending(5), pending(3)])
    outbox.put_many([pending(9)])
    outbox.put_many([pending(1), pending(4)])
    assert ids(outbox.due(older_than_s=-1)) == [
        "gw01-000005", "gw01-000003", "gw01-000009", "gw01-000001", "gw01-000004"]


def test_due_respects_the_limit(outbox: Outbox) -> None:
    outbox.put_many([pending(n) for n in range(10)])
    assert ids(outbox.due(older_than_s=-1, limit=3)) == [
        "gw01-000000", "gw01-000001", "gw01-000002"]


def test_message_put_again_after_removal_goes_to_the_back(outbox: Outbox) -> None:
    outbox.put_many([pending(1), pending(2)])
    outbox.remove(["gw01-000001"])
    outbox.put_many([pending(1)])
    assert ids(outbox.due(older_than_s=-1)) == ["gw01-000002", "gw01-000001"]


def test_sent_messages_are_due_again_only_after_the_resend_delay(
    clock: FakeClock, outbox: Outbox
) -> None:
    outbox.put_many([pending(1), pending(2), pending(3)])
    clock.now += 10
    outbox.mark_sent(["gw01-000001", "gw01-000003"])
    clock.now += 20
    # Sent 20 s ago: not yet due with a 30 s resend delay; the unsent one always is.
    assert ids(outbox.due(older_than_s=30)) == ["gw01-000002"]
    assert ids(outbox.due(older_than_s=20)) == ["gw01-000001", "gw01-000002", "gw01-000003"]
    clock.now += 15
    assert ids(outbox.due(older_than_s=30)) == ["gw01-000001", "gw01-000002", "gw01-000003"]


def test_marking_sent_again_restarts_the_delay(clock: FakeClock, outbox: Outbox) -> None:
    outbox.put_many([pending(1)])
    outbox.mark_sent(["gw01-000001"])
    clock.now += 40
    outbox.mark_sent(["gw01-000001"])
    clock.now += 10
    assert outbox.due(older_than_s=30) == []


def test_mark_sent_accepts_a_generator_and_unknown_ids(outbox: Outbox) -> None:
    outbox.put_many([pending(1), pending(2)])
    outbox.mark_sent(p.id for p in [pending(1), pending(99)])
    assert ids(outbox.due(older_than_s=3600)) == ["gw01-000002"]
    assert len(outbox) == 2


def test_remove_counts_only_what_was_pending(outbox: Outbox) -> None:
    outbox.put_many([pending(n) for n in range(5)])
    assert outbox.remove(["gw01-000001", "gw01-000003", "unknown"]) == 2
    assert outbox.remove(["gw01-000001"]) == 0
    assert outbox.remove([]) == 0
    assert len(outbox) == 3
    assert ids(outbox.due(older_than_s=-1)) == ["gw01-000000", "gw01-000002", "gw01-000004"]


def test_messages_survive_close_and_reopen(path: Path) -> None:
    first = Outbox(path)
    first.put_many([pending(1, b"\x00\x01"), pending(2)])
    first.mark_sent(["gw01-000001"])
    first.close()
    second = Outbox(path)
    try:
        assert len(second) == 2
        assert second.due(older_than_s=-1) == [pending(1, b"\x00\x01"), pending(2)]
        assert ids(second.due(older_than_s=3600)) == ["gw01-000002"]
    finally:
        second.close()


def test_messages_survive_a_crash(path: Path) -> None:
    """A process that dies without closing: a new one opens the same file and sees it all."""
    crashed = Outbox(path)
    try:
        crashed.put_many([pending(1), pending(2), pending(3)])
        restarted = Outbox(path)
        try:
            assert ids(restarted.due(older_than_s=-1)) == [
                "gw01-000001", "gw01-000002", "gw01-000003"]
            assert restarted.remove(["gw01-000002"]) == 1
            restarted.put_many([pending(4)])
            assert len(crashed) == 3
            assert ids(crashed.due(older_than_s=-1)) == [
                "gw01-000001", "gw01-000003", "gw01-000004"]
        finally:
            restarted.close()
    finally:
        crashed.close()


def test_failed_mark_sent_leaves_the_outbox_usable(outbox: Outbox) -> None:
    def ids_then_failure() -> Iterator[str]:
        yield "gw01-000001"
        raise RuntimeError("receipt parser failed")

    outbox.put_many([pending(1)])
    with pytest.raises(RuntimeError):
        outbox.mark_sent(ids_then_failure())
    outbox.put_many([pending(2)])
    assert len(outbox) == 2


def test_failed_remove_leaves_the_outbox_usable(outbox: Outbox) -> None:
    def ids_then_failure() -> Iterator[str]:
        yield "gw01-000001"
        raise RuntimeError("receipt parser failed")

    outbox.put_many([pending(1), pending(2)])
    with pytest.raises(RuntimeError):
        outbox.remove(ids_then_failure())
    assert outbox.remove(["gw01-000002"]) == 1
    assert len(outbox) == 1


def test_threads_putting_and_removing(outbox: Outbox) -> None:
    threads_n, per_thread = 8, 200
    start = threading.Barrier(threads_n + 1)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            mine = [Pending(id=f"w{worker}-{i}", topic="t", payload=b"x")
                    for i in range(per_thread)]
            for i in range(0, per_thread, 20):
                outbox.put_many(mine[i:i + 20])
                outbox.mark_sent(p.id for p in mine[i:i + 5])
                outbox.due(older_than_s=-1, limit=50)
                len(outbox)
            removed = outbox.remove(p.id for p in mine[::2])
            assert removed == per_thread // 2
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(w,), name=f"outbox-{w}")
               for w in range(threads_n)]
    for thread in workers:
        thread.start()
    start.wait()
    for thread in workers:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in workers)
    assert errors == []
    assert len(outbox) == threads_n * per_thread // 2
    left = outbox.due(older_than_s=-1, limit=100_000)
    assert len({p.id for p in left}) == threads_n * per_thread // 2
    assert all(int(p.id.split("-")[1]) % 2 == 1 for p in left)


def test_closed_outbox_refuses_use(path: Path) -> None:
    box = Outbox(path)
    box.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        len(box)
