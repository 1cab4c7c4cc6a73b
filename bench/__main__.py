"""`make bench`: run every benchmark and print its figures beside its baseline."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bench import (
    command_bench,
    dashboard_bench,
    desk_bench,
    feed_bench,
    ingest_bench,
    maps_bench,
    report_bench,
    video_bench,
)

# name -> (run, report): each prints its figures beside a baseline measured in the same run.
BENCHMARKS: dict[str, tuple[Callable[[bool], Any], Callable[[Any], str]]] = {
    "ingest": (ingest_bench.run, ingest_bench.report),
    "feeds": (feed_bench.run, feed_bench.report),
    "command": (command_bench.run, command_bench.report),
    "reports": (report_bench.run, report_bench.report),
    "maps": (maps_bench.run, maps_bench.report),
    "video": (video_bench.run, video_bench.report),
    "dashboard": (dashboard_bench.run, dashboard_bench.report),
    # Measures the base commit's desk itself, in a worktree (bench/compare.py's way).
    "desk": (desk_bench.run, desk_bench.report),
}


def main() -> None:
    """Run the benchmarks."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark")
    args = parser.parse_args()
    for name, (run, report) in BENCHMARKS.items():
        if args.only in (None, name):
            print(f"== {name} ==", flush=True)
            print(report(run(args.quick)), flush=True)


if __name__ == "__main__":
    main()
