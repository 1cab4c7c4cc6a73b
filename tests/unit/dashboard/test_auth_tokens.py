"""Token formats: API bearer tokens, session ids, CSRF tokens."""

from __future__ import annotations

import hashlib

import pytest

from dashboard.auth.tokens import (
    bearer_token,
    csrf_token,
    csrf_valid,
    digest_matches,
    new_api_token,
    new_nonce,
    new_session_id,
    parse_api_token,
    session_digest,
)

KEY = b"k" * 32


def test_api_token_round_trip_and_digest() -> None:
    token = new_api_token()
    assert token.text.startswith("srt_")
    assert parse_api_token(token.text) == (token.token_id, token.secret)
    assert parse_api_token(f"  {token.text}\n") == (token.token_id, token.secret)
    assert token.digest == hashlib.sha256(token.secret.encode()).digest()
    assert digest_matches(token.secret, token.digest)
    assert not digest_matches(token.secret[:-1] + "x", token.digest)
    assert new_api_token().token_id != token.token_id


@pytest.mark.parametrize("text", [
    "", "srt_", "srt_0123456789abcdef_", "srt_0123456789ABCDEF_" + "a" * 43,
    "xyz_0123456789abcdef_" + "a" * 43, "srt_0123456789abcdef_" + "a" * 42,
    "srt_0123456789abcdef_" + "a" * 42 + "!",
])
def test_malformed_api_tokens_are_refused(text: str) -> None:
    assert parse_api_token(text) is None


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None),
    (None, None), ("", None),
])
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_session_ids_are_random_and_only_their_digest_names_a_key() -> None:
    first, second = new_session_id(), new_session_id()
    assert first != second and len(first) >= 43
    assert session_digest(first) == hashlib.sha256(first.encode()).hexdigest()
    assert first not in session_digest(first)


def test_csrf_token_is_bound_to_key_purpose_and_nonce() -> None:
    nonce = new_nonce()
    token = csrf_token(KEY, "login", nonce)
    assert csrf_valid(KEY, "login", nonce, token)
    assert not csrf_valid(KEY, "logout", nonce, token)
    assert not csrf_valid(KEY, "login", new_nonce(), token)
    assert not csrf_valid(b"x" * 32, "login", nonce, token)
    assert not csrf_valid(KEY, "login", None, token)
    assert not csrf_valid(KEY, "login", nonce, None)
    assert not csrf_valid(KEY, "login", nonce, token[:-1])
    assert not csrf_valid(KEY, "login", nonce, "令牌")
