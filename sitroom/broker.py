"""The embedded MQTT broker: amqtt bound to loopback, for demos and single-machine use."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from amqtt.broker import Broker


def broker_config(host: str, port: int) -> dict[str, Any]:
    """amqtt configuration: one TCP listener on `host` (never 0.0.0.0 by default), no $SYS."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            # Anonymous access is for the embedded demo broker only; production uses
            # Mosquitto with per-agency accounts (docs/deploy.md).
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
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
