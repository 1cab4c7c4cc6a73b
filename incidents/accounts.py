"""Dashboard accounts and API tokens as records: what the user store keeps and sign-in reads.

Roles are plain strings here (the dashboard owns their meaning).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from incidents.errors import StoreError


class UserExists(StoreError):
    """A user with that name is already registered."""


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A dashboard account as stored."""

    username: str
    """Sign-in name: lower-case letters, digits, `.`, `_`, `-`."""
    display_name: str
    """Name shown to people (usually Chinese)."""
    password_hash: str
    """Argon2id hash in PHC format."""
    role: str
    """operator, leader, liaison or admin."""
    agency: str | None
    """The liaison's agency (may be set for other roles, for information)."""
    disabled: bool
    """A disabled account cannot sign in."""
    failed_logins: int
    """Wrong passwords since the last successful sign-in or the last lock-out."""
    locked_until: datetime | None
    """While in the future, sign-in is refused without checking the password."""
    created_at: datetime
    """When the account was created."""
    last_login_at: datetime | None
    """Last successful sign-in."""


@dataclass(frozen=True, slots=True)
class StoredToken:
    """An API bearer token as stored (its secret is not: only its SHA-256)."""

    token_id: str
    """Public part of the token, 16 hex digits."""
    secret_sha256: bytes
    """SHA-256 of the secret part."""
    role: str
    """Role the token acts with."""
    agency: str | None
    """Agency of a liaison token."""
    label: str
    """What the token is for, for people."""
    created_at: datetime
    """When it was issued."""
    expires_at: datetime | None
    """After this it is refused; None: it does not expire."""
    revoked_at: datetime | None
    """When it was revoked, if it was."""
    last_used_at: datetime | None
    """Last accepted use (updated at most once a minute)."""


@dataclass(frozen=True, slots=True)
class FailedLogin:
    """The account's state after a wrong password."""

    failed_logins: int
    """Consecutive failures counted so far."""
    locked_until: datetime | None
    """Set when this failure locked the account."""


TOKEN_PREFIX = "token:"
"""How an API token's actor name begins (`token:{token_id}`), as sign-in names it."""


@dataclass(frozen=True, slots=True)
class Person:
    """Who a journal actor name stands for, as documents print them."""

    name: str
    """Display name of the account, or the label of the API token."""
    role: str
    """Role code: operator, leader, liaison or admin."""
    token: bool = False
    """An API token acting with that role, not a person signed in."""


class People(Protocol):
    """Looks up the people behind actor names (user names and `token:{id}`)."""

    async def people(self, names: Collection[str]) -> dict[str, Person]:
        """The accounts and tokens among `names`; names of neither are left out."""
        ...


class KnownPeople:
    """A fixed directory of people: tests, and deployments without a user table."""

    def __init__(self, known: dict[str, Person] | None = None) -> None:
        """Start with `known` (actor name → person)."""
        self._known = dict(known or {})

    async def people(self, names: Collection[str]) -> dict[str, Person]:
        """The known people among `names`."""
        return {n: self._known[n] for n in names if n in self._known}
