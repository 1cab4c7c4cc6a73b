"""Bearer tokens: mint/verify, expiry, tampering, and what each role may do."""

from __future__ import annotations

import base64
import json

import pytest

from incidents.video_tokens import (
    Claims,
    Role,
    TokenError,
    TokenProblem,
    in_any_room,
    is_admin,
    issue,
    may_join,
    may_manage_rooms,
    may_publish,
    may_record,
    may_watch,
    mint,
    verify,
)

SECRET = b"k" * 32
NOW = 1_750_000_000.0


def claims(role: Role = Role.UNIT, **fields: object) -> Claims:
    """Claims expiring an hour after NOW."""
    return Claims(sub=str(fields.pop("sub", "car-7")), role=role, exp=int(NOW + 3600),
                  **fields)  # type: ignore[arg-type]


def test_a_minted_token_verifies_to_the_same_claims() -> None:
    original = claims(Role.LEADER, sub="李伟", may_watch=True, rooms=("r1",))
    assert verify(SECRET, mint(SECRET, original), now=NOW) == original


def test_the_token_is_compact_json_with_the_claim_names() -> None:
    body = mint(SECRET, claims(publish=("car-7",))).split(".")[0]
    doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert doc == {"sub": "car-7", "role": "unit", "exp": int(NOW + 3600),
                   "publish": ["car-7"], "may_watch": False, "rooms": []}


def test_an_expired_token_is_refused() -> None:
    token = issue(SECRET, "car-7", Role.UNIT, 60, now=NOW)
    assert verify(SECRET, token, now=NOW + 59).sub == "car-7"
    with pytest.raises(TokenError) as caught:
        verify(SECRET, token, now=NOW + 60)
    assert caught.value.problem is TokenProblem.EXPIRED


@pytest.mark.parametrize("edit", ["claims", "signature", "secret"])
def test_a_tampered_token_is_refused(edit: str) -> None:
    token = mint(SECRET, claims(publish=("car-7",)))
    body, signature = token.split(".")
    if edit == "claims":
        # Grant itself another stream, keeping the old signature.
        forged = json.dumps({"sub": "car-7", "role": "admin", "exp": int(NOW + 3600),
                             "publish": ["*"]}).encode()
        token = base64.urlsafe_b64encode(forged).rstrip(b"=").decode() + "." + signature
        secret = SECRET
    elif edit == "signature":
        token = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        secret = SECRET
    else:
        secret = b"j" * 32
    with pytest.raises(TokenError) as caught:
        verify(secret, token, now=NOW)
    assert caught.value.problem is TokenProblem.BAD_SIGNATURE


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "###.###", "x" * 5000])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError) as caught:
        verify(SECRET, token, now=NOW)
    assert caught.value.problem in (TokenProblem.MALFORMED, TokenProblem.BAD_SIGNATURE)


def test_signed_claims_of_the_wrong_shape_are_refused() -> None:
    body = base64.urlsafe_b64encode(b'{"sub": "x", "role": "pilot", "exp": 1}').rstrip(b"=")
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    mac = hmac.new(SECRET, body, hashlib.sha256).digest()
    token = body.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(TokenError) as caught:
        verify(SECRET, token, now=NOW)
    assert caught.value.problem is TokenProblem.BAD_CLAIMS


def test_a_unit_publishes_only_its_own_streams_and_never_watches() -> None:
    unit = claims(Role.UNIT, publish=("car-7", "car-7-rear", "*"), may_watch=True,
                  rooms=("*",))
    assert may_publish(unit, "car-7") and may_publish(unit, "car-7-rear")
    assert not may_publish(unit, "car-8")  # the wildcard is for admins only
    assert not may_watch(unit)
    assert not may_join(unit, "any-room") and not in_any_room(unit)
    assert not may_manage_rooms(unit) and not is_admin(unit)


def test_staff_scopes() -> None:
    leader = claims(Role.LEADER, may_watch=True, rooms=("r1",))
    liaison = claims(Role.LIAISON, may_watch=False, rooms=("*",))
    admin = claims(Role.ADMIN, publish=("*",))
    assert may_watch(leader) and not may_watch(liaison)
    assert may_join(leader, "r1") and not may_join(leader, "r2")
    assert may_join(liaison, "r2") and in_any_room(liaison)
    assert may_record(leader, "r1") and not may_record(leader, "r2")
    assert not may_record(liaison, "r2") and not may_manage_rooms(liaison)
    assert may_publish(admin, "anything") and is_admin(admin)
    invited_unit = claims(Role.UNIT, rooms=("r1",))
    assert may_join(invited_unit, "r1") and in_any_room(invited_unit)
