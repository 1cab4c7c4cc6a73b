"""Dashboard benchmark: live push (SSE) against the old 400 ms polling page, in headless chromium.

The dashboard runs as its own process (`bench.dashboard_served`: one waitress process, as
`sitroom dashboard` runs it) with two pages: /bench/push, the situation page kept live by
/live/stream, and /bench/poll, the old page that asks every 400 ms and redraws GeoJSON (the
baseline). This process moves N units (10,000; 2,000 with --quick) once a second through
`LiveState.apply`, in ten batches a second, each fix stamped with the time it was published.

- publish → on screen: in the browser, for each unit fix, the time it was applied to the map
  minus its stamp (push: when sitroom_live.js moved the marker; poll: when the page's DOM
  changed after the poll response that carried it). p50 / p95.
- first screen: navigation start → the map drawn with its units.
- dashboard CPU per connected browser: the dashboard process's CPU time (psutil) over a
  window with 1, 2, 4 browsers open on each page, less the same window before any page was
  opened, divided by the browsers (the push worker's cost of following Redis is thus shared
  among them); and, for push, the worker's CPU once its browsers have left.
- bytes per second one browser's stream carries, read by a plain SSE client.

Chromium runs on the same two cores as the dashboard, so the browser's own drawing competes
with the server: the baseline's 10,000 SVG markers redrawn on every poll are its own limit.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench.servers import bench_servers, fresh_database
from dashboard.auth import Role
from incidents.live import LiveState
from incidents.live_wire import encode_row, unit_row
from incidents.model import UnitState
from maps import basemap
from tests.support.auth import TEST_AUTH_SECRET, create_user, sign_in_page
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.servers import free_port, stop, wait_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {"push": "/bench/push", "poll": "/bench/poll"}
AGENCIES = (("police", "patrol_car"), ("fire", "fire_engine"), ("health", "ambulance"),
            ("water", None), ("safety", None))

# Installed before any page script: records first-screen and per-fix latencies on both pages.
MEASURE_JS = """
(() => {
  const b = window.__bench = {lat: [], start: Infinity, first: null, updates: 0,
                              pending: null, lastTs: 0};
  const record = (at, stamps) => {
    b.updates += 1;
    for (const ts of stamps) { if (ts >= b.start) { b.lat.push(at - ts); } }
  };
  // The baseline: note the fixes of each poll response, and time the DOM change after it.
  const fetch0 = window.fetch;
  window.fetch = async function (...args) {
    const response = await fetch0.apply(this, args);
    const url = typeof args[0] === "string" ? args[0] : args[0].url;
    if (url.includes("_dash-update-component")) {
      response.clone().json().then((body) => {
        const units = body && body.response && body.response["bp-units"];
        if (units && units.data) {
          // Only the fixes that are new since the previous response count.
          const stamps = units.data.features.map((f) => Date.parse(f.properties.ts));
          const fresh = stamps.filter((ts) => ts > b.lastTs);
          b.lastTs = stamps.reduce((a, ts) => (ts > a ? ts : a), b.lastTs);
          b.pending = (b.pending || []).concat(fresh);
        }
      }).catch(() => {});
    }
    return response;
  };
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(() => {
      if (b.first === null && document.querySelector("path.sitroom-unit")) {
        b.first = performance.now();
      }
      if (b.pending) { record(Date.now(), b.pending); b.pending = null; }
    }).observe(document.body, {childList: true, subtree: true});
    if (window.sitroomLive) {
      window.sitroomLive.on("drawn", (e) => {
        if (b.first === null) { b.first = performance.now(); }
        record(e.at, e.units.map((row) => row[6]));
      });
    }
  });
})();
"""


@dataclass(frozen=True)
class Latency:
    """Publish → on-screen latency on one page."""

    p50_ms: float
    p95_ms: float
    samples: int
    """Unit fixes measured."""
    redraws_per_s: float
    """How often the page applied changes."""


@dataclass
class Result:
    """What the dashboard benchmark measured (filled in as the run goes)."""

    units: int
    window_s: float
    latency: dict[str, Latency]
    """By page: push, poll."""
    first_screen_ms: dict[str, float]
    """By page: navigation start → map drawn with units (median of the loads)."""
    cpu_base_pct: float
    """Dashboard CPU (% of one core) before any page was opened: nothing to serve."""
    cpu_following_pct: float
    """Dashboard CPU after the push pages closed: the worker still follows Redis."""
    cpu_pct: dict[str, dict[int, float]] = field(default_factory=dict)
    """By page, by number of browsers: dashboard CPU, % of one core."""
    stream_kbytes_per_s: float = 0.0
    """What one browser's live stream carries."""
    notes: list[str] = field(default_factory=list)


