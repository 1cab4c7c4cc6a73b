"""Sign-in under attack: one address guessing is slowed down, not the account for everyone;
a leader locked out from outside still signs in from the command centre's own network;
strangers cannot queue up Argon2 work, and concurrent guesses do not get past the count."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.settings import Settings
from dashboard.auth import Role
from dashboard.auth.login_page import throttled_text
from dashboard.auth.passwords import Passwords, Verified
from dashboard.auth.service import AuthService, LoginStatus
from dashboard.auth.throttle import address_wait_s, trusted
from tests.support.auth import TEST_PASSWORD, create_user

pytestmark = pytest.mark.integration

OUTSIDE = "203.0.113.5"
DESK = "10.10.3.4"


class CountingPasswords(Passwords):
    """The real hasher, counting (and optionally slowing) every check."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.checks = 0
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def verify(self, password: str, stored_hash: str | None) -> Verified:
        with self._lock:
            self.checks += 1
        time.sleep(self.delay_s)
        return super().verify(password, stored_hash)


@pytest.fixture(scope="module")
def counting() -> Iterator[CountingPasswords]:
    yield CountingPasswords()


@pytest.fixture
async def opened(auth_settings: Settings, counting: CountingPasswords
                 ) -> AsyncIterator[Any]:
    """Open an AuthService with changed auth settings; all are closed afterwards."""
    services: list[AuthService] = []

    def open_with(passwords: Passwords | None = None, **auth: Any) -> AuthService:
        settings = auth_settings.model_copy(update={
            "auth": auth_settings.auth.model_copy(update=auth)})
        service = AuthService.open(settings, passwords=passwords or counting)
        services.append(service)
        return service

    yield open_with
    for service in services:
        await service.close()


async def test_an_address_that_keeps_guessing_must_wait_longer_each_time(
        opened: Any, counting: CountingPasswords) -> None:
    service = opened(address_free_failures=2)
    for _ in range(3):
        result = await service.login("nobody", "wrong-password-1", OUTSIDE)
        assert result.status is LoginStatus.BAD_CREDENTIALS
    before = counting.checks
    turned = await service.login("nobody", "wrong-password-1", OUTSIDE)
    assert turned.status is LoginStatus.THROTTLED and turned.locked_until is not None
    assert turned.locked_until <= datetime.now(UTC) + timedelta(seconds=1.1)
    assert counting.checks == before, "no password is checked while an address waits"
    elsewhere = await service.login("nobody", "wrong-password-1", "198.51.100.7")
    assert elsewhere.status is LoginStatus.BAD_CREDENTIALS  # others are not slowed down
    assert [address_wait_s(n, 2, 900) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 16]
    assert address_wait_s(40, 2, 900) == 900


async def test_a_leader_locked_out_from_outside_signs_in_at_the_desk(
        opened: Any, database_url: str, counting: CountingPasswords) -> None:
    await create_user(database_url, "wangwei", Role.LEADER, passwords=counting)
    service = opened(trusted_networks=("10.10.0.0/16",), address_free_failures=50)
    results = [await service.login("wangwei", "wrong-password-1", OUTSIDE) for _ in range(5)]
    assert results[-1].status is LoginStatus.LOCKED
    again = await service.login("wangwei", TEST_PASSWORD, OUTSIDE)
    assert again.status is LoginStatus.LOCKED  # the attacker's side stays locked
    at_the_desk = await service.login("wangwei", TEST_PASSWORD, DESK)
    assert at_the_desk.status is LoginStatus.OK and at_the_desk.session_id
    # A typo at the desk does not lock anyone out either.
    typo = await service.login("wangwei", "wrong-password-1", DESK)
    assert typo.status is LoginStatus.BAD_CREDENTIALS
    assert trusted("::ffff:10.10.0.9", ("10.10.0.0/16",))
    assert not trusted(OUTSIDE, ("10.10.0.0/16",))


async def test_strangers_cannot_queue_up_password_checks(opened: Any) -> None:
    slow = CountingPasswords(delay_s=0.3)
    service = opened(passwords=slow, password_checks=1, password_queue=1,
                     address_free_failures=50)
    results = await asyncio.gather(*(
        service.login(f"stranger{n}", "wrong-password-1", f"198.51.100.{n}")
        for n in range(8)))
    statuses = [r.status for r in results]
    assert statuses.count(LoginStatus.BUSY) == 6, statuses
    assert slow.checks == 2, "one check ran, one waited, the rest were turned away at once"


async def test_concurrent_guesses_at_one_account_are_checked_one_at_a_time(
        opened: Any, database_url: str) -> None:
    slow = CountingPasswords(delay_s=0.3)
    await create_user(database_url, "lihua", Role.LEADER, passwords=slow)
    slow.checks = 0
    service = opened(passwords=slow, password_queue=64, address_free_failures=50)
    results = await asyncio.gather(*(
        service.login("lihua", f"guess-{n}-password", f"198.51.100.{n}") for n in range(10)))
    statuses = [r.status for r in results]
    assert statuses.count(LoginStatus.THROTTLED) == 9, statuses
    assert slow.checks == 1


def test_the_wait_is_told_in_local_time() -> None:
    at = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
    text = throttled_text(at, "Asia/Shanghai")
    assert "09:02:03" in text.zh and "09:02:03" in text.en


def test_trusted_networks_are_checked_when_loaded() -> None:
    with pytest.raises(ValueError, match="10.10.0.0/333"):
        Settings.model_validate({"auth": {"trusted_networks": ["10.10.0.0/333"]}})
