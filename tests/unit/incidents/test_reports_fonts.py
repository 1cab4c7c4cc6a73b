"""Finding the Chinese font: environment first, then Debian's files, then fontconfig."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from incidents.reports.fonts import (
    DEBIAN_FONTS,
    ENV_VAR,
    NOT_FOUND,
    FontNotFoundError,
    FontSpec,
    find_cjk_font,
    parse_spec,
)


def test_the_environment_variable_wins(tmp_path: Path) -> None:
    font = tmp_path / "mine.ttf"
    font.write_bytes(b"not parsed here")
    assert find_cjk_font({ENV_VAR: str(font)}) == FontSpec(font, 0)
    assert find_cjk_font({ENV_VAR: f"{font}#3"}) == FontSpec(font, 3)


def test_a_wrong_environment_variable_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(FontNotFoundError, match="SITROOM_REPORT_FONT=.*missing.ttf"):
        find_cjk_font({ENV_VAR: str(tmp_path / "missing.ttf")})


def test_the_first_existing_candidate_is_taken(tmp_path: Path) -> None:
    second = tmp_path / "b.ttc"
    second.write_bytes(b"x")
    candidates = (FontSpec(tmp_path / "a.ttc"), FontSpec(second, 2))
    assert find_cjk_font({}, candidates, fc_match=None) == FontSpec(second, 2)


def test_nothing_found_says_how_to_get_a_font() -> None:
    with pytest.raises(FontNotFoundError) as caught:
        find_cjk_font({}, candidates=(), fc_match=None)
    assert str(caught.value) == (
        "no Chinese font found: install fonts-wqy-microhei (apt-get install fonts-wqy-microhei)"
        " or set SITROOM_REPORT_FONT=/path/to/font.ttf")
    assert str(caught.value) == NOT_FOUND


def test_fontconfig_is_asked_when_no_known_file_exists() -> None:
    if shutil.which("fc-match") is None or not any(s.path.is_file() for s in DEBIAN_FONTS):
        pytest.fail("this test needs fontconfig and fonts-wqy-microhei (make system-deps)")
    found = find_cjk_font({}, candidates=())
    assert found.path.is_file()
    assert "dejavu" not in found.path.name.lower()  # fc-match's default is not accepted


def test_a_command_that_is_not_fontconfig_finds_nothing() -> None:
    with pytest.raises(FontNotFoundError):
        find_cjk_font({}, candidates=(), fc_match="true")  # prints nothing


def test_parse_spec_keeps_a_hash_that_is_not_an_index() -> None:
    assert parse_spec("/fonts/a#b.ttf") == FontSpec(Path("/fonts/a#b.ttf"))
    assert parse_spec("/fonts/x.ttc#1") == FontSpec(Path("/fonts/x.ttc"), 1)