def _units(n: int, rng: random.Random) -> list[UnitState]:
    min_lon, min_lat, max_lon, max_lat = basemap.bounds()
    now = datetime.now(UTC)
    return [UnitState(unit=f"u{i:05d}", agency=AGENCIES[i % len(AGENCIES)][0],
                      unit_type=AGENCIES[i % len(AGENCIES)][1],
                      lat=rng.uniform(min_lat, max_lat), lon=rng.uniform(min_lon, max_lon),
                      ts=now, speed=rng.uniform(0, 20), heading=rng.uniform(0, 359))
            for i in range(n)]


async def _move_forever(live: LiveState, units: list[UnitState], rng: random.Random,
                        apply_s: list[float]) -> None:
    """Every unit moves once a second, in ten batches; each fix is stamped when published.
    Each `LiveState.apply` call's duration goes to `apply_s`."""
    batches = [units[i::10] for i in range(10)]
    tick = time.monotonic()
    while True:
        for index, batch in enumerate(batches):
            now = datetime.now(UTC)
            moved = [UnitState(unit=u.unit, agency=u.agency, unit_type=u.unit_type,
                               lat=u.lat + rng.uniform(-0.002, 0.002),
                               lon=u.lon + rng.uniform(-0.002, 0.002), ts=now, speed=u.speed,
                               heading=u.heading) for u in batch]
            batches[index] = moved
            started = time.perf_counter()
            await live.apply(moved, [])
            apply_s.append(time.perf_counter() - started)
            tick += 0.1
            await asyncio.sleep(max(0.0, tick - time.monotonic()))


