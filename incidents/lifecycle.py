"""The incident life cycle as a pure state machine: commands in, the new state and its event out.

reported (接报) → verified (核实) → responding (处置) → contained (控制) → closed (结案), with
escalate / de-escalate at any open state, merge (two incidents are one), reopen, and closing a
report that proves false straight from reported or verified. Nothing here does I/O: the store
applies the outcome and journals the event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import msgspec

from incidents.errors import Conflict, Invalid
from incidents.journal import Event
from incidents.lang import Bilingual, Lang, checked, pick
from incidents.model import IncidentStatus, Level

_S = IncidentStatus


class Action(StrEnum):
    """What a leader (or a rule) does to an incident; also the journal's action code."""

    VERIFY = "verify"
    RESPOND = "respond"
    CONTAIN = "contain"
    CLOSE = "close"
    ESCALATE = "escalate"
    DEESCALATE = "deescalate"
    MERGE = "merge"
    REOPEN = "reopen"

    def label(self, lang: Lang) -> str:
        """What was done, as the journal and the timelines name it."""
        return pick(_ACTION_LABELS[self], lang)


_ACTION_LABELS: Mapping[Action, Bilingual] = checked({
    Action.VERIFY: ("核实", "Verified"),
    Action.RESPOND: ("启动处置", "Response started"),
    Action.CONTAIN: ("控制", "Contained"),
    Action.CLOSE: ("结案", "Closed"),
    Action.ESCALATE: ("升级", "Escalated"),
    Action.DEESCALATE: ("降级", "De-escalated"),
    Action.MERGE: ("合并", "Merged"),
    Action.REOPEN: ("重新处置", "Reopened"),
}, Action)

# The journal's other action codes (plain strings: the command service, ingest and the video
# server each add their own), named here so that every timeline says them the same way.
_JOURNAL_LABELS: Mapping[str, Bilingual] = {
    "open": ("立案", "Opened"),
    "report": ("接报", "Report"),
    "reported": ("接报", "Reported"),
    "rule_update": ("规则更新", "Rule update"),
    "correlated": ("关联报告", "Report linked"),
    "dispatch": ("调度", "Dispatch"),
    "order_ack": ("指令反馈", "Order update"),
    "order_overdue": ("指令超时", "Order overdue"),
    "order_ack_refused": ("反馈被拒", "Ack refused"),
    "reassign": ("改派", "Reassigned"),
    "orders_cancelled": ("指令取消", "Orders cancelled"),
    "order_stale": ("指令无进展", "Order without progress"),
    "unit_status": ("单位状态变更", "Unit status set"),
    "note": ("备注", "Note"),
    "sitrep": ("签发续报", "Sitrep issued"),
    "conference": ("发起视频会商", "Conference opened"),
    "recording": ("会商录像", "Recording"),
}
_LIFECYCLE_CODES = frozenset(action.value for action in Action)


def journal_action_label(code: str, lang: Lang) -> str:
    """Name of a journal action code; the code itself for one without a name."""
    if code in _LIFECYCLE_CODES:
        return Action(code).label(lang)
    return pick(_JOURNAL_LABELS[code], lang) if code in _JOURNAL_LABELS else code


class Resolution(StrEnum):
    """How an incident ended."""

    RESOLVED = "resolved"
    """Handled and over (结案, with the final report 终报)."""
    FALSE_ALARM = "false_alarm"
    """The report proved false (误报)."""
    MERGED = "merged"
    """Absorbed into another incident."""

    def label(self, lang: Lang) -> str:
        """How it ended, in words."""
        return pick(_RESOLUTION_LABELS[self], lang)


_RESOLUTION_LABELS: Mapping[Resolution, Bilingual] = checked({
    Resolution.RESOLVED: ("处置完毕", "Resolved"),
    Resolution.FALSE_ALARM: ("误报", "False alarm"),
    Resolution.MERGED: ("已合并", "Merged"),
}, Resolution)


class IllegalTransition(Conflict):
    """A command that the incident's current state does not allow; the message says why."""


