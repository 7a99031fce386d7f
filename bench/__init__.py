"""Benchmarks: onemap against the tools a user would pick instead (see bench/RESULTS.md)."""
