"""`make bench`: run every benchmark and print its figures beside its baseline."""

from __future__ import annotations

import argparse

from bench import ingest_bench


def main() -> None:
    """Run the benchmarks."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args()
    print(ingest_bench.report(ingest_bench.run(quick=args.quick)), flush=True)


if __name__ == "__main__":
    main()
