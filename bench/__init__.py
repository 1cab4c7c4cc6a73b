"""Benchmarks: `make bench` (python -m bench) prints each figure beside its baseline."""
