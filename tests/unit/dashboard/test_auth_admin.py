"""Account commands: what they accept before touching the database."""

from __future__ import annotations

import io

import pytest

from config.settings import DEFAULT_AGENCIES, Settings
from dashboard.auth.admin import (
    AccountError,
    checked_account,
    read_password,
    token_create_command,
    user_add_command,
)
from dashboard.auth.roles import Role


def test_names_are_case_insensitive_and_roles_checked() -> None:
    assert checked_account(" WangWei ", "leader", None, DEFAULT_AGENCIES) == (
        "wangwei", Role.LEADER, None)
    assert checked_account("fire.desk-1", "liaison", "fire", DEFAULT_AGENCIES) == (
        "fire.desk-1", Role.LIAISON, "fire")


@pytest.mark.parametrize(("username", "role", "agency", "why"), [
    ("w", "leader", None, "user name"),
    ("王伟", "leader", None, "user name"),
    ("-lead", "leader", None, "user name"),
    ("wangwei", "commander", None, "operator, leader, liaison, admin"),
    ("wangwei", "camera", None, "operator, leader, liaison, admin"),
    ("wangwei", "liaison", None, "--agency"),
    ("wangwei", "liaison", "navy", "police"),
])
def test_bad_accounts_are_refused_with_what_to_use(username: str, role: str,
                                                   agency: str | None, why: str) -> None:
    with pytest.raises(AccountError) as caught:
        checked_account(username, role, agency, DEFAULT_AGENCIES)
    assert why in str(caught.value)


def test_password_from_stdin_is_one_line_without_its_newline() -> None:
    assert read_password(True, io.StringIO("Kestrel Harbour 2718\r\nrest")) == \
        "Kestrel Harbour 2718"


def test_commands_refuse_before_asking_for_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    # No password is read (stdin is not touched): the role is wrong.
    assert user_add_command(settings, "wangwei", "liaison", None, None, False) == 1
    assert "--agency" in capsys.readouterr().err
    assert token_create_command(Settings(), "admin", None, "", None) == 2
    assert "SITROOM_DATABASE_URL" in capsys.readouterr().err
