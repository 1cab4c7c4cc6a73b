"""Benchmark publisher: positions at QoS 1 at a set rate; receipt times give commit latency.

Run as its own process so that its CPU is not the consumer's. Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def main() -> None:
    """Publish, wait for receipts, print the summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="msgs/s; 0 = as fast as possible")
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--receipts", action="store_true", help="time receipts per message")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for receipts")
    parser.add_argument("--tag", default="a", help="distinguishes parallel publishers")
    args = parser.parse_args()

    sent_at: dict[str, float] = {}
    receipt_at: dict[str, float] = {}
    done = threading.Event()
    subscribed = threading.Event()
    lock = threading.Lock()

    def on_message(client: Client, userdata: Any, message: MQTTMessage) -> None:
        now = time.time()
        ids = json.loads(message.payload)["ids"]
        with lock:
            for message_id in ids:
                receipt_at.setdefault(message_id, now)
            if len(receipt_at) >= args.count:
                done.set()

    # MQTT 3.1.1, as most field devices speak; paho's v5 property handling costs CPU here.
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}",
                    protocol=MQTTProtocolVersion.MQTTv311)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    if args.receipts:
        client.subscribe([(f"{args.root}/receipts/src-{args.tag}{i:02d}", 1)
                          for i in range(args.sources)])
        subscribed.wait(10)

    topics = [f"{args.root}/police/position/src-{args.tag}{i:02d}" for i in range(args.sources)]
    # Payloads are made before the clock starts: the benchmark measures the consumer, and a
    # fix's `ts` a few seconds old is what real devices send after a tunnel anyway.
    now = datetime.now(UTC).isoformat()
    messages = []
    for i in range(args.count):
        message_id = f"{args.tag}{uuid.uuid4().hex}"
        messages.append((message_id, topics[i % args.sources], json.dumps({
            "id": message_id, "ts": now, "unit": f"u-{args.tag}{i % args.units:04d}",
            "lat": 37.0 + (i % 1000) * 1e-5, "lon": 114.5, "speed": 12.5, "heading": 90.0,
        })))
    started = time.time()
    info = None
    for i, (message_id, topic, payload) in enumerate(messages):
        if args.rate > 0:
            pause = started + i / args.rate - time.time()
            if pause > 0.0005:
                time.sleep(pause)
        sent_at[message_id] = time.time()
        info = client.publish(topic, payload, qos=1)
    if info is not None:
        info.wait_for_publish(120)
    published = time.time()
    if args.receipts:
        done.wait(args.wait)
    finished = time.time()
    client.disconnect()
    client.loop_stop()
    latencies = sorted((receipt_at[k] - sent_at[k]) * 1000 for k in receipt_at if k in sent_at)
    last_receipt = max(receipt_at.values()) if receipt_at else finished
    print(json.dumps({
        "count": args.count, "started": started, "published": published,
        "publish_rate": args.count / (published - started),
        "receipted": len(receipt_at), "last_receipt": last_receipt,
        "latencies_ms": [round(v, 2) for v in latencies],
    }))


if __name__ == "__main__":
    main()
