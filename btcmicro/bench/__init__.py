"""Benchmarks behind `btcmicro bench` (figures recorded in docs/benchmarks.md)."""
