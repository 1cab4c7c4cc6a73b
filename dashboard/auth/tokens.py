"""Token formats: API bearer tokens, session ids and CSRF tokens. Pure functions, no I/O.

An API token reads `srt_{id}_{secret}`: the id (16 hex digits) finds the row, the secret
(32 random bytes, URL-safe base64) proves possession. Only SHA-256(secret) is stored: the
secret is already 256 random bits, so a slow hash would add nothing but latency per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "srt"
"""First part of every API token, so a leaked one is easy to recognise and search for."""

_TOKEN_RE = re.compile(r"srt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly minted API token: shown once, then only its digest is kept."""

    token_id: str
    """Public id, 16 hex digits."""
    secret: str
    """The secret part (URL-safe base64 of 32 random bytes)."""

    @property
    def text(self) -> str:
        """The whole token as the client sends it after `Bearer `."""
        return f"{TOKEN_PREFIX}_{self.token_id}_{self.secret}"

    @property
    def digest(self) -> bytes:
        """What the database keeps."""
        return secret_digest(self.secret)


def new_api_token() -> NewToken:
    """A new random API token."""
    return NewToken(token_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def parse_api_token(text: str) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed token, else None."""
    found = _TOKEN_RE.fullmatch(text.strip())
    return (found.group(1), found.group(2)) if found else None


def secret_digest(secret: str) -> bytes:
    """SHA-256 of a token's secret part."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def digest_matches(secret: str, stored: bytes) -> bool:
    """True when `secret` hashes to `stored` (compared in constant time)."""
    return hmac.compare_digest(secret_digest(secret), stored)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# --- sessions and CSRF ----------------------------------------------------------------------


def new_session_id() -> str:
    """A new session id: 32 random bytes, URL-safe. Only its SHA-256 names the Redis key."""
    return secrets.token_urlsafe(32)


def session_digest(session_id: str) -> str:
    """Hex SHA-256 of a session id: a Redis dump does not hand out live sessions."""
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def new_nonce() -> str:
    """A random value a CSRF token is bound to (kept in a cookie or in the session)."""
    return secrets.token_urlsafe(24)


def csrf_token(key: bytes, purpose: str, nonce: str) -> str:
    """The form token for `purpose` (e.g. "login") bound to `nonce`, signed with `key`.

    Double-submit with a signature: the nonce sits in an HttpOnly SameSite=Strict cookie (or
    in the server-side session) and the form carries HMAC(key, purpose, nonce); another site
    can neither read the cookie nor compute the HMAC without the key.
    """
    mac = hmac.new(key, f"{purpose}\n{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def csrf_valid(key: bytes, purpose: str, nonce: str | None, token: str | None) -> bool:
    """True when `token` is the CSRF token of `purpose` for `nonce`."""
    if not nonce or not token:
        return False
    return hmac.compare_digest(csrf_token(key, purpose, nonce).encode(),
                               token.encode("utf-8", "replace"))
