"""Benchmarks behind `btcmicro bench` (figures recorded in docs/benchmarks.md); import the module of each."""

__all__: list[str] = []
