"""`make bench`: run every benchmark and print its figures beside its baseline."""

from __future__ import annotations

import argparse

from bench import feed_bench, ingest_bench


def main() -> None:
    """Run the benchmarks."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--only", choices=["ingest", "feeds"], help="run one benchmark")
    args = parser.parse_args()
    if args.only in (None, "ingest"):
        print(ingest_bench.report(ingest_bench.run(quick=args.quick)), flush=True)
    if args.only in (None, "feeds"):
        print(feed_bench.report(feed_bench.run(quick=args.quick)), flush=True)


if __name__ == "__main__":
    main()
