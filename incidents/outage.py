"""How a long-running task lives through an outage of a server it needs.

A task's loop reports each failed round to its `Outage` and each good one: the outage is
logged once when it starts (what failed, what the task will do) and once when it ends (how
long it lasted), never once per round, and each failed round gets a jittered, growing delay
before the next, so that every worker does not knock on a restarting server in step.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable


def backoff_s(attempt: int, base_s: float = 0.5, cap_s: float = 15.0,
              rand: Callable[[], float] = random.random) -> float:
    """Seconds before retry `attempt` (0-based): doubling up to `cap_s`, with jitter in
    [50 %, 100 %] so that every worker does not knock on the server at the same instant."""
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 30))
    return ceiling * (0.5 + 0.5 * rand())


class Outage:
    """One task's view of a server it needs: up, or down since when."""

    def __init__(self, task: str, log: logging.Logger, plan: str, *, base_s: float = 0.5,
                 cap_s: float = 15.0, clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random) -> None:
        """`plan` says what the task does meanwhile, e.g. "orders wait in the outbox"."""
        self._task = task
        self._log = log
        self._plan = plan
        self._base_s = base_s
        self._cap_s = cap_s
        self._clock = clock
        self._rand = rand
        self._since: float | None = None
        self.failures = 0
        """Failed rounds in the current outage."""

    @property
    def down(self) -> bool:
        """True from a failed round until the next good one."""
        return self._since is not None

    def failed(self, exc: BaseException) -> float:
        """Note a failed round; return the seconds to wait before the next one."""
        if self._since is None:
            self._since = self._clock()
            self._log.warning("%s: %s; %s, retrying with backoff (up to %.0f s) until it is"
                              " back", self._task, exc, self._plan, self._cap_s)
        delay = backoff_s(self.failures, self._base_s, self._cap_s, self._rand)
        self.failures += 1
        return delay

    def recovered(self) -> None:
        """Note a good round: the end of the outage, if there was one."""
        if self._since is None:
            return
        self._log.info("%s: working again after %.1f s (%d failed rounds)", self._task,
                          self._clock() - self._since, self.failures)
        self._since = None
        self.failures = 0
