"""Argon2 hashing through pwdlib, constant-time refusal of unknown users, the password policy."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from dashboard.auth.passwords import (
    PasswordPolicyError,
    Passwords,
    check_password_policy,
    generate_password,
)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_hash_is_argon2id_and_verifies(passwords: Passwords) -> None:
    stored = passwords.hash("Kestrel-Harbour-2718")
    assert stored.startswith("$argon2id$")
    assert "Kestrel" not in stored
    assert passwords.verify("Kestrel-Harbour-2718", stored).ok
    assert not passwords.verify("kestrel-harbour-2718", stored).ok
    assert passwords.hash("Kestrel-Harbour-2718") != stored, "each hash has its own salt"


def test_unknown_user_and_unreadable_hash_fail_without_raising(passwords: Passwords) -> None:
    assert passwords.verify("anything", None).ok is False
    assert passwords.verify("anything", "not-a-hash").ok is False


def _median_s(call: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_unknown_user_takes_as_long_as_a_real_check(passwords: Passwords) -> None:
    stored = passwords.hash("Kestrel-Harbour-2718")
    real = _median_s(lambda: passwords.verify("wrong-password-1", stored))
    unknown = _median_s(lambda: passwords.verify("wrong-password-1", None))
    # Both run one full Argon2 verification (~150 ms here); a skipped check would take µs.
    assert unknown > 0.5 * real, (unknown, real)


def test_an_outdated_hash_is_replaced_on_success() -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    old = weak.hash("Kestrel-Harbour-2718")
    checked = Passwords().verify("Kestrel-Harbour-2718", old)
    assert checked.ok and checked.new_hash is not None
    assert checked.new_hash.startswith("$argon2id$") and "m=8192" not in checked.new_hash
    assert Passwords().verify("wrong", old).new_hash is None


@pytest.mark.parametrize(("password", "why"), [
    ("short1!", "至少 10"),
    (" Kestrel-Harbour-27", "空格"),
    ("zhangwei-2718-abc", "用户名"),
    ("aaaaaaaaaabbbb", "简单"),
])
def test_policy_refuses_with_a_bilingual_reason(password: str, why: str) -> None:
    with pytest.raises(PasswordPolicyError) as caught:
        check_password_policy(password, 10, "zhangwei")
    assert why in str(caught.value)
    assert " / " in str(caught.value), "Chinese, then English"


def test_generated_passwords_pass_the_policy_and_differ() -> None:
    made = {generate_password() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        assert len(password) == 16
        assert not set(password) & set("0O1lI")
        check_password_policy(password, 10, "leader")
