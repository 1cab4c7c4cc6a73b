"""Bulk close and bulk merge (批量结案 / 批量合并): the checks made once for the whole request and
the per-incident outcome, so one refusal does not hide the others.

The command service runs the single close or merge path for each incident in turn (each its own
transaction, journaled with the reason and the actor); this module holds what is pure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum

import msgspec

from incidents.errors import CommandRefused, Invalid, StoreUnavailable
from incidents.journal import JournalKeyError
from incidents.lifecycle import Resolution

log = logging.getLogger(__name__)

DEFAULT_BULK_MAX = 200
"""Incidents per bulk command unless settings say otherwise (`bulk_max_incidents`)."""
REASON_MAX = 2000
"""Characters a reason may have (as a note)."""


class BulkVerb(StrEnum):
    """What a bulk command does to each incident."""

    CLOSE = "close"
    """Close each one (resolved or false alarm)."""
    MERGE = "merge"
    """Merge each one into the target incident."""


class BulkItem(msgspec.Struct, frozen=True, kw_only=True):
    """What happened to one incident of a bulk command."""

    incident_id: str
    """The incident."""
    done: bool
    """True when it was closed or merged."""
    error: str | None = None
    """Why not (English), when refused."""
    error_zh: str | None = None
    """Why not (Chinese), when refused."""


class BulkResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of a bulk command, incident by incident, in the order asked."""

    action: BulkVerb
    """close or merge."""
    target: str | None
    """The incident the others were merged into (merge only)."""
    done: int
    """How many were closed or merged."""
    refused: int
    """How many were not, each with why in `items`."""
    items: list[BulkItem]
    """One per distinct incident asked for."""


def checked_ids(ids: Sequence[str], reason: str | None, limit: int) -> tuple[list[str], str]:
    """The distinct ids in order and the trimmed reason, or Invalid saying what to fix."""
    text = (reason or "").strip()
    if not text:
        raise Invalid("批量操作须填写原因", "a bulk close or merge needs a reason: say why")
    if len(text) > REASON_MAX:
        raise Invalid(f"原因不能超过 {REASON_MAX} 字", f"the reason is over {REASON_MAX}"
                      " characters: shorten it")
    distinct = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if not distinct:
        raise Invalid("请至少选择一起事件", "choose at least one incident")
    if len(distinct) > limit:
        raise Invalid(f"一次最多处理 {limit} 起事件（本次 {len(distinct)} 起），请分批操作",
                      f"at most {limit} incidents per bulk command ({len(distinct)} asked):"
                      " split them into several commands (setting bulk_max_incidents)")
    return distinct, text


def close_resolution(resolution: Resolution | None) -> Resolution:
    """The resolution of a bulk close: resolved or false alarm, never merged."""
    if resolution is Resolution.MERGED:
        raise Invalid("「已合并」只能通过合并产生：请选择批量合并",
                      "resolution merged is set by merging, not by closing: use the merge"
                      " action with a target")
    return resolution or Resolution.RESOLVED


async def each(verb: BulkVerb, target: str | None, ids: Sequence[str],
               apply: Callable[[str], Awaitable[object]]) -> BulkResult:
    """Apply to every id in turn; a refusal is that item's outcome and the next one goes on.

    When the database or the journal key goes away after some were done, the rest are reported
    as not tried (what was done stays done: each incident is its own transaction); before any
    was done, the error propagates.
    """
    items: list[BulkItem] = []
    stopped: tuple[str, str] | None = None
    for incident_id in ids:
        if stopped is not None:
            items.append(BulkItem(incident_id=incident_id, done=False, error=stopped[0],
                                  error_zh=stopped[1]))
            continue
        try:
            await apply(incident_id)
        except CommandRefused as exc:
            items.append(BulkItem(incident_id=incident_id, done=False, error=exc.en,
                                  error_zh=exc.zh))
        except (StoreUnavailable, JournalKeyError) as exc:
            if not any(item.done for item in items):
                raise  # nothing done: the caller's usual answer (503) says it all
            log.warning("bulk %s stopped at %s: %s", verb.value, incident_id, exc)
            stopped = (f"not tried: {exc}; retry it when that is fixed",
                       "未处理：数据库或日志密钥不可用，恢复后请重试")
            items.append(BulkItem(incident_id=incident_id, done=False, error=stopped[0],
                                  error_zh=stopped[1]))
        else:
            items.append(BulkItem(incident_id=incident_id, done=True))
    done = sum(item.done for item in items)
    return BulkResult(action=verb, target=target, done=done, refused=len(items) - done,
                      items=items)
