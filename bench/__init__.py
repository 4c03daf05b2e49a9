"""Benchmarks: each runs as `python -m bench.NAME --json FILE`, prints a table, writes JSON.

Speed is measured here, never asserted in timed tests.
"""
