"""Account administration for the `sitroom user …` and `sitroom token …` commands, and the demo.

The async functions do the work over a UserStore (tests call them directly); the `*_command`
functions are what the CLI calls: they take the Settings and the parsed arguments, print what
happened, and return the exit status.
"""

from __future__ import annotations

import asyncio
import getpass
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO, TypeVar

from config.settings import Settings
from dashboard.auth.passwords import (
    PasswordPolicyError,
    Passwords,
    check_password_policy,
    generate_password,
)
from dashboard.auth.roles import STAFF, Role
from dashboard.auth.service import normalize_username, utc_now, valid_username
from dashboard.auth.sessions import SessionStore, SessionUnavailable
from dashboard.auth.tokens import NewToken, new_api_token
from incidents.accounts import StoredUser
from incidents.store import StoreError
from incidents.store.users import UserStore

T = TypeVar("T")

DEMO_LEADER = "leader"
"""User name of the demo's leader account."""


class AccountError(ValueError):
    """An account command cannot be done as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """The demo's sign-in, printed once when `sitroom demo` starts."""

    username: str
    """User name."""
    password: str
    """The password generated for this run."""


def checked_account(username: str, role: str, agency: str | None,
                    agencies: tuple[str, ...]) -> tuple[str, Role, str | None]:
    """(user name, role, agency) normalised, or AccountError saying what is wrong."""
    name = normalize_username(username)
    if not valid_username(name):
        raise AccountError(f"user name {username!r}: use 2–64 lower-case letters, digits,"
                           " '.', '_' or '-', starting with a letter or digit")
    checked_role = next((r for r in Role if r.value == role and r in STAFF), None)
    if checked_role is None:  # units and cameras hold video tokens, never accounts
        raise AccountError(f"role {role!r}: use one of "
                           + ", ".join(r.value for r in Role if r in STAFF))
    if agency is not None and agency not in agencies:
        raise AccountError(f"agency {agency!r}: use one of {', '.join(agencies)}")
    if checked_role is Role.LIAISON and agency is None:
        raise AccountError("a liaison needs --agency: they act for one agency's tasks")
    return name, checked_role, agency


async def create_user(users: UserStore, passwords: Passwords, settings: Settings,
                      username: str, password: str, role: str, agency: str | None = None,
                      display_name: str | None = None, now: datetime | None = None
                      ) -> StoredUser:
    """Create an account after checking the name, role, agency and password policy."""
    name, checked_role, checked_agency = checked_account(username, role, agency,
                                                         settings.agencies)
    check_password_policy(password, settings.auth.min_password_length, name)
    hashed = await asyncio.to_thread(passwords.hash, password)
    return await users.add_user(name, display_name or name, hashed, checked_role.value,
                                checked_agency, now or utc_now())


async def change_password(users: UserStore, passwords: Passwords, settings: Settings,
                          username: str, password: str) -> None:
    """Set a new password (this also lifts a lock-out)."""
    name = normalize_username(username)
    check_password_policy(password, settings.auth.min_password_length, name)
    hashed = await asyncio.to_thread(passwords.hash, password)
    if not await users.set_password(name, hashed):
        raise AccountError(f"no user {name!r}")


async def set_disabled(users: UserStore, username: str, disabled: bool = True) -> None:
    """Disable (or enable again) an account."""
    name = normalize_username(username)
    if not await users.set_disabled(name, disabled):
        raise AccountError(f"no user {name!r}")


async def create_token(users: UserStore, settings: Settings, role: str,
                       agency: str | None = None, label: str = "", days: float | None = None,
                       now: datetime | None = None) -> NewToken:
    """Issue an API token; the returned text is shown once and never stored."""
    _, checked_role, checked_agency = checked_account("token", role, agency, settings.agencies)
    if days is not None and days <= 0:
        raise AccountError("--days must be positive")
    issued = now or utc_now()
    expires = issued + timedelta(days=days) if days is not None else None
    token = new_api_token()
    await users.add_token(token.token_id, token.digest, checked_role.value, checked_agency,
                          label, issued, expires)
    return token


async def ensure_demo_leader(users: UserStore, passwords: Passwords,
                             username: str = DEMO_LEADER) -> DemoAccount:
    """Create (or reset) the demo's leader account with a new generated password."""
    password = generate_password()
    hashed = await asyncio.to_thread(passwords.hash, password)
    await users.put_user(username, "演示指挥长 Demo leader", hashed, Role.LEADER.value, None,
                         utc_now())
    return DemoAccount(username=username, password=password)


