"""Broker-only pass-through: a plain paho subscriber that receives and acknowledges, nothing more.

The ceiling for any consumer on this machine: what sitroom's ingest is compared with. With
`--arrivals-file` it also keeps each payload's arrival time (parsed after the run, so the
receiving loop stays bare), for publish -> received latencies against the publisher's
`--sent-file`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def main() -> None:
    """Subscribe, print "ready", count `--count` messages, print the timings as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--arrivals-file", help="write {message id: arrival time} here (JSON)")
    args = parser.parse_args()
    arrivals: list[tuple[float, bytes | bytearray]] = []
    keep = args.arrivals_file is not None
    received = 0
    first = last = 0.0
    done = threading.Event()
    ready = threading.Event()

    def on_message(client: Client, userdata: Any, message: MQTTMessage) -> None:
        nonlocal received, first, last
        last = time.time()
        if keep:
            arrivals.append((last, message.payload))
        if received == 0:
            first = last
        received += 1
        if received >= args.count:
            done.set()

    client = Client(CallbackAPIVersion.VERSION2, client_id=f"pass-{uuid.uuid4().hex[:6]}",
                    protocol=MQTTProtocolVersion.MQTTv311)
    client.on_message = on_message
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    client.subscribe(f"{args.root}/+/+/+", qos=1)
    ready.wait(10)
    print("ready", flush=True)
    done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    if args.arrivals_file:
        with open(args.arrivals_file, "w") as out:
            json.dump({json.loads(payload)["id"]: at for at, payload in arrivals}, out)
    print(json.dumps({"received": received, "first": first, "last": last}), flush=True)


if __name__ == "__main__":
    main()
