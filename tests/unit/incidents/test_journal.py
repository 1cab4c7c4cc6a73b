"""The HMAC chain: a sealed journal verifies; edits, insertions and removals are found."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from incidents.anchors import decode, encode, genuine, take
from incidents.journal import (
    GENESIS,
    Event,
    JournalEntry,
    JournalKeyError,
    Problem,
    head_mac,
    journal_key,
    seal,
    verify,
)
from incidents.store.journal_sql import JournalWriter

KEY = b"k" * 32


def chain(n: int) -> list[JournalEntry]:
    rows, prev = [], GENESIS
    t0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    for seq in range(1, n + 1):
        row = seal(KEY, prev, seq, "inc-1", t0 + timedelta(seconds=seq), "leader", "note",
                   "10.0.0.7", {"text": f"第{seq}条", "n": seq})
        rows.append(row)
        prev = row.mac
    return rows


def head_of(rows: list[JournalEntry]) -> tuple[int, bytes, bytes]:
    last = rows[-1]
    return last.seq, last.mac, head_mac(KEY, 0, last.seq, last.mac)


def problems(rows: list[JournalEntry], head: tuple[int, bytes, bytes] | None
             ) -> set[Problem]:
    return {f.problem for f in verify(KEY, rows, head)[1]}


def test_an_untouched_chain_verifies() -> None:
    rows = chain(5)
    assert verify(KEY, rows, head_of(rows)) == (5, [])


def test_an_edited_row_is_found_where_it_is() -> None:
    rows = chain(5)
    rows[2] = msgspec.structs.replace(rows[2], data={"text": "改过", "n": 3})
    count, findings = verify(KEY, rows, head_of(rows))
    assert [(f.seq, f.problem) for f in findings] == [(3, Problem.EDITED)]


def test_a_removed_row_breaks_the_chain() -> None:
    rows = chain(5)
    head = head_of(rows)
    del rows[1]
    assert problems(rows, head) == {Problem.GAP, Problem.CHAIN_BROKEN}


def test_an_inserted_row_cannot_be_sealed_without_the_key() -> None:
    rows = chain(3)
    head = head_of(rows)
    forged = seal(b"x" * 32, rows[-1].mac, 4, "inc-1", rows[-1].at, "intruder", "note", None,
                  {"text": "forged"})
    assert problems([*rows, forged], head) == {Problem.EDITED, Problem.TAIL_REMOVED}


def test_removing_the_last_rows_shows_at_the_head() -> None:
    rows = chain(4)
    head = head_of(rows)
    assert problems(rows[:3], head) == {Problem.TAIL_REMOVED}
    # Rolling the head back needs the head's own MAC, which needs the key.
    rolled = (3, rows[2].mac, head[2])
    assert problems(rows[:3], rolled) == {Problem.TAIL_REMOVED}


def test_a_different_key_fails_every_row() -> None:
    rows = chain(3)
    count, findings = verify(b"z" * 32, rows, head_of(rows))
    assert count == 3 and len([f for f in findings if f.problem is Problem.EDITED]) == 3


@pytest.mark.parametrize("value", [None, "", "secret", "short-key"])
def test_missing_or_weak_keys_are_refused_with_how_to_fix(value: str | None) -> None:
    with pytest.raises(JournalKeyError, match="SITROOM_JOURNAL_KEY"):
        journal_key(value)


def test_a_strong_key_is_accepted() -> None:
    assert journal_key("a" * 64) == b"a" * 64


def test_a_writer_that_found_the_head_moved_backs_off_the_one_statement_way() -> None:
    writer = JournalWriter(KEY)
    events = [Event(str(uuid.uuid4()), "leader", "note", {"text": "x"})]
    assert writer.after_last(events) is None  # no head known before the first append
    writer.appended(chain(3))
    assert writer.after_last(events) is None  # nor where the chain starts, which its MAC covers
    writer.chain_starts_at(0)
    first = writer.after_last(events)
    assert first is not None
    entries, arguments = first
    assert entries[0].seq == 4 and entries[0].prev_mac == chain(3)[-1].mac
    assert arguments[-2:] == (3, chain(3)[-1].mac)  # appended only while that is the head
    skipped = []
    for _ in range(3):  # moved three times: skip 1, then 2, then 4 attempts
        writer.moved()
        skipped.append(0)
        while writer.after_last(events) is None:
            skipped[-1] += 1
    assert skipped == [1, 2, 4]
    writer.appended(entries, after_last=True)  # it worked: back to trying every time
    writer.moved()
    assert writer.after_last(events) is None
    assert writer.after_last(events) is not None


def test_the_head_mac_covers_where_the_chain_starts() -> None:
    rows = chain(3)
    seq, mac, sealed = head_of(rows)
    # The same head claiming a later start (rows 1..3 "predate the chain") is not genuine.
    assert verify(KEY, [], (seq, mac, sealed), start=3)[1][0].problem is Problem.TAIL_REMOVED
    assert head_mac(KEY, 3, seq, mac) != sealed


def test_a_journal_behind_its_anchor_was_rolled_back() -> None:
    rows = chain(5)
    anchored = (5, rows[4].mac)
    assert verify(KEY, rows, head_of(rows), anchor=anchored) == (5, [])
    older = rows[:3]  # an older copy of the database: every MAC genuine, the head too
    assert problems_at(older, head_of(older), anchored) == {Problem.ROLLED_BACK}


def test_a_journal_rewritten_since_its_anchor_differs_there() -> None:
    rows = chain(5)
    anchored = (4, rows[3].mac)
    other = chain(6)  # a chain sealed again from the start (with the key) after the anchor
    other[3] = seal(KEY, other[2].mac, 4, "inc-1", rows[3].at, "leader", "note", None, {})
    assert Problem.ROLLED_BACK in problems_at(other, head_of(other), anchored)


def problems_at(rows: list[JournalEntry], head: tuple[int, bytes, bytes] | None,
                anchor: tuple[int, bytes]) -> set[Problem]:
    return {f.problem for f in verify(KEY, rows, head, anchor=anchor)[1]}


def test_anchors_are_signed_and_refuse_edits() -> None:
    rows = chain(2)
    anchor = take(KEY, 0, 2, rows[1].mac, datetime(2026, 12, 7, 20, 0, tzinfo=UTC))
    assert genuine(KEY, anchor)
    assert decode(encode(anchor)) == anchor
    assert not genuine(KEY, msgspec.structs.replace(anchor, seq=1))
    assert not genuine(b"z" * 32, anchor)
    assert decode(b'{"seq": 1') is None  # a line torn by a crash