def _progress(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _cpu_pct(process: psutil.Process, window_s: float) -> float:
    before, started = _cpu_s(process), time.monotonic()
    await asyncio.sleep(window_s)
    return 100.0 * (_cpu_s(process) - before) / (time.monotonic() - started)


DRAW_WAIT_S = 60.0
"""How long a page may take to draw its units before it counts as not drawn."""


async def _open(context: BrowserContext, url: str) -> tuple[Page, float | None]:
    """A page on `url`, and ms from navigation start to its units drawn (None: not within
    DRAW_WAIT_S, which the polling page does not manage with 10,000 units and 2 browsers)."""
    page = await context.new_page()
    await page.add_init_script(MEASURE_JS)
    await page.goto(url)
    if not page.url.startswith(url):
        raise RuntimeError(f"opening {url} ended on {page.url}: "
                           f"{(await page.content())[:500]}")
    try:
        await page.wait_for_function("window.__bench && window.__bench.first !== null",
                                     timeout=DRAW_WAIT_S * 1000)
    except PlaywrightTimeout:
        return page, None
    return page, float(await page.evaluate("window.__bench.first"))


async def _first_screen(browser: Browser, state: Any, url: str, loads: int) -> float:
    times = []
    for _ in range(loads):
        context = await browser.new_context(storage_state=state,
                                            viewport={"width": 1600, "height": 900})
        _, first = await _open(context, url)
        times.append(float("nan") if first is None else first)
        await context.close()
    return statistics.median(times)


async def _latency(page: Page, window_s: float) -> Latency:
    await page.evaluate("() => { const b = window.__bench; b.lat = []; b.updates = 0;"
                        " b.start = Date.now(); }")
    await asyncio.sleep(window_s)
    found = await page.evaluate("() => { const b = window.__bench; b.start = Infinity;"
                                " return {lat: b.lat, updates: b.updates}; }")
    lat = sorted(float(x) for x in found["lat"])
    if not lat:
        return Latency(p50_ms=float("nan"), p95_ms=float("nan"), samples=0,
                       redraws_per_s=found["updates"] / window_s)
    return Latency(p50_ms=lat[len(lat) // 2], p95_ms=lat[min(len(lat) - 1, int(len(lat) * .95))],
                   samples=len(lat), redraws_per_s=found["updates"] / window_s)


async def _stream_rate(base: str, cookies: list[dict[str, Any]], window_s: float) -> float:
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({c["name"]: c["value"] for c in cookies})
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(cookie_jar=jar) as session, \
            session.get(f"{base}/live/stream", timeout=timeout) as response:
        await response.content.readany()  # the snapshot starts: count what follows it
        received, started = 0, time.monotonic()
        while time.monotonic() - started < window_s:
            received += len(await response.content.readany())
        return received / 1024 / (time.monotonic() - started)


async def _measure_page(result: Result, browser: Browser, state: Any, name: str, url: str,
                        process: psutil.Process, browsers: tuple[int, ...], quick: bool) -> None:
    """First screen, latency, and CPU with 1…n browsers and with none, for one page."""
    window_s = result.window_s
    _progress(f"{name}: first screen")
    result.first_screen_ms[name] = await _first_screen(browser, state, url, 1 if quick else 3)
    context = await browser.new_context(storage_state=state)
    await _open(context, url)
    await asyncio.sleep(2)
    _progress(f"{name}: latency")
    result.latency[name] = await _latency(context.pages[0], window_s)
    await context.close()
    result.cpu_pct[name] = {}
    for n in browsers:
        contexts = [await browser.new_context(storage_state=state) for _ in range(n)]
        drawn = 0
        for context in contexts:
            _, first = await _open(context, url)
            drawn += first is not None
        if drawn < n:
            result.notes.append(f"{name} with {n} browsers: {n - drawn} of them had not drawn"
                                f" their units after {DRAW_WAIT_S:.0f} s")
        await asyncio.sleep(2)
        _progress(f"{name}: CPU with {n} browser(s)")
        result.cpu_pct[name][n] = await _cpu_pct(process, window_s)
        for context in contexts:
            await context.close()
    if name == "push":
        await asyncio.sleep(2)
        result.cpu_following_pct = await _cpu_pct(process, window_s)


def _start_dashboard(dsn: str, redis: str, prefix: str, port: int, log: Path
                     ) -> subprocess.Popen[bytes]:
    """The dashboard as a child process, so that its CPU time is its own."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SITROOM_")},
           "SITROOM_DATABASE_URL": dsn, "SITROOM_REDIS_URL": redis,
           "SITROOM_REDIS_PREFIX": prefix, "SITROOM_DASHBOARD_PORT": str(port),
           "SITROOM_AUTH__SECRET_KEY": TEST_AUTH_SECRET, "SITROOM_JOURNAL_KEY": TEST_JOURNAL_KEY}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bench.dashboard_served"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


async def _measure(dsn: str, redis: str, quick: bool) -> Result:
    count, window_s = (2000, 5.0) if quick else (10_000, 10.0)
    browsers = (1, 2) if quick else (1, 2, 4)
    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    rng = random.Random(6)
    await create_user(dsn, "bench", Role.OPERATOR)
    live = LiveState.from_url(redis, prefix)
    units = _units(count, rng)
    await live.rebuild(units, [])
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"sitroom-bench-dashboard-{port}.log"
    served = _start_dashboard(dsn, redis, prefix, port, log)
    base = f"http://127.0.0.1:{port}"
    mover: asyncio.Task[None] | None = None
    try:
        wait_port(port, served, timeout_s=60, log=log)
        process = psutil.Process(served.pid)
        apply_s: list[float] = []
        mover = asyncio.create_task(_move_forever(live, units, rng, apply_s))
        async with async_playwright() as playwright, AsyncExitStack() as stack:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            stack.push_async_callback(browser.close)
            login = await browser.new_context()
            await sign_in_page(await login.new_page(), base, "bench", next_path="/bench/poll")
            state = await login.storage_state()
            await login.close()
            _progress("dashboard CPU with no page open")
            base_cpu = await _cpu_pct(process, window_s)
            result = Result(units=count, window_s=window_s, latency={}, first_screen_ms={},
                            cpu_base_pct=base_cpu, cpu_following_pct=float("nan"))
            for name, path in PAGES.items():
                await _measure_page(result, browser, state, name, base + path, process,
                                    browsers, quick)
                if name == "push":
                    cookies = [dict(c) for c in state["cookies"]]
                    result.stream_kbytes_per_s = await _stream_rate(base, cookies, window_s)
            batch = len(units) // 10
            delta_kb = sum(len(encode_row(unit_row(u))) for u in units[:batch]) / 1024
            result.notes.append(
                f"LiveState.apply of {batch:,} units (store, version, delta published):"
                f" p50 {statistics.median(apply_s) * 1000:.1f} ms; its delta {delta_kb:,.0f} kB")
        return result
    finally:
        if mover is not None:
            mover.cancel()
            await asyncio.gather(mover, return_exceptions=True)
        stop(served)
        await live.close()


def run(quick: bool = False) -> Result:
    """Start the servers, then measure both pages."""
    with bench_servers() as servers, fresh_database(servers.postgres) as dsn:
        return asyncio.run(_measure(dsn, servers.redis, quick))


def _ms(value: float) -> str:
    return "–" if value != value else f"{value:,.0f}"  # NaN: nothing was measured


def report(result: Result) -> str:
    """The figures, push beside the polling baseline."""
    push, poll = result.latency["push"], result.latency["poll"]
    lines = [f"dashboard: {result.units:,} units moving once a second; headless chromium; "
             f"{result.window_s:.0f} s windows",
             f"{'measure':<44} {'push (SSE)':>14} {'poll 400 ms':>14}",
             f"{'publish -> on screen p50 (ms)':<44} {_ms(push.p50_ms):>14} {_ms(poll.p50_ms):>14}",
             f"{'publish -> on screen p95 (ms)':<44} {_ms(push.p95_ms):>14} {_ms(poll.p95_ms):>14}",
             f"{'  fixes measured':<44} {push.samples:>14,} {poll.samples:>14,}",
             f"{'  redraws per second':<44} {push.redraws_per_s:>14.1f} "
             f"{poll.redraws_per_s:>14.1f}",
             f"{'first screen: navigation -> units drawn (ms)':<44} "
             f"{_ms(result.first_screen_ms['push']):>14} {_ms(result.first_screen_ms['poll']):>14}",
             f"{'dashboard CPU, no page ever opened (% core)':<44} {result.cpu_base_pct:>14.1f} "
             f"{result.cpu_base_pct:>14.1f}",
             f"{'dashboard CPU, pages closed (% core)':<44} {result.cpu_following_pct:>14.1f} "
             f"{'':>14}"]
    for n in sorted(result.cpu_pct["push"]):
        push_cpu, poll_cpu = result.cpu_pct["push"][n], result.cpu_pct["poll"][n]
        lines.append(f"{f'dashboard CPU, {n} browser(s) (% core)':<44} {push_cpu:>14.1f} "
                     f"{poll_cpu:>14.1f}")
    for n in sorted(result.cpu_pct["push"]):
        per_push = (result.cpu_pct["push"][n] - result.cpu_base_pct) / n
        per_poll = (result.cpu_pct["poll"][n] - result.cpu_base_pct) / n
        lines.append(f"{f'  per browser, with {n} (% core)':<44} {per_push:>14.1f} "
                     f"{per_poll:>14.1f}")
    lines.append(f"{'one live stream carries (kB/s)':<44} {result.stream_kbytes_per_s:>14,.0f}")
    lines += [f"  {note}" for note in result.notes]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(quick="--quick" in sys.argv)))
