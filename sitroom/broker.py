"""The embedded MQTT broker: amqtt bound to loopback, for demos and single-machine use."""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session


class DemoAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Lets every client in, but keeps sessions for clients that give a username.

    amqtt's own anonymous plugin marks *every* session anonymous, and amqtt keeps no session
    (and queues nothing) for anonymous clients: ingest would lose what arrives while it
    restarts. Only clients without a username are anonymous here.
    """

    @dataclass
    class Config:
        """No options."""

    async def authenticate(self, *, session: Session) -> bool:
        """Accept the client; it is anonymous only if it sent no username."""
        session.is_anonymous = not session.username
        return True


def broker_config(host: str, port: int) -> dict[str, Any]:
    """amqtt configuration: one TCP listener on `host` (never 0.0.0.0 by default), no $SYS."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            # Open access is for the embedded single-machine broker only; production uses
            # Mosquitto with per-agency accounts (docs/deploy.md).
            "sitroom.broker.DemoAuthPlugin": {},
        },
    }


async def serve(host: str, port: int) -> None:
    """Run the broker until cancelled."""
    broker = Broker(broker_config(host, port))
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()


def main() -> None:
    """Entry point of the embedded broker process."""
    parser = argparse.ArgumentParser(description="sitroom's embedded MQTT broker (amqtt)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s broker %(message)s")
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass  # Ctrl-C / SIGINT is the normal way to stop


if __name__ == "__main__":
    main()
