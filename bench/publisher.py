"""Benchmark publisher: positions at QoS 1 at a set rate; receipt times give commit latency.

One connection per source topic, all driven from one thread by a selector (bench/wire.py):
PUBLISH packets are written in 1 ms slices, many per `send`, and the receipts ingest sends
back are read on the same loop, so a receipt is timed when it arrives rather than when a
second thread gets the GIL. The publisher thus costs little of the 2-core machine it shares
with what it measures. Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import selectors
import time
import uuid
from datetime import UTC, datetime

from bench.wire import WireConnection, topic_header

_CHUNK_S = 0.005  # packets are queued in 5 ms slices


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
    parser.add_argument("--sent-file", help="write each message's publish time here (JSON)")
    args = parser.parse_args()

    streams = _streams(args.sources, args.mix)
    run = uuid.uuid4().hex[:6]
    receipts = None
    if not args.no_receipts:
        receipts = WireConnection(args.port, f"bench-receipts-{run}")
        receipts.subscribe([f"{args.root}/receipts/{source}" for _, _, source in streams])
    conns = [WireConnection(args.port, f"bench-{source}-{run}") for _, _, source in streams]
    topics = [topic_header(f"{args.root}/{agency}/{kind}/{source}")
              for agency, kind, source in streams]
    # Payloads are made before the clock starts; a fix a few seconds old is what real
    # devices send after a tunnel anyway.
    now = datetime.now(UTC).isoformat()
    lines: list[tuple[str, int, bytes]] = []
    for i in range(args.count):
        message_id = uuid.uuid4().hex
        stream = _pick_stream(i, streams, args.mix)
        doc = _payload(streams[stream][1], message_id, now, i, args.units)
        lines.append((message_id, stream, json.dumps(doc).encode()))

    selector = selectors.DefaultSelector()
    for conn in [*conns, *([receipts] if receipts else [])]:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    sent_at: dict[str, float] = {}
    at: dict[str, float] = {}  # when the receipt naming a message arrived here
    committed: dict[str, float] = {}  # when ingest committed it (the receipt's committed_at)
    started = tick = time.time()
    index = 0
    deadline: float | None = None
    while True:
        if index < len(lines):
            due = len(lines) if args.rate <= 0 else min(
                len(lines), int((time.time() - started + _CHUNK_S) * args.rate))
            stamp = time.time()
            for i in range(index, due):
                message_id, stream, payload = lines[i]
                conns[stream].queue(topics[stream], payload)
                sent_at[message_id] = stamp
            index = max(index, due)
            if index == len(lines):
                published = time.time()
                deadline = published + args.wait
        for conn in conns:
            conn.flush()
        if receipts is not None:
            receipts.flush()
        if deadline is not None:
            if (receipts is None or len(at) >= len(lines) or time.time() > deadline) and \
                    not any(c.unacked or c.pending_output() for c in conns):
                break
            if time.time() > deadline + 30:
                break  # the broker never acknowledged some: reported as not receipted
        busy = index < len(lines) or any(c.pending_output() for c in conns)
        timeout = 0.05
        if busy:
            # Wake once a slice, not once per PUBACK (about 10,000 wake-ups a second): the
            # publisher shares the two cores with what it measures. A receipt is stamped at
            # most one slice late, so latencies read high, never low.
            tick += _CHUNK_S
            time.sleep(max(0.0, tick - time.time()))
            timeout = 0
        else:
            tick = time.time()
        for key, _ in selector.select(timeout):
            conn = key.data
            arrived = time.time()
            for delivery in conn.read():
                if conn is receipts:
                    receipt = json.loads(delivery.payload)
                    committed_at = receipt.get("committed_at") or arrived
                    for message_id in receipt["ids"]:
                        at.setdefault(message_id, arrived)
                        committed.setdefault(message_id, committed_at)
    for conn in [*conns, *([receipts] if receipts else [])]:
        conn.close()
    if args.sent_file:  # for a consumer that times arrivals itself (bench/passthrough.py)
        with open(args.sent_file, "w") as out:
            json.dump(sent_at, out)
    # Publish -> committed, as the receipt stamps it (same machine, same clock); publish ->
    # receipt back here as well, which adds the receipt's trip through the broker.
    latencies = sorted((committed[k] - sent_at[k]) * 1000 for k in committed if k in sent_at)
    receipt_latencies = sorted((at[k] - sent_at[k]) * 1000 for k in at if k in sent_at)
    print(json.dumps({
        "count": args.count, "started": started, "published": published,
        "publish_rate": args.count / (published - started), "receipted": len(at),
        "last_receipt": max(at.values()) if at else published,
        "latencies_ms": [round(v, 2) for v in latencies],
        "receipt_latencies_ms": [round(v, 2) for v in receipt_latencies],
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


if __name__ == "__main__":
    main()
