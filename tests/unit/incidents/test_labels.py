"""One vocabulary: every domain enum names each of its members in both languages, once."""

from __future__ import annotations

import inspect
from enum import StrEnum
from types import ModuleType

import pytest

import incidents.dispatch
import incidents.facilities
import incidents.lifecycle
import incidents.model
import incidents.primitives
import incidents.roles
from incidents.lang import Lang, checked, pair_of
from incidents.lifecycle import Action, journal_action_label
from incidents.model import AckState, IncidentStatus
from incidents.reports.model import OrderState as ShownOrderState
from incidents.reports.texts import status_name as report_status

DOMAIN_MODULES = (incidents.primitives, incidents.model, incidents.lifecycle, incidents.dispatch,
                  incidents.roles, incidents.facilities)


def enums_of(module: ModuleType) -> list[type[StrEnum]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, StrEnum) and obj.__module__ == module.__name__]


DOMAIN_ENUMS = [e for module in DOMAIN_MODULES for e in enums_of(module)] + [ShownOrderState]


def test_the_domain_modules_define_the_enums_we_expect() -> None:
    names = {e.__name__ for e in DOMAIN_ENUMS}
    assert {"Kind", "CoordSystem", "Level", "IncidentStatus", "AlarmState", "Availability",
            "AckState", "Action", "Resolution", "OrderState", "Role", "FacilityKind"} <= names


@pytest.mark.parametrize("enum", DOMAIN_ENUMS, ids=lambda e: f"{e.__module__}.{e.__name__}")
def test_every_member_has_a_chinese_and_an_english_label(enum: type[StrEnum]) -> None:
    for member in enum:
        zh, en = pair_of(member)  # type: ignore[arg-type]  # every domain enum has label()
        assert zh.strip() and en.strip(), member
        assert zh != en or zh.isascii(), f"{member!r}: the Chinese label is the English one"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), f"{member!r}: {zh!r} is not Chinese"


def test_closed_reads_one_way_in_every_report() -> None:
    closed = IncidentStatus.CLOSED
    assert closed.label(Lang.ZH) == "已结案" and closed.label(Lang.EN) == "Closed"
    for lang in Lang:
        assert report_status(closed, lang) == closed.label(lang)


def test_order_states_use_the_units_words() -> None:
    for ack in (AckState.ACKNOWLEDGED, AckState.ON_SCENE, AckState.DONE):
        shown = ShownOrderState(ack.value)
        assert shown.label(Lang.ZH) == ack.label(Lang.ZH)


def test_journal_actions_are_named_from_the_life_cycle_first() -> None:
    assert journal_action_label("close", Lang.ZH) == Action.CLOSE.label(Lang.ZH) == "结案"
    assert journal_action_label("sitrep", Lang.EN) == "Sitrep issued"
    assert journal_action_label("made_up", Lang.ZH) == "made_up"


def test_a_label_table_missing_a_member_fails_at_once() -> None:
    short: dict[IncidentStatus, tuple[str, str]] = {
        s: ("x", "y") for s in IncidentStatus if s is not IncidentStatus.CLOSED}
    blank: dict[IncidentStatus, tuple[str, str]] = {s: ("", "y") for s in IncidentStatus}
    with pytest.raises(ValueError, match="CLOSED"):
        checked(short, IncidentStatus)
    with pytest.raises(ValueError, match="empty"):
        checked(blank, IncidentStatus)


def test_lang_reads_query_values_and_tags() -> None:
    assert Lang.of("zh-CN") is Lang.ZH and Lang.of("en-GB") is Lang.EN and Lang.of(None) is Lang.ZH
    assert (Lang.ZH.tag, Lang.EN.tag, Lang.ZH.other) == ("zh-CN", "en", Lang.EN)
