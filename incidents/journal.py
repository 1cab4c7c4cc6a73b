"""The tamper-evident journal: each row's HMAC is chained over the previous row's.

The key comes from the environment (SITROOM_JOURNAL_KEY) and is never stored in the database,
so whoever can write to the database can still not forge a row: editing a row breaks its own
MAC, inserting or removing one breaks the chain (and the sequence), and removing rows at the
end breaks the chain head, whose own MAC needs the key too. The database also refuses UPDATE,
DELETE and TRUNCATE on the journal (a trigger); the MACs catch what bypasses the trigger.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec

GENESIS = bytes(32)
"""The "previous MAC" of the first row of the chain."""

MIN_KEY_BYTES = 32
_WEAK_KEYS = {"change-me", "changeme", "secret", "sitroom", "password", "test", "default"}


class JournalKeyError(ValueError):
    """The journal key is missing or too weak; the message says how to set one."""


def journal_key(value: str | None) -> bytes:
    """The HMAC key from its configured text, or JournalKeyError when unusable."""
    hint = ("set SITROOM_JOURNAL_KEY to a random secret of at least 32 bytes, e.g."
            " `python -c 'import secrets; print(secrets.token_hex(32))'`; keep it out of the"
            " database and the same on every ingest and dashboard worker")
    if not value:
        raise JournalKeyError(f"no journal key: {hint}")
    if value.strip().lower() in _WEAK_KEYS or len(value.encode()) < MIN_KEY_BYTES:
        raise JournalKeyError(f"the journal key is too weak: {hint}")
    return value.encode()


@dataclass(frozen=True, slots=True)
class Event:
    """An event to append to an incident's journal."""

    incident_id: str
    """The incident."""
    actor: str
    """Who: a user name, a rule, or agency/source for field input."""
    action: str
    """What: the action code."""
    data: dict[str, Any]
    """Details."""
    client: str | None = None
    """From where: the client address or the process."""


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One journal row, as sealed."""

    seq: int
    """Position in the chain, 1-based, without gaps."""
    incident_id: str
    """The incident the event belongs to."""
    at: datetime
    """When it was recorded (UTC, microseconds)."""
    actor: str
    """Who: a user, a rule, or agency/source for field input."""
    action: str
    """What: the action code (verify, escalate, dispatch, note, order_ack …)."""
    client: str | None
    """From where: the client address or process that made the change."""
    data: dict[str, Any]
    """Details of the event."""
    prev_mac: bytes
    """The previous row's MAC (GENESIS for the first)."""
    mac: bytes
    """HMAC-SHA256 over this row's canonical form, which includes prev_mac."""


def canonical(seq: int, incident_id: str, at: datetime, actor: str, action: str,
              client: str | None, data: dict[str, Any], prev_mac: bytes) -> bytes:
    """The exact bytes a row's MAC covers (sorted-key JSON, UTC time with microseconds)."""
    when = at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(
        [seq, incident_id, when, actor, action, client, data, prev_mac.hex()],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    ).encode()


def seal(key: bytes, prev_mac: bytes, seq: int, incident_id: str, at: datetime, actor: str,
         action: str, client: str | None, data: dict[str, Any]) -> JournalEntry:
    """The next row of the chain, with its MAC."""
    body = canonical(seq, incident_id, at, actor, action, client, data, prev_mac)
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return JournalEntry(seq=seq, incident_id=incident_id, at=at, actor=actor, action=action,
                        client=client, data=data, prev_mac=prev_mac, mac=mac)


def head_mac(key: bytes, start: int, seq: int, mac: bytes) -> bytes:
    """MAC of the chain head: where the chain starts, its last seq and that row's MAC."""
    # The start is covered so that moving it past every row (a "reset") needs the key too;
    # with the start and the last seq fixed, so is the number of rows (seq - start, no gaps).
    return hmac.new(key, b"head2:%d:%d:" % (start, seq) + mac, hashlib.sha256).digest()


