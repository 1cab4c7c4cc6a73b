"""Desk benchmark (issue #14): the leader's desk with 1,000 open incidents and 10,000 moving
units, in headless chromium at 1920×1080, against the desk of the base commit (BASE: the
whole incident list re-rendered as Dash components on every 3 s tick and every push).

Both desks run as their own dashboard process (`bench.dashboard_served`, from this tree and
from a git worktree of BASE under var/, as bench/compare.py does), one after the other, on
the same database and live state, while this process moves the units (MOVES_PER_S a second,
to PostgreSQL and Redis) and opens a new incident every NEW_INCIDENT_S.

- first list paint: navigation start → the first incident row in the DOM (capped at CAP_S).
- longest main-thread task during LIVE_S of updates (PerformanceObserver "longtask"): the
  whole page's, so the live map's work counts on both sides.
- click → panel: a click on a visible incident row → the panel's header shows that
  incident's title (MutationObserver); p95 of CLICKS clicks; a click not answered within
  CAP_S counts as CAP_S.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench.servers import bench_servers, fresh_database
from dashboard.auth import Role
from incidents.live import LiveState
from incidents.store import Store
from tests.support import crowd
from tests.support.auth import TEST_AUTH_SECRET, create_user, sign_in_page
from tests.support.command import command_service
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.servers import free_port, stop, wait_port

BASE = "b956a50"
"""The commit whose desk is the baseline: the full-list rendering before issue #14."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1920, "height": 1080}
CAP_S = 60.0
"""Longest wait for a first paint or a click's answer; beyond it the figure reads "> 60 s"."""
MOVES_PER_S = 2000
"""Unit fixes written every second (each of 10,000 units every 5 s)."""
CLICKS_BUDGET_S = 180.0
"""Most time spent clicking one desk (the baseline's clicks can each take CAP_S)."""
NEW_INCIDENT_S = 4.0
"""A new incident this often while a desk is measured."""
ROOT = Path(__file__).resolve().parent.parent

# Installed before the page's scripts: long tasks, the first row, and click → panel.
MEASURE_JS = """
(() => {
  const b = window.__desk = {first: null, tasks: [], clicks: [], pending: null};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { b.tasks.push([e.startTime, e.duration]); }
    }).observe({type: "longtask", buffered: true});
  } catch (err) { b.noLongtask = String(err); }
  const answered = () => {
    const head = document.getElementById("desk-head");
    if (b.pending && head && head.textContent.includes(b.pending.title)) {
      b.clicks.push(performance.now() - b.pending.at);
      b.pending = null;
    }
  };
  document.addEventListener("click", (event) => {
    const row = event.target.closest && event.target.closest("#desk-list [data-incident]");
    const title = row && row.querySelector(".desk-row-title");
    if (title) { b.pending = {at: performance.now(), title: title.textContent}; }
  }, true);
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(() => {
      if (b.first === null && document.querySelector("#desk-list [data-incident]")) {
        b.first = performance.now();
      }
      answered();
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
  });
})();
"""


