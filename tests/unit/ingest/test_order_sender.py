"""Waiting for the broker to confirm a round of dispatch orders."""

from __future__ import annotations

import pytest
from paho.mqtt.client import MQTTMessageInfo

from ingest.paho_source import wait_published
from ingest.source import PublishFailed


class Clock:
    """A clock that moves only when an order is waited for."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Order(MQTTMessageInfo):
    """A published order that the broker confirms after `confirm_after_s`, or never."""

    def __init__(self, mid: int, clock: Clock, confirm_after_s: float | None) -> None:
        super().__init__(mid)
        self._clock = clock
        self._confirm_after_s = confirm_after_s
        self.waited: list[float] = []

    def wait_for_publish(self, timeout: float | None = None) -> None:
        assert timeout is not None
        self.waited.append(timeout)
        needed = self._confirm_after_s
        if needed is not None and needed <= timeout:
            self._clock.now += needed
            self._published = True
        else:
            self._clock.now += timeout


def test_a_round_of_orders_shares_one_deadline() -> None:
    clock = Clock()
    orders = [Order(n, clock, None) for n in range(1, 6)]  # the broker went away
    with pytest.raises(PublishFailed, match="did not confirm 5 orders in 10 s"):
        wait_published(orders, 10.0, clock)
    assert clock.now - 100.0 == pytest.approx(10.0)  # not 50 s: one deadline for all five
    assert orders[0].waited == [10.0]
    assert all(not o.waited for o in orders[1:])


def test_confirmed_orders_use_the_time_they_take_and_leave_the_rest() -> None:
    clock = Clock()
    orders = [Order(1, clock, 2.0), Order(2, clock, 3.0), Order(3, clock, 1.0)]
    wait_published(orders, 10.0, clock)
    assert [o.waited for o in orders] == [[10.0], [8.0], [5.0]]
    assert all(o.is_published() for o in orders)
    late = [Order(1, clock, 4.0), Order(2, clock, 7.0)]
    with pytest.raises(PublishFailed):
        wait_published(late, 10.0, clock)
    assert [o.waited for o in late] == [[10.0], [6.0]]
