"""A task's outage: logged once when it starts and once when it ends, with growing delays."""

from __future__ import annotations

import logging

import pytest

from incidents.outage import Outage

log = logging.getLogger("test.outage")


def test_an_outage_is_logged_once_with_the_plan_and_once_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    outage = Outage("unit index", log, "proposals use the positions last read",
                    clock=lambda: now[0], rand=lambda: 1.0, cap_s=4.0)
    caplog.set_level(logging.INFO, "test.outage")
    outage.recovered()  # no outage: nothing to say
    delays = []
    for _ in range(6):
        delays.append(outage.failed(ConnectionError("PostgreSQL at db:5432 is unavailable")))
        now[0] += delays[-1]
    assert outage.down and outage.failures == 6
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # doubling up to the cap
    outage.recovered()
    outage.recovered()
    assert not outage.down
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "unit index: PostgreSQL at db:5432 is unavailable; proposals use the positions last"
        " read, retrying with backoff (up to 4 s) until it is back",
        "unit index: working again after 15.5 s (6 failed rounds)",
    ]
    assert outage.failed(ConnectionError("again")) == 0.5  # a new outage starts over


def test_delays_are_jittered_between_half_and_all_of_the_step() -> None:
    low = Outage("t", log, "p", rand=lambda: 0.0)
    high = Outage("t", log, "p", rand=lambda: 1.0)
    for _ in range(3):
        a, b = low.failed(OSError("x")), high.failed(OSError("x"))
        assert a == pytest.approx(b / 2)
