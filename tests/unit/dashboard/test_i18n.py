"""The language helpers: Chinese by default, English on request, no one-language label."""

from __future__ import annotations

import json

import pytest

import dashboard.auth.pages
import incidents.lang
import video.pages
from config.settings import Settings
from dashboard.auth.roles import Action
from dashboard.desk_text import status_name
from dashboard.i18n import COMMON, Catalogue, Lang
from dashboard.live_push import live_config
from dashboard.wall import LIVE_IDS
from incidents.model import IncidentStatus


@pytest.mark.parametrize(("value", "lang"), [(None, Lang.ZH), ("", Lang.ZH), ("zh-CN", Lang.ZH),
                                             ("en", Lang.EN), ("en-US", Lang.EN),
                                             ("fr", Lang.ZH)])
def test_language_from_the_query(value: object, lang: Lang) -> None:
    assert Lang.of(value) is lang


def test_labels_in_each_language_and_both() -> None:
    assert COMMON("app_title", Lang.ZH) == "邢台市应急指挥中心"
    assert COMMON("app_title", Lang.EN) == "Xingtai Emergency Command Centre"
    assert COMMON.both("live") == "实时 Live"
    assert Lang.ZH.other is Lang.EN


def test_a_label_needs_both_languages_and_a_key_is_defined_once() -> None:
    with pytest.raises(ValueError, match="both"):
        Catalogue({"x": ("", "X")})
    with pytest.raises(ValueError, match="defined twice: live"):
        COMMON.extend({"live": ("实时", "Live")})
    with pytest.raises(KeyError):
        COMMON("nope", Lang.ZH)


def test_the_desk_and_the_wall_name_statuses_with_the_enums_words() -> None:
    for status in IncidentStatus:
        for lang in Lang:
            assert status_name(status, lang) == status.label(lang)
    assert status_name(IncidentStatus.CLOSED, Lang.ZH) == "已结案"
    element = live_config("x", Settings(), "wall", LIVE_IDS, [])
    config = json.loads(getattr(element, "data-config"))
    assert config["statuses"]["closed"] == ["已结案", "Closed"]


def test_one_lang_everywhere() -> None:
    assert dashboard.auth.pages.Lang is video.pages.Lang is Lang is incidents.lang.Lang


def test_refusals_name_the_action_in_both_languages() -> None:
    for action in Action:
        assert action.label(Lang.ZH) and action.label(Lang.EN)
