"""Mixed-feed and backlog benchmarks (issue #3), each beside the broker-only pass-through."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.ingest_bench import (
    PACED_RUNS,
    Run,
    measure,
    publish,
    quantile,
    start_ingest,
    stop_consumer,
)
from bench.servers import BenchServers, bench_servers, fresh_database
from incidents.store import Store


@dataclass(frozen=True)
class Figures:
    """What the mixed-feed benchmark measured."""

    passthrough: float
    """msgs/s a bare subscriber receives (QoS 1, same publisher, same machine)."""
    passthrough_paced_ms: list[float]
    """Publish -> received by the bare subscriber at 10,000 msgs/s, sorted."""
    mixed_max: Run
    mixed_paced: list[Run]
    """The run at 10,000 msgs/s, measured PACED_RUNS times."""
    backlog: int
    backlog_drain: float
    """msgs/s two ingest workers drained a queued backlog with."""


def _passthrough(servers: BenchServers, count: int, rate: float = 0) -> tuple[float, list[float]]:
    """The bare subscriber's msgs/s and its publish -> received latencies (ms, sorted)."""
    root = f"bench{uuid.uuid4().hex[:6]}/v1"
    sent_file = servers.workdir / f"sent-{root[:11]}.json"
    arrivals_file = servers.workdir / f"arrivals-{root[:11]}.json"
    consumer = subprocess.Popen(
        [sys.executable, "-m", "bench.passthrough", "--port", str(servers.mqtt_port),
         "--root", root, "--count", str(count), "--arrivals-file", str(arrivals_file)],
        stdout=subprocess.PIPE, text=True)
    assert consumer.stdout is not None
    consumer.stdout.readline()  # "ready"
    summary = publish(servers, root, count, rate, "--mix", "--no-receipts",
                      "--sent-file", str(sent_file))
    out, _ = consumer.communicate(timeout=300)
    received: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    started = float(summary["started"])
    return (float(received["received"]) / max(1e-9, received["last"] - started),
            _latencies_ms(sent_file, arrivals_file))


def _latencies_ms(sent_file: Path, arrivals_file: Path) -> list[float]:
    sent: dict[str, float] = json.loads(sent_file.read_text())
    arrived: dict[str, float] = json.loads(arrivals_file.read_text())
    sent_file.unlink()
    arrivals_file.unlink()
    return sorted((at - sent[key]) * 1000 for key, at in arrived.items() if key in sent)


def _backlog(servers: BenchServers, count: int) -> float:
    """Queue `count` messages while both workers are away, then time their drain."""
    root = f"bench{uuid.uuid4().hex[:6]}/v1"
    ids = [f"bench-drain-{uuid.uuid4().hex[:6]}-{n}" for n in range(2)]
    with fresh_database(servers.postgres) as dsn:
        workers = [start_ingest(servers, dsn, root, i, shared_group="bench") for i in ids]
        for worker in workers:  # persistent sessions stay subscribed at the broker
            stop_consumer(worker)
        publish(servers, root, count, 0, "--mix", "--no-receipts")
        with ThreadPoolExecutor(len(ids)) as pool:  # both start together, as after an outage
            workers = list(pool.map(
                lambda i: start_ingest(servers, dsn, root, i, shared_group="bench"), ids))
        try:
            stored = asyncio.run(_wait_stored(dsn, count, timeout_s=120))
            if stored < count:
                print(f"  only {stored:,} of {count:,} stored after 120 s", file=sys.stderr)
            seconds = asyncio.run(_drain_seconds(dsn))
        finally:
            for worker in workers:
                stop_consumer(worker)
        return stored / seconds


async def _drain_seconds(dsn: str) -> float:
    """First message received → last one committed, from the rows themselves (so the
    workers' start-up, which is not draining, does not count)."""
    store = await Store.connect(dsn)
    try:
        return await store.drain_seconds()
    finally:
        await store.close()


async def _wait_stored(dsn: str, count: int, timeout_s: float) -> int:
    store = await Store.connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        shown = time.monotonic()
        while True:
            counts = await store.counts()
            stored = counts["positions"] + counts["reports"] + counts["feeds"]
            if stored >= count or time.monotonic() > deadline:
                return stored
            if time.monotonic() - shown > 5:
                print(f"  draining: {stored:,} of {count:,} stored", file=sys.stderr,
                      flush=True)
                shown = time.monotonic()
            await asyncio.sleep(0.2)
    finally:
        await store.close()


def run(quick: bool = False) -> Figures:
    """Measure the pass-through, sitroom on the mixed feed, and the two-worker drain."""
    count, backlog = (20_000, 20_000) if quick else (100_000, 200_000)
    with bench_servers() as servers:
        passthrough, _ = _passthrough(servers, count)
        _, passthrough_paced = _passthrough(servers, count, 10_000)
        # Like the positions' paced run, repeated: one run's p99 on a 2-core VM says little.
        paced = [measure(servers, "sitroom", count, 10_000, "--mix")
                 for _ in range(1 if quick else PACED_RUNS)]
        fastest = measure(servers, "sitroom", count, 0, "--mix")
        drain = _backlog(servers, backlog)
    return Figures(passthrough, passthrough_paced, fastest, paced, backlog, drain)


def report(f: Figures) -> str:
    """The issue #3 figures, each with its ratio to the pass-through."""
    p = f.passthrough
    p99s = sorted(r.percentile(0.99) for r in f.mixed_paced)
    median = sorted(f.mixed_paced, key=lambda r: r.percentile(0.99))[len(p99s) // 2]
    bare_p99 = quantile(f.passthrough_paced_ms, 0.99)
    return "\n".join([
        "mixed feed (70 % positions, 20 % observations, 10 % alarms and reports), QoS 1:",
        f"broker pass-through (bare paho subscriber): {p:,.0f} msgs/s",
        f"sustained mixed feed: {f.mixed_max.throughput:,.0f} msgs/s"
        f" = {f.mixed_max.throughput / p:.2f} x pass-through  (goal >= 15,000)",
        f"at 10,000 msgs/s: p99 publish->committed median {median.percentile(0.99):.1f} ms of"
        f" {len(p99s)} runs ({', '.join(f'{v:.1f}' for v in p99s)}; p50"
        f" {median.percentile(0.5):.1f} ms, publish->receipt back p99"
        f" {median.receipt_percentile(0.99):.1f} ms) vs pass-through p99 publish->received"
        f" {bare_p99:.1f} ms (p50 {quantile(f.passthrough_paced_ms, 0.5):.1f})"
        f" = {median.percentile(0.99) / bare_p99:.2f} x pass-through  (goal p99 <= 50 ms)",
        f"backlog of {f.backlog:,} drained by two workers: {f.backlog_drain:,.0f} msgs/s"
        f" = {f.backlog_drain / p:.2f} x pass-through  (goal >= 20,000)",
    ])
