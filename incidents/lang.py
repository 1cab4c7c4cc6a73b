"""The two languages sitroom speaks, zh-CN first and en second, for every screen and report.

One `Lang` for the dashboard, the login pages, the video pages and the reports; the domain
enums (incidents.primitives, model, lifecycle, dispatch, roles) carry their names in both languages
beside their definition and answer `label(lang)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Protocol, TypeVar

_E = TypeVar("_E", bound=Enum)


class Lang(StrEnum):
    """A language: every label exists in both."""

    ZH = "zh"
    EN = "en"

    @classmethod
    def of(cls, value: object) -> Lang:
        """The language a query value names (zh, zh-CN, en, en-GB …); Chinese unless English."""
        text = str(value or "").lower()
        return cls.EN if text.startswith("en") else cls.ZH

    @property
    def other(self) -> Lang:
        """The language a switch offers."""
        return Lang.EN if self is Lang.ZH else Lang.ZH

    @property
    def tag(self) -> str:
        """The BCP 47 tag for HTML `lang` attributes and links: zh-CN or en."""
        return "zh-CN" if self is Lang.ZH else "en"


Bilingual = tuple[str, str]
"""A (Chinese, English) pair of texts."""


def pick(pair: Bilingual, lang: Lang) -> str:
    """The Chinese or English half of a (zh, en) pair."""
    return pair[0] if lang is Lang.ZH else pair[1]


class Labelled(Protocol):
    """Anything with a name in both languages (every domain enum member)."""

    def label(self, lang: Lang) -> str:
        """The name in `lang`."""
        ...


def pair_of(item: Labelled) -> Bilingual:
    """The (zh, en) names of `item`, for a table that reuses another enum's words."""
    return item.label(Lang.ZH), item.label(Lang.EN)


def checked(labels: Mapping[_E, Bilingual], members: type[_E]) -> Mapping[_E, Bilingual]:
    """`labels` after checking it names every member of the enum `members` in both languages.

    Run once at import beside each enum, so that a member added without its names fails at
    start-up (and in every test) rather than as a KeyError on some screen.
    """
    missing = [m for m in members if m not in labels]
    empty = [m for m, (zh, en) in labels.items() if not zh.strip() or not en.strip()]
    if missing or empty:
        raise ValueError(f"{members.__name__}: no label for {missing}, empty label for {empty}")
    return labels
