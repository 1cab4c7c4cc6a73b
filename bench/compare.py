"""`make bench-compare`: each benchmark on a base commit and on this tree, in the same run.

A refactoring must not cost speed, and this VM's speed moves by a factor of two between
sessions, so "before" figures from an earlier day prove nothing. This checks the base commit
out into a git worktree under `var/`, then runs every chosen benchmark twice back to back —
base, then this tree, each with its own code (its own `bench/` too, since the interfaces the
benchmarks drive may have changed) — and prints the two reports one above the other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parent.parent


def checkout(ref: str) -> Path:
    """A detached worktree of `ref` under var/ (reused if already at that commit)."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    tree = ROOT / "var" / f"bench-base-{commit[:12]}"
    if not tree.exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", str(tree), commit)
    return tree


def git(*args: str) -> str:
    """Run git in the repository and return its output."""
    done = subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def run_one(tree: Path, name: str, quick: bool) -> tuple[str, float]:
    """Run one benchmark with the code of `tree`; its report and how long it took."""
    # The package is installed editable from ROOT: PYTHONPATH puts `tree`'s packages first.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "bench", "--only", name, *(["--quick"] if quick else [])]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        return f"FAILED (exit {done.returncode}):\n{tail}", took
    return done.stdout.rstrip(), took


def main() -> None:
    """Run the chosen benchmarks on the base commit and on this tree, alternately."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("--base", required=True, help="commit or tag measured as 'before'")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS),
                        help="benchmark to run (repeatable; default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args()
    base = checkout(args.base)
    names = args.only or list(BENCHMARKS)
    head = git("rev-parse", "--short", "HEAD")
    print(f"before = {args.base} ({base.name}), after = this tree (HEAD {head}, with any "
          f"uncommitted changes)", flush=True)
    for name in names:
        for label, tree in (("before", base), ("after", ROOT)):
            print(f"== {name}: {label} ==", flush=True)
            report, took = run_one(tree, name, args.quick)
            print(report, flush=True)
            print(f"({took:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