class State(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of an incident the life cycle decides on."""

    status: IncidentStatus
    """Life-cycle state."""
    level: Level
    """Severity level, I is the most severe."""


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """A legal transition: the state after it and what the journal records."""

    state: State
    """The incident's state after the command."""
    action: Action
    """The journal's action code."""
    data: dict[str, str]
    """Event details for the journal (from/to status and level, resolution …)."""


def merge_events(target_id: str, absorbed_id: str, kept: Outcome, gone: Outcome, actor: str,
                 client: str | None) -> list[Event]:
    """The two journal events of a merge: the kept incident names the absorbed one, and back."""
    return [
        Event(target_id, actor, kept.action.value, {**kept.data, "absorbed": absorbed_id}, client),
        Event(absorbed_id, actor, gone.action.value, {**gone.data, "merged_into": target_id},
              client),
    ]


# Forward moves: which status each action leads to, and the statuses it may start from.
_FORWARD: dict[Action, tuple[IncidentStatus, frozenset[IncidentStatus]]] = {
    Action.VERIFY: (_S.VERIFIED, frozenset({_S.REPORTED})),
    # Contained can flare up again; responding is also entered by dispatching a plan.
    Action.RESPOND: (_S.RESPONDING, frozenset({_S.VERIFIED, _S.CONTAINED})),
    Action.CONTAIN: (_S.CONTAINED, frozenset({_S.RESPONDING})),
    Action.REOPEN: (_S.RESPONDING, frozenset({_S.CLOSED})),
}

_LEVEL_ORDER = (Level.IV, Level.III, Level.II, Level.I)  # least to most severe


def severity(level: Level) -> int:
    """0 for level IV (一般) up to 3 for level I (特别重大)."""
    return _LEVEL_ORDER.index(level)


def _refuse(action: Action, state: State) -> IllegalTransition:
    return IllegalTransition(
        f"事件当前状态为「{state.status.label(Lang.ZH)}」，不能执行“{action.value}”",
        f"cannot {action.value} an incident that is {state.status.value}",
    )


def _moved(state: State, action: Action, status: IncidentStatus | None = None,
           level: Level | None = None, **extra: str) -> Outcome:
    after = State(status=status or state.status, level=level or state.level)
    data = {"from_status": state.status.value, "to_status": after.status.value,
            "from_level": state.level.value, "to_level": after.level.value, **extra}
    return Outcome(state=after, action=action, data=data)


def advance(state: State, action: Action) -> Outcome:
    """Verify, respond, contain or reopen; IllegalTransition when the state does not allow it."""
    if action not in _FORWARD:
        raise ValueError(f"{action.value} is not a forward move; use its own function")
    target, sources = _FORWARD[action]
    if state.status not in sources:
        raise _refuse(action, state)
    return _moved(state, action, status=target)


def close(state: State, resolution: Resolution) -> Outcome:
    """Close (结案) a contained incident, or a reported / verified one that proved false."""
    if resolution is Resolution.MERGED:
        # A refusal, not a bug: a client may ask for it (the API answered 500, issue #16).
        raise Invalid("「已合并」只能通过合并产生，请使用合并",
                      "resolution merged is set by merging, not by closing: merge instead")
    allowed = ({_S.CONTAINED} if resolution is Resolution.RESOLVED
               else {_S.REPORTED, _S.VERIFIED})
    if state.status not in allowed:
        if resolution is Resolution.RESOLVED:
            raise IllegalTransition(
                f"事件当前状态为「{state.status.label(Lang.ZH)}」，须先确认已控制才能结案",
                f"an incident that is {state.status.value} must be contained before it is"
                " closed as resolved",
            )
        raise IllegalTransition(
            f"事件当前状态为「{state.status.label(Lang.ZH)}」，已进入处置，不能按误报关闭",
            f"an incident that is {state.status.value} is past verification and cannot be"
            " closed as a false alarm",
        )
    return _moved(state, Action.CLOSE, status=_S.CLOSED, resolution=resolution.value)


def change_level(state: State, level: Level) -> Outcome:
    """Escalate or de-escalate an open incident to `level`."""
    if state.status is _S.CLOSED:
        raise IllegalTransition("事件已结案，不能调整级别；请先重新打开",
                                "the incident is closed: reopen it before changing its level")
    if level == state.level:
        raise IllegalTransition(f"事件已是 {level.value} 级", f"the incident is already level"
                                f" {level.value}")
    action = Action.ESCALATE if severity(level) > severity(state.level) else Action.DEESCALATE
    return _moved(state, action, level=level)


def merge(target: State, absorbed: State, *, same: bool) -> tuple[Outcome, Outcome]:
    """Merge `absorbed` into `target` (two reports of one incident); both must be open.

    The target takes the more severe level of the two and stays in the more advanced status;
    the absorbed incident is closed with resolution `merged`.
    """
    if same:
        raise IllegalTransition("不能将事件与其自身合并",
                                "an incident cannot be merged into itself")
    for which in (target, absorbed):
        if which.status is _S.CLOSED:
            raise IllegalTransition("已结案的事件不能合并", "a closed incident cannot be merged")
    order = (_S.REPORTED, _S.VERIFIED, _S.RESPONDING, _S.CONTAINED)
    status = max(target.status, absorbed.status, key=order.index)
    level = max(target.level, absorbed.level, key=severity)
    kept = _moved(target, Action.MERGE, status=status, level=level)
    gone = _moved(absorbed, Action.CLOSE, status=_S.CLOSED, resolution=Resolution.MERGED.value)
    return kept, gone