@dataclass
class DeskFigures:
    """What one desk did."""

    first_paint_ms: float | None = None
    """Navigation start → first incident row; None: not within CAP_S."""
    longest_task_ms: float = float("nan")
    """Longest main-thread task during the live window."""
    long_tasks: int = 0
    """Tasks over 50 ms during the live window."""
    blocked_ms: float = 0.0
    """Their total duration."""
    clicks_ms: list[float] = field(default_factory=list)
    """Click → panel per click; CAP_S * 1000 for a click never answered."""
    rows: int = 0
    """Incident rows the list held (in the DOM or known to the windowed list)."""

    def click_p95_ms(self) -> float:
        """95th percentile of click → panel."""
        ordered = sorted(self.clicks_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


@dataclass
class Result:
    """The two desks, measured in one run."""

    incidents: int
    units: int
    live_s: float
    clicks: int
    base: str
    desks: dict[str, DeskFigures] = field(default_factory=dict)
    """"before" (BASE) and "after" (this tree)."""
    notes: list[str] = field(default_factory=list)


def _progress(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _start_dashboard(tree: Path, dsn: str, redis: str, prefix: str, port: int, log: Path
                     ) -> subprocess.Popen[bytes]:
    """The dashboard of `tree` (its own code, first on PYTHONPATH) as a child process."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SITROOM_")},
           "PYTHONPATH": str(tree), "SITROOM_DATABASE_URL": dsn, "SITROOM_REDIS_URL": redis,
           "SITROOM_REDIS_PREFIX": prefix, "SITROOM_DASHBOARD_PORT": str(port),
           "SITROOM_AUTH__SECRET_KEY": TEST_AUTH_SECRET, "SITROOM_JOURNAL_KEY": TEST_JOURNAL_KEY,
           "SITROOM_FEEDS__AGENCIES": "[]"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bench.dashboard_served"], cwd=tree,
                                env=env, stdout=out, stderr=subprocess.STDOUT)


async def _visible_rows(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("""() => {
        const list = document.getElementById("desk-list"), box = list.getBoundingClientRect();
        return [...list.querySelectorAll("[data-incident]")]
            .filter((r) => { const b = r.getBoundingClientRect();
                             return b.top >= box.top && b.bottom <= box.bottom; })
            .map((r) => r.dataset.incident);
    }""")
    return found


async def _click_through(page: Page, figures: DeskFigures, clicks: int,
                         rng: random.Random) -> None:
    """Click `clicks` visible incident rows in turn, each after the previous was answered;
    once CLICKS_BUDGET_S is spent, the clicks not made count as never answered."""
    chosen: str | None = None
    started = time.monotonic()
    for _ in range(clicks):
        if time.monotonic() - started > CLICKS_BUDGET_S:
            figures.clicks_ms.append(CAP_S * 1000)
            continue
        try:
            rows = [r for r in await asyncio.wait_for(_visible_rows(page), CAP_S)
                    if r != chosen]
        except TimeoutError:
            rows = []
        if not rows:
            figures.clicks_ms.append(CAP_S * 1000)
            continue
        chosen = rows[rng.randrange(len(rows))]
        done = len(figures.clicks_ms)
        try:
            await page.locator(f"#desk-list [data-incident='{chosen}']").click(
                timeout=CAP_S * 1000)
            await page.wait_for_function(f"window.__desk.clicks.length > {done}",
                                         timeout=CAP_S * 1000)
            figures.clicks_ms = [float(x) for x in
                                 await page.evaluate("window.__desk.clicks")]
        except PlaywrightTimeout:
            figures.clicks_ms.append(CAP_S * 1000)
            await page.evaluate("() => { window.__desk.pending = null; }")
        await page.wait_for_timeout(500)


async def _measure_desk(browser: Browser, base_url: str, live_s: float, clicks: int,
                        rng: random.Random) -> DeskFigures:
    """First paint, the longest task over `live_s` of updates, then click → panel."""
    figures = DeskFigures()
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        page = await context.new_page()
        await sign_in_page(page, base_url, "bench", next_path="/api/health")
        await page.add_init_script(MEASURE_JS)
        await page.goto(base_url + "/", timeout=CAP_S * 1000, wait_until="commit")
        try:
            await page.wait_for_function("window.__desk && window.__desk.first !== null",
                                         timeout=CAP_S * 1000)
            figures.first_paint_ms = float(await page.evaluate("window.__desk.first"))
        except PlaywrightTimeout:
            figures.first_paint_ms = None
        _progress(f"first list paint {figures.first_paint_ms} ms; {live_s:.0f} s of updates")
        window_start = float(await page.evaluate("performance.now()"))
        await asyncio.sleep(live_s)
        # A page whose main thread is blocked answers an evaluate only when it is free.
        tasks = [(float(s), float(d)) for s, d in
                 await asyncio.wait_for(page.evaluate("window.__desk.tasks"), 4 * CAP_S)]
        inside = [d for s, d in tasks if s >= window_start]
        figures.longest_task_ms = max(inside, default=0.0)
        figures.long_tasks, figures.blocked_ms = len(inside), sum(inside)
        figures.rows = int(await page.evaluate("""() => {
            const row = document.querySelector("#desk-list [aria-setsize]");
            return row ? Number(row.getAttribute("aria-setsize"))
                       : document.querySelectorAll("#desk-list [data-incident]").length; }"""))
        _progress(f"longest task {figures.longest_task_ms:.0f} ms; clicks")
        await _click_through(page, figures, clicks, rng)
    finally:
        await context.close()
    return figures


async def _measure(dsn: str, redis: str, quick: bool) -> Result:
    from bench.compare import checkout  # bench.compare imports the list of benchmarks

    count, units_n, live_s, clicks = (300, 2000, 15.0, 5) if quick else (1000, 10_000, 60.0,
                                                                          20)
    result = Result(incidents=count, units=units_n, live_s=live_s, clicks=clicks, base=BASE)
    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    rng = random.Random(14)
    await create_user(dsn, "bench", Role.LEADER)
    store = await Store.connect(dsn, journal_key=TEST_JOURNAL_KEY.encode(), max_size=4)
    live = LiveState.from_url(redis, prefix)
    service = command_service(store, live)
    _progress(f"opening {count:,} incidents, placing {units_n:,} units")
    await crowd.open_incidents(service, count, rng)
    units = crowd.units(units_n, rng)
    await crowd.place_units(store, live, units)
    moving = crowd.Moving()
    mover = asyncio.create_task(crowd.keep_moving(
        store, live, units, rng, min(MOVES_PER_S, units_n), moving, service, NEW_INCIDENT_S,
        first_new=count))
    trees = {"before": checkout(BASE), "after": ROOT}
    try:
        async with async_playwright() as playwright, AsyncExitStack() as stack:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            stack.push_async_callback(browser.close)
            for name, tree in trees.items():
                port = free_port()
                log = Path(os.environ.get("TMPDIR", "/tmp")) / f"sitroom-bench-desk-{port}.log"
                served = _start_dashboard(tree, dsn, redis, prefix, port, log)
                try:
                    wait_port(port, served, timeout_s=60, log=log)
                    _progress(f"{name}: the desk of {tree.name}")
                    result.desks[name] = await _measure_desk(
                        browser, f"http://127.0.0.1:{port}", live_s, clicks, rng)
                finally:
                    stop(served)
        result.notes.append(f"units moved meanwhile: {moving.moves:,} fixes; "
                            f"{moving.incidents} incidents opened")
        return result
    finally:
        mover.cancel()
        await asyncio.gather(mover, return_exceptions=True)
        await live.close()
        await store.close()


def run(quick: bool = False) -> Result:
    """Start the servers, seed the city's bad day, then measure both desks."""
    with bench_servers() as servers, fresh_database(servers.postgres) as dsn:
        return asyncio.run(_measure(dsn, servers.redis, quick))


def _ms(value: float | None) -> str:
    if value is None:
        return f"> {CAP_S:.0f} s"
    return "–" if value != value else f"{value:,.0f}"  # NaN: nothing was measured


def _ratio(before: float | None, after: float | None) -> str:
    if after is None or after != after or after <= 0:
        return "–"
    if before is None:
        return f"> {CAP_S * 1000 / after:,.0f}×"
    return "–" if before != before else f"{before / after:,.1f}×"


def report(result: Result) -> str:
    """The figures of this desk beside the base commit's, with their ratio and the goals."""
    before, after = result.desks["before"], result.desks["after"]
    capped = CAP_S * 1000

    def p95(figures: DeskFigures) -> float | None:
        value = figures.click_p95_ms()
        return None if value >= capped else value

    lines = [f"desk: {result.incidents:,} open incidents, {result.units:,} units moving; "
             f"chromium 1920x1080; {result.live_s:.0f} s of updates; {result.clicks} clicks",
             f"{'measure':<40} {'goal':>8} {'before ' + result.base:>16} {'after':>10} "
             f"{'ratio':>8}"]
    rows = [("first list paint (ms)", "2,000", before.first_paint_ms, after.first_paint_ms),
            ("longest main-thread task (ms)", "200", before.longest_task_ms,
             after.longest_task_ms),
            ("click -> panel p95 (ms)", "300", p95(before), p95(after))]
    for label, goal, old, new in rows:
        lines.append(f"{label:<40} {goal:>8} {_ms(old):>16} {_ms(new):>10} "
                     f"{_ratio(old, new):>8}")
    lines += [
        f"{'  tasks > 50 ms in the window':<40} {'':>8} {before.long_tasks:>16,} "
        f"{after.long_tasks:>10,}",
        f"{'  main thread blocked in them (ms)':<40} {'':>8} {before.blocked_ms:>16,.0f} "
        f"{after.blocked_ms:>10,.0f}",
        f"{'  clicks never answered':<40} {'':>8} "
        f"{sum(c >= capped for c in before.clicks_ms):>16} "
        f"{sum(c >= capped for c in after.clicks_ms):>10}",
        f"{'  incident rows the list holds':<40} {'':>8} {before.rows:>16,} "
        f"{after.rows:>10,}",
    ]
    lines += [f"  {note}" for note in result.notes]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(quick="--quick" in sys.argv)))