def demo_leader(database_url: str) -> DemoAccount:
    """`ensure_demo_leader` on `database_url` (migrated), for `sitroom demo` to call."""
    return _run(database_url, lambda users: ensure_demo_leader(users, Passwords()))


# --- what the CLI calls ---------------------------------------------------------------------


def read_password(password_stdin: bool, stdin: TextIO | None = None) -> str:
    """A new password: one line of standard input, or typed twice at the terminal."""
    if password_stdin:
        return (stdin or sys.stdin).readline().rstrip("\r\n")
    first = getpass.getpass("新密码 New password: ")
    if getpass.getpass("再次输入 Repeat: ") != first:
        raise AccountError("the two passwords differ")
    return first


def user_add_command(settings: Settings, username: str, role: str, agency: str | None,
                     name: str | None, password_stdin: bool) -> int:
    """`sitroom user add USERNAME --role ROLE [--agency A] [--name NAME] [--password-stdin]`."""
    try:
        checked_account(username, role, agency, settings.agencies)  # before asking anything
        password = _new_password(settings, username, password_stdin)
    except (AccountError, PasswordPolicyError) as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 1
    return _command(settings, lambda users: create_user(users, Passwords(), settings, username,
                                                        password, role, agency, name),
                    lambda user: f"created {user.username} ({user.role})")


def user_passwd_command(settings: Settings, username: str, password_stdin: bool) -> int:
    """`sitroom user passwd USERNAME [--password-stdin]`: also signs the user out everywhere."""
    try:
        password = _new_password(settings, username, password_stdin)
    except (AccountError, PasswordPolicyError) as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 1

    async def work(users: UserStore) -> str:
        await change_password(users, Passwords(), settings, username, password)
        return await _end_sessions(settings, normalize_username(username))

    return _command(settings, work, lambda ended: f"password changed; {ended}")


def user_disable_command(settings: Settings, username: str) -> int:
    """`sitroom user disable USERNAME`: refuses sign-in and ends the user's sessions."""
    async def work(users: UserStore) -> str:
        await set_disabled(users, username)
        return await _end_sessions(settings, normalize_username(username))

    return _command(settings, work, lambda ended: f"disabled; {ended}")


def token_create_command(settings: Settings, role: str, agency: str | None, label: str,
                         days: float | None) -> int:
    """`sitroom token create --role ROLE [--agency A] [--label L] [--days N]`."""
    return _command(settings, lambda users: create_token(users, settings, role, agency, label,
                                                         days),
                    lambda token: f"{token.text}\n(id {token.token_id}; shown only once:"
                                  " keep it in the client's secret store)")


def token_revoke_command(settings: Settings, token_id: str) -> int:
    """`sitroom token revoke TOKEN_ID`."""
    async def work(users: UserStore) -> bool:
        return await users.revoke_token(token_id, utc_now())

    return _command(settings, work, lambda done: "revoked" if done
                    else f"no active token {token_id!r}", lambda done: done)


def _new_password(settings: Settings, username: str, password_stdin: bool) -> str:
    password = read_password(password_stdin)
    check_password_policy(password, settings.auth.min_password_length,
                          normalize_username(username))
    return password


async def _end_sessions(settings: Settings, username: str) -> str:
    if settings.redis_url is None:
        return "no redis_url: open sessions end within a minute when they re-check the account"
    # Ending sessions deletes them by the user's index and never reads a record, so this
    # command needs no dashboard secret: a throw-away key seals nothing that is kept.
    sessions = SessionStore.from_url(settings.redis_url, settings.redis_prefix,
                                     timedelta(minutes=1), timedelta(minutes=1), utc_now,
                                     mac_key=secrets.token_bytes(32))
    try:
        ended = await sessions.delete_user(username)
    except SessionUnavailable as exc:
        return f"{exc}; open sessions end within a minute when they re-check the account"
    finally:
        await sessions.close()
    return f"{ended} open session(s) ended"


def _command(settings: Settings, work: Callable[[UserStore], Awaitable[T]],
             say: Callable[[T], str], ok: Callable[[T], bool] = lambda _: True) -> int:
    if settings.database_url is None:
        print("sitroom: set SITROOM_DATABASE_URL (accounts live in PostgreSQL)", file=sys.stderr)
        return 2
    try:
        result = _run(settings.database_url, work)
    except (AccountError, PasswordPolicyError, StoreError) as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 1
    print(say(result))
    return 0 if ok(result) else 1


def _run(database_url: str, work: Callable[[UserStore], Awaitable[T]]) -> T:
    async def main() -> T:
        users = await UserStore.connect(database_url, min_size=1, max_size=1)
        try:
            return await work(users)
        finally:
            await users.close()

    return asyncio.run(main())
