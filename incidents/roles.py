"""Who someone is to sitroom: the one `Role` the dashboard, its tokens and the video server use.

Staff roles (值班员, 指挥长, 部门联络员, 系统管理员) sign in to the dashboard; field units and
cameras only ever hold video tokens that let them publish their own streams. What each staff
role may do on the dashboard is `dashboard.auth.roles.PERMISSIONS`; on the video server,
`incidents.video_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from incidents.lang import Bilingual, Lang, checked, pick


class Role(StrEnum):
    """Who holds an account or a token."""

    OPERATOR = "operator"
    LEADER = "leader"
    LIAISON = "liaison"
    ADMIN = "admin"
    UNIT = "unit"
    CAMERA = "camera"

    def label(self, lang: Lang) -> str:
        """Name of the role for people."""
        return pick(_LABELS[self], lang)

    @property
    def label_zh(self) -> str:
        """Chinese name of the role."""
        return _LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English name of the role."""
        return _LABELS[self][1]


_LABELS: Mapping[Role, Bilingual] = checked({
    Role.OPERATOR: ("值班员", "Operator"),
    Role.LEADER: ("指挥长", "Leader"),
    Role.LIAISON: ("部门联络员", "Agency liaison"),
    Role.ADMIN: ("系统管理员", "Administrator"),
    Role.UNIT: ("现场力量", "Field unit"),
    Role.CAMERA: ("视频监控点", "Camera"),
}, Role)

STAFF = frozenset({Role.LEADER, Role.OPERATOR, Role.LIAISON, Role.ADMIN})
"""Command-centre people: the only roles that sign in to the dashboard or hold its accounts."""
