"""Command benchmarks (issue #4): unit proposal with 10,000 units online, and journal appends,
each beside a naive way of doing the same measured in the same run."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from bench.servers import bench_servers, fresh_database
from incidents.command import Actor, CommandService
from incidents.journal import Event, canonical
from incidents.lifecycle import Action
from incidents.model import Envelope, Inbound, Kind, Level, Position, Report
from incidents.plans import load_plans
from incidents.spatial import UnitPoint
from incidents.store import Store
from incidents.taxonomy import load_taxonomy
from maps.analysis.geodesy import haversine_m
from maps.analysis.units import GridUnitIndex

KEY = secrets.token_hex(32).encode()
CENTRE = (37.07, 114.50)
LEADER = Actor(name="bench-leader")


@dataclass(frozen=True)
class Figures:
    """What the command benchmarks measured."""

    units: int
    proposal_ms: list[float]
    """End-to-end proposal times (units from PostgreSQL, index refresh, nearest per task)."""
    naive_ms: list[float]
    """The same proposals by scanning every unit per task."""
    appends_single: float
    """Journal appends/s, one event per transaction (as leaders' commands do)."""
    appends_batched: float
    """Journal appends/s, 100 events per transaction (as ingest batches do)."""
    appends_naive: float
    """Appends/s finding the previous MAC with ORDER BY seq DESC LIMIT 1 per row."""


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _fleet(count: int, rng: random.Random) -> list[Inbound]:
    taxonomy = load_taxonomy()
    kinds = sorted(taxonomy.unit_kinds.values(), key=lambda k: k.code)
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        fix = Position(id=str(uuid.uuid4()), ts=now, unit=f"u{i:05d}", unit_type=kind.code,
                       lat=CENTRE[0] + rng.uniform(-0.6, 0.6),
                       lon=CENTRE[1] + rng.uniform(-0.8, 0.8))
        out.append(Inbound(envelope=Envelope(topic="bench", agency=kind.agency,
                                             kind=Kind.POSITION, source="bench",
                                             received_at=now), message=fix))
    return out


def _naive(points: list[UnitPoint], lat: float, lon: float, agency: str, kind: str,
           k: int, taken: set[str]) -> list[str]:
    ranked = sorted((haversine_m(lat, lon, p.lat, p.lon), p.unit) for p in points
                    if p.available and p.agency == agency and p.unit_kind == kind
                    and p.unit not in taken)
    return [unit for _, unit in ranked[:k]]


async def _proposals(dsn: str, units: int, rounds: int) -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    store = await Store.connect(dsn, journal_key=KEY, max_size=4)
    try:
        fleet = _fleet(units, rng)
        for start in range(0, units, 2000):
            await store.write_batch(fleet[start:start + 2000], [])
        taxonomy = load_taxonomy()
        # As the dashboard runs it: a task keeps positions fresh every second, and a proposal
        # re-reads only who is busy on an order (positions at most 2 s old).
        service = CommandService(store.commands, None, taxonomy, load_plans(taxonomy), None,
                                 GridUnitIndex(), units_max_age_s=2.0)
        refresher = asyncio.create_task(service.keep_units_fresh(1.0))
        report = Report(id=str(uuid.uuid4()), ts=datetime.now(UTC), type="chemical_leak",
                        lat=CENTRE[0], lon=CENTRE[1], text="bench", level=Level.II)
        (incident,) = (await store.write_batch([Inbound(envelope=Envelope(
            topic="bench", agency="safety", kind=Kind.REPORT, source="bench",
            received_at=datetime.now(UTC)), message=report)], [])).incidents
        await service.act(incident.id, Action.VERIFY, LEADER)
        await service.propose(incident.id)  # warm: the index is built once
        ours, naive = [], []
        for _ in range(rounds):
            # A tenth of the units move between proposals, as they do on the road.
            moved = rng.sample(fleet, units // 10)
            await store.write_batch([Inbound(envelope=m.envelope, message=Position(
                id=str(uuid.uuid4()), ts=datetime.now(UTC), unit=m.message.unit,
                unit_type=m.message.unit_type, lat=m.message.lat + rng.uniform(-0.01, 0.01),
                lon=m.message.lon + rng.uniform(-0.01, 0.01)))
                for m in moved if isinstance(m.message, Position)], [])
            t0 = time.perf_counter()
            plan = await service.propose(incident.id)
            ours.append((time.perf_counter() - t0) * 1000)
            assert plan.plan is not None
            t0 = time.perf_counter()
            points = await store.commands.unit_points(datetime(2000, 1, 1, tzinfo=UTC))
            taken: set[str] = set()
            for req in plan.plan.requirements(incident.level):
                taken.update(_naive(points, incident.lat, incident.lon, req.agency,
                                    req.unit_kind, req.count, taken))
            naive.append((time.perf_counter() - t0) * 1000)
        refresher.cancel()
        return ours, naive
    finally:
        await store.close()


async def _appends(dsn: str, count: int) -> tuple[float, float, float]:
    store = await Store.connect(dsn, journal_key=KEY, max_size=2)
    conn = await asyncpg.connect(dsn)
    try:
        incident = (await store.commands.list_incidents(status=None, levels=None, types=None,
                                                        since=None, limit=1))[0].id
        t0 = time.perf_counter()
        for i in range(count):
            await store.commands.note(incident, f"note {i}", "bench", None)
        single = count / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for start in range(0, count, 100):
            async with conn.transaction():
                await store.journal.append(conn, [
                    Event(incident, "bench", "note", {"text": f"note {start + j}"})
                    for j in range(100)])
        batched = count / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(count):  # the naive chain: look the previous row up every time
            async with conn.transaction():
                await conn.execute("LOCK TABLE incident_events IN EXCLUSIVE MODE")
                prev = await conn.fetchrow(
                    "SELECT seq, mac FROM incident_events ORDER BY seq DESC LIMIT 1")
                seq = prev["seq"] + 1
                at = datetime.now(UTC)
                data = {"text": f"naive {i}"}
                mac = hmac.new(KEY, canonical(seq, incident, at, "bench", "note", None, data,
                                              bytes(prev["mac"])), hashlib.sha256).digest()
                await conn.execute(
                    "INSERT INTO incident_events (seq, incident_id, at, actor, action, data,"
                    " prev_mac, mac) VALUES ($1, $2, $3, 'bench', 'note', $4::jsonb, $5, $6)",
                    seq, uuid.UUID(incident), at, json.dumps(data), bytes(prev["mac"]), mac)
        naive = count / (time.perf_counter() - t0)
        return single, batched, naive
    finally:
        await conn.close()
        await store.close()


def run(quick: bool = False) -> Figures:
    """Measure proposals with 10,000 units (2,000 when quick) and journal appends."""
    units, rounds, appends = (2_000, 20, 500) if quick else (10_000, 100, 3_000)
    with bench_servers() as servers, fresh_database(servers.postgres) as dsn:
        ours, naive = asyncio.run(_proposals(dsn, units, rounds))
        single, batched, naive_appends = asyncio.run(_appends(dsn, appends))
    return Figures(units, ours, naive, single, batched, naive_appends)


def report(f: Figures) -> str:
    """The issue #4 figures, each beside its naive baseline."""
    p95, n95 = _p(f.proposal_ms, 0.95), _p(f.naive_ms, 0.95)
    return "\n".join([
        f"unit proposal for the hazardous-chemical plan at level II, {f.units:,} units online"
        f" ({len(f.proposal_ms)} proposals, 10 % of units moving between them):",
        f"  sitroom (index refreshed every 1 s):  p50 {statistics.median(f.proposal_ms):.1f} ms,"
        f" p95 {p95:.1f} ms  (goal p95 <= 50 ms)",
        f"  naive (scan every unit per task):     p50 {statistics.median(f.naive_ms):.1f} ms,"
        f" p95 {n95:.1f} ms  -> {n95 / p95:.1f} x faster",
        "journal appends (HMAC-chained, one chain for every worker):",
        f"  one event per transaction (a leader's command): {f.appends_single:,.0f} /s",
        f"  100 events per transaction (an ingest batch):   {f.appends_batched:,.0f} /s",
        f"  naive (previous row looked up per append):       {f.appends_naive:,.0f} /s"
        f"  -> batched {f.appends_batched / f.appends_naive:.1f} x,"
        f" single {f.appends_single / f.appends_naive:.1f} x",
    ])


if __name__ == "__main__":
    print(report(run(quick=True)))
