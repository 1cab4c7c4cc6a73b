"""The language helpers: Chinese by default, English on request, no one-language label."""

from __future__ import annotations

import pytest

from dashboard.i18n import COMMON, Catalogue, Lang


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
