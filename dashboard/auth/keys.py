"""The dashboard's secret key: refused when missing or weak, and the keys derived from it.

One secret (`auth.secret_key`, from SITROOM_AUTH__SECRET_KEY) feeds every keyed function of the
dashboard through `derive_key(secret, purpose)`, so a key used for one purpose never signs for
another. Every dashboard worker must have the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import SecretStr

MIN_SECRET_BYTES = 32
"""Shortest secret accepted, in bytes of UTF-8."""

ENV_NAME = "SITROOM_AUTH__SECRET_KEY"
"""The environment variable that sets the secret."""

_HINT = (f"set {ENV_NAME} to a random secret of at least {MIN_SECRET_BYTES} bytes, e.g."
         " `python -c 'import secrets; print(secrets.token_urlsafe(48))'`, the same on every"
         " dashboard worker (`sitroom up` and `sitroom demo` generate one under var/secrets/)")

# Words that make up the defaults people copy from examples ("change-me", "secret", …),
# compared after lower-casing and dropping everything but letters and digits.
_DEFAULT_WORDS = ("changeme", "replaceme", "changeit", "secret", "password", "passwd",
                  "default", "example", "sitroom", "insecure", "dashboard", "django", "flask",
                  "key", "test", "dev", "demo", "admin", "please", "your", "this", "is", "my")
_MIN_LEFT_OVER = 16  # letters and digits that must remain once those words are removed
_MIN_DISTINCT = 10   # "aaaa…" or "01230123…" are long but guessable


class InsecureSecret(ValueError):
    """The secret key is missing or weak; the message says how to set a good one."""


def check_secret(secret: SecretStr | str | None) -> bytes:
    """The secret as bytes, or InsecureSecret when it is missing, short or a known default."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        raise InsecureSecret(f"the dashboard has no secret key: {_HINT}")
    raw = value.encode("utf-8")
    if len(raw) < MIN_SECRET_BYTES:
        raise InsecureSecret(f"the dashboard's secret key is too short ({len(raw)} bytes):"
                             f" {_HINT}")
    if _looks_default(value):
        raise InsecureSecret(f"the dashboard's secret key is a known default or too"
                             f" predictable: {_HINT}")
    return raw


def _looks_default(value: str) -> bool:
    left = re.sub(r"[^a-z0-9]", "", value.lower())
    for word in sorted(_DEFAULT_WORDS, key=len, reverse=True):
        left = left.replace(word, "")
    repeated = re.fullmatch(r"(.{1,16}?)\1+", value) is not None  # "0123456789" * 4
    return len(left) < _MIN_LEFT_OVER or len(set(value)) < _MIN_DISTINCT or repeated


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one `purpose` (e.g. "csrf"), derived from the secret with HMAC."""
    return hmac.new(secret, b"sitroom-dashboard/" + purpose.encode("utf-8"),
                    hashlib.sha256).digest()