class Problem(StrEnum):
    """What verification can find wrong with a row or the chain."""

    EDITED = "edited"
    """The row's content does not match its MAC."""
    CHAIN_BROKEN = "chain_broken"
    """The row does not follow the previous one (a row was inserted or removed before it)."""
    GAP = "gap"
    """Sequence numbers are missing before this row (rows removed)."""
    TAIL_REMOVED = "tail_removed"
    """The chain head names rows that are gone, or its own MAC is wrong."""
    RESET = "reset"
    """The chain's start was moved: sealed rows lie before it, or the head is unsealed."""
    ROLLED_BACK = "rolled_back"
    """The journal is behind, or differs from, a head anchored outside the database."""
    UNJOURNALED = "unjournaled"
    """An incident exists without any journal row (its rows were removed)."""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One problem found by verification."""

    seq: int
    """The row (or head position) where it shows."""
    problem: Problem
    """What is wrong."""
    detail: str
    """For people: what was expected and seen."""


class ChainCheck:
    """Checks a journal row by row as it streams in (a journal does not fit in memory)."""

    def __init__(self, key: bytes, start: int = 0,
                 anchor: tuple[int, bytes] | None = None) -> None:
        """`start` is the seq after which the chain begins (rows before it predate sealing);
        `anchor` a (seq, MAC) the chain once had, kept outside the database."""
        self._key, self._start, self._anchor = key, start, anchor
        self._prev_mac, self._expected_seq, self.count = GENESIS, start + 1, 0
        self.findings: list[Finding] = []
        """What is wrong so far."""

    def add(self, row: JournalEntry) -> None:
        """Check the next row against its MAC and the row before it."""
        self.count += 1
        body = canonical(row.seq, row.incident_id, row.at, row.actor, row.action, row.client,
                         row.data, row.prev_mac)
        if not hmac.compare_digest(hmac.new(self._key, body, hashlib.sha256).digest(),
                                   row.mac):
            self.findings.append(Finding(seq=row.seq, problem=Problem.EDITED,
                                         detail="content does not match its MAC"))
        if row.seq != self._expected_seq:
            self.findings.append(Finding(
                seq=row.seq, problem=Problem.GAP,
                detail=f"expected seq {self._expected_seq}, found {row.seq}"))
        if not hmac.compare_digest(row.prev_mac, self._prev_mac):
            self.findings.append(Finding(seq=row.seq, problem=Problem.CHAIN_BROKEN,
                                         detail="does not follow the previous row's MAC"))
        if self._anchor is not None and row.seq == self._anchor[0] and not hmac.compare_digest(
                row.mac, self._anchor[1]):
            self.findings.append(Finding(
                seq=row.seq, problem=Problem.ROLLED_BACK,
                detail="differs from the anchored head: the journal was rewritten since"))
        self._prev_mac, self._expected_seq = row.mac, row.seq + 1

    def finish(self, head: tuple[int, bytes, bytes] | None) -> tuple[int, list[Finding]]:
        """Check the head (last seq, last mac, head mac); return (rows, findings)."""
        last_seq = self._expected_seq - 1
        if self._anchor is not None and last_seq < self._anchor[0]:
            self.findings.append(Finding(
                seq=last_seq, problem=Problem.ROLLED_BACK,
                detail=f"the journal ends at row {last_seq}, but row {self._anchor[0]} was"
                       " anchored outside the database: restored from an older copy, or cut"))
        if head is None:
            if self.count:
                self.findings.append(Finding(seq=last_seq, problem=Problem.TAIL_REMOVED,
                                             detail="rows exist but the chain head is missing"))
            return self.count, self.findings
        seq, mac, their_head_mac = head
        if not hmac.compare_digest(head_mac(self._key, self._start, seq, mac),
                                   their_head_mac):
            self.findings.append(Finding(seq=seq, problem=Problem.TAIL_REMOVED,
                                         detail="the chain head's own MAC is wrong"))
        if seq != last_seq or not hmac.compare_digest(mac, self._prev_mac):
            self.findings.append(Finding(
                seq=seq, problem=Problem.TAIL_REMOVED,
                detail=f"the head names row {seq}, the last row is {last_seq}"))
        return self.count, self.findings


def verify(key: bytes, rows: Iterable[JournalEntry], head: tuple[int, bytes, bytes] | None,
           start: int = 0, anchor: tuple[int, bytes] | None = None
           ) -> tuple[int, list[Finding]]:
    """Check every row and the head (last seq, last mac, head mac); return (rows, findings).

    `start` is the seq after which the chain begins (rows before it predate sealing);
    `anchor` a (seq, MAC) of the chain kept outside the database.
    """
    check = ChainCheck(key, start, anchor)
    for row in rows:
        check.add(row)
    return check.finish(head)
