"""Benchmark publisher: positions at QoS 1 at a set rate; receipt times give commit latency.

Publishing is done by Mosquitto's own C client (`mosquitto_pub -l`, one process per source
topic) fed through pipes, so the publisher's CPU does not crowd out the consumer on a 2-core
machine: one paho client in Python needs about two thirds of a core for 10,000 msgs/s.
Receipts are timed by a paho subscriber in this process. Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

_CHUNK_S = 0.001  # lines are written to the pipes in 1 ms slices


def main() -> None:
    """Publish, wait for receipts, print the summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="msgs/s; 0 = as fast as possible")
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for receipts")
    parser.add_argument("--mix", action="store_true",
                        help="70%% positions, 20%% observations, 10%% alarms and reports")
    parser.add_argument("--no-receipts", action="store_true",
                        help="do not wait for receipts (a backlog for later, or pass-through)")
    args = parser.parse_args()

    binary = shutil.which("mosquitto_pub")
    if binary is None:
        raise SystemExit("mosquitto_pub is missing: apt-get install -y mosquitto-clients")
    streams = _streams(args.sources, args.mix)
    receipts = None if args.no_receipts else _ReceiptClock(
        args.port, [f"{args.root}/receipts/{source}" for _, _, source in streams], args.count)
    pipes = [
        subprocess.Popen([binary, "-p", str(args.port), "-q", "1", "-l", "-i",
                          f"bench-{source}-{uuid.uuid4().hex[:6]}", "-t",
                          f"{args.root}/{agency}/{kind}/{source}"], stdin=subprocess.PIPE)
        for agency, kind, source in streams
    ]
    # Payloads are made before the clock starts; a fix a few seconds old is what real
    # devices send after a tunnel anyway.
    now = datetime.now(UTC).isoformat()
    lines: list[tuple[str, int, bytes]] = []
    for i in range(args.count):
        message_id = uuid.uuid4().hex
        stream = _pick_stream(i, streams, args.mix)
        doc = _payload(streams[stream][1], message_id, now, i, args.units)
        lines.append((message_id, stream, json.dumps(doc).encode() + b"\n"))

    sent_at: dict[str, float] = {}
    started = time.time()
    index = 0
    while index < len(lines):
        due = len(lines) if args.rate <= 0 else min(
            len(lines), int((time.time() - started + _CHUNK_S) * args.rate))
        if due <= index:
            time.sleep(_CHUNK_S / 2)
            continue
        stamp = time.time()
        for i in range(index, due):
            message_id, stream, line = lines[i]
            stdin = pipes[stream].stdin
            assert stdin is not None
            stdin.write(line)
            sent_at[message_id] = stamp
        for pipe in pipes:
            _flush(pipe.stdin)
        index = due
    for pipe in pipes:
        assert pipe.stdin is not None
        pipe.stdin.close()
    for pipe in pipes:
        pipe.wait(timeout=120)
    published = time.time()
    at: dict[str, float] = {}
    if receipts is not None:
        receipts.done.wait(args.wait)
        receipts.close()
        at = receipts.at
    latencies = sorted((at[k] - sent_at[k]) * 1000 for k in at if k in sent_at)
    print(json.dumps({
        "count": args.count, "started": started, "published": published,
        "publish_rate": args.count / (published - started), "receipted": len(at),
        "last_receipt": max(at.values()) if at else published,
        "latencies_ms": [round(v, 2) for v in latencies],
    }))


def _streams(sources: int, mix: bool) -> list[tuple[str, str, str]]:
    """(agency, kind, source) of each publishing pipe."""
    positions = [("police", "position", f"src-{i:02d}") for i in range(sources)]
    if not mix:
        return positions
    return positions + [("water", "observation", "hydro-00"), ("safety", "alarm", "iot-00"),
                        ("fire", "report", "c119-00")]


def _pick_stream(i: int, streams: list[tuple[str, str, str]], mix: bool) -> int:
    """70 % positions, 20 % observations, 5 % alarms, 5 % reports (in a fixed 20-cycle)."""
    positions = sum(1 for _, kind, _ in streams if kind == "position")
    if not mix:
        return i % positions
    slot = i % 20
    if slot < 14:
        return (i // 20 * 14 + slot) % positions
    if slot < 18:
        return positions
    return positions + 1 if slot == 18 else positions + 2


def _payload(kind: str, message_id: str, now: str, i: int, units: int) -> dict[str, object]:
    place = {"lat": 37.0 + (i % 1000) * 1e-5, "lon": 114.5}
    if kind == "observation":  # below any warning level, so the rules stay quiet
        return {"id": message_id, "ts": now, "sensor": f"xt-rain-{i % 50:03d}",
                "quantity": "rainfall", "value": 1.5, "unit": "mm", **place}
    if kind == "alarm":
        return {"id": message_id, "ts": now, "device": f"xt-smoke-{i % 200:03d}",
                "type": "smoke", "state": "test", **place}
    if kind == "report":
        return {"id": message_id, "ts": now, "type": "medical", "text": "120 来电",
                **place}
    return {"id": message_id, "ts": now, "unit": f"u-{i % units:04d}", "speed": 12.5,
            "heading": 90.0, **place}


def _flush(stdin: IO[bytes] | None) -> None:
    if stdin is not None:
        stdin.flush()


class _ReceiptClock:
    """Subscribes to receipts and notes when each id was first receipted."""

    def __init__(self, port: int, topics: list[str], expected: int) -> None:
        self.at: dict[str, float] = {}
        self.done = threading.Event()
        self._expected = expected
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = Client(CallbackAPIVersion.VERSION2,
                              client_id=f"bench-receipts-{uuid.uuid4().hex[:6]}",
                              protocol=MQTTProtocolVersion.MQTTv311)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._client.subscribe([(t, 1) for t in topics])
        if not subscribed.wait(10):
            raise RuntimeError("receipt subscription not confirmed")

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        now = time.time()
        ids = json.loads(message.payload)["ids"]
        with self._lock:
            for message_id in ids:
                self.at.setdefault(message_id, now)
            if len(self.at) >= self._expected:
                self.done.set()

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


if __name__ == "__main__":
    main()
