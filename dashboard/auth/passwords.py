"""Password hashing (Argon2id through pwdlib), the password policy, and generated passwords.

Verification takes the same time whether or not the account exists: an unknown user's password
is checked against a dummy hash made with the same parameters, so response times do not tell
an attacker which user names are real.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

# No 0/O, 1/l/I: a generated password is read off a screen and typed by hand.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class PasswordPolicyError(ValueError):
    """The password is unacceptable; the message says why, in Chinese and English."""


def check_password_policy(password: str, min_length: int, username: str = "") -> None:
    """Raise PasswordPolicyError unless `password` is long enough and not the user name."""
    if len(password) < min_length:
        raise PasswordPolicyError(f"密码至少 {min_length} 个字符 / the password must have at"
                                  f" least {min_length} characters")
    if password.strip() != password:
        raise PasswordPolicyError("密码首尾不能有空格 / the password must not start or end"
                                  " with a space")
    if username and username.lower() in password.lower():
        raise PasswordPolicyError("密码不能包含用户名 / the password must not contain the user"
                                  " name")
    if len(set(password)) < 4:
        raise PasswordPolicyError("密码过于简单 / the password is too simple")


def generate_password(length: int = 16) -> str:
    """A random password of `length` unambiguous letters and digits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome of checking a password."""

    ok: bool
    """True when the password matches."""
    new_hash: str | None = None
    """A re-computed hash to store, when the stored one uses outdated parameters."""


class Passwords:
    """Hashes and verifies passwords with one pwdlib hasher (Argon2id by default)."""

    def __init__(self, hasher: PasswordHash | None = None) -> None:
        self._hasher = hasher or PasswordHash.recommended()
        # Hashed once at start: checking an unknown user against it costs a real verification.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """The hash to store for `password`."""
        return self._hasher.hash(password)

    def verify(self, password: str, stored_hash: str | None) -> Verified:
        """Check `password` against `stored_hash`; None (no such user) always fails, as slowly.

        A stored hash pwdlib cannot read fails like a wrong password rather than raising:
        the account is then unusable until an administrator sets a new password.
        """
        if stored_hash is None:
            self._hasher.verify(password, self._dummy)
            return Verified(ok=False)
        try:
            ok, updated = self._hasher.verify_and_update(password, stored_hash)
        except UnknownHashError:  # not a hash any of our hashers made
            self._hasher.verify(password, self._dummy)
            return Verified(ok=False)
        return Verified(ok=ok, new_hash=updated if ok else None)
