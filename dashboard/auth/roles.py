"""Roles, actions and the one permission table the whole dashboard asks: `can(role, action)`.

Pure: no Flask, no I/O. The server checks every request against this table; the browser is
never trusted to hide what a role may not do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from incidents.lang import Bilingual, Lang, checked, pick
from incidents.roles import STAFF as STAFF
from incidents.roles import Role as Role


class Action(StrEnum):
    """A kind of thing a route or callback does; each route requires exactly one."""

    VIEW = "view"
    """See the situation: map, lists, incident details, health (read only)."""
    REPORT = "report"
    """Enter an incident report by hand."""
    INCIDENT_ACT = "incident_act"
    """Verify, escalate, de-escalate, annotate, close an incident."""
    DISPATCH = "dispatch"
    """Dispatch a response plan or a unit."""
    CONFERENCE = "conference"
    """Open and run a video conference on an incident."""
    AGENCY_TASK = "agency_task"
    """Acknowledge or update a dispatch order (a liaison: of their own agency only)."""
    ADMIN = "admin"
    """Manage users, tokens, map layers and plans."""

    def label(self, lang: Lang) -> str:
        """What the action is, for refusal messages."""
        return pick(_ACTION_LABELS[self], lang)

    @property
    def label_zh(self) -> str:
        """What the action is, in Chinese (for refusal messages)."""
        return _ACTION_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """What the action is, in English."""
        return _ACTION_LABELS[self][1]


_ACTION_LABELS: Mapping[Action, Bilingual] = checked({
    Action.VIEW: ("查看态势", "view the situation"),
    Action.REPORT: ("录入事件报告", "enter incident reports"),
    Action.INCIDENT_ACT: ("处置事件（核实、升级、批注、终报）",
                          "act on incidents (verify, escalate, note, close)"),
    Action.DISPATCH: ("下达调度指令", "dispatch plans and units"),
    Action.CONFERENCE: ("组织视频会商", "run video conferences"),
    Action.AGENCY_TASK: ("处理部门任务", "handle agency tasks"),
    Action.ADMIN: ("系统管理", "administer the system"),
}, Action)

_EVERYTHING = frozenset(Action)

PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset({Action.VIEW, Action.REPORT}),
    Role.LEADER: _EVERYTHING - {Action.ADMIN},
    Role.LIAISON: frozenset({Action.VIEW, Action.AGENCY_TASK}),
    Role.ADMIN: _EVERYTHING,
}
"""The permission table: the actions each staff role may take (units and cameras: none)."""


def can(role: Role, action: Action) -> bool:
    """True when `role` may take `action` (agency scoping aside: see `User.may`)."""
    return action in PERMISSIONS.get(role, frozenset())


class AuthMethod(StrEnum):
    """How a request proved who it is."""

    SESSION = "session"
    TOKEN = "token"


@dataclass(frozen=True, slots=True)
class User:
    """Who made the current request, as the server established it."""

    username: str
    """Account name, or `token:{id}` for an API token."""
    display_name: str
    """Name shown to people."""
    role: Role
    """What they may do."""
    agency: str | None
    """A liaison's agency."""
    via: AuthMethod
    """Session cookie or bearer token."""

    def may(self, action: Action, agency: str | None = None) -> bool:
        """True when this user may take `action`, for `agency`'s orders when one is named.

        A liaison may act only on their own agency's tasks: routes that touch one agency's
        orders pass that agency here, and a liaison of another agency is refused.
        """
        if not can(self.role, action):
            return False
        if self.role is Role.LIAISON and action is Action.AGENCY_TASK and agency is not None:
            return agency == self.agency
        return True
