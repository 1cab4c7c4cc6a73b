"""`python -m dashboard.worker PORT PARENT_PID`: one of several dashboard worker processes.

Started by dashboard.server.serve_workers, which writes the pickled settings to this
process's stdin (they hold secrets: never argv or the environment). The worker binds PORT
with SO_REUSEPORT beside its siblings and serves until SIGTERM; it also gets SIGTERM if the
parent dies, so no worker outlives its supervisor.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import sys

from config.settings import Settings
from dashboard.server import reuseport_socket, serve_one

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above took effect
        raise SystemExit("dashboard worker: the supervisor is gone")


def main(argv: list[str]) -> None:
    """Read the settings from stdin and serve on the shared port."""
    port, parent = int(argv[0]), int(argv[1])
    _die_with_parent(parent)
    settings = pickle.loads(sys.stdin.buffer.read())
    if not isinstance(settings, Settings):
        raise SystemExit("dashboard worker: stdin did not hold the settings")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    serve_one(settings, reuseport_socket(settings.dashboard_host, port))


if __name__ == "__main__":
    main(sys.argv[1:])
