"""Helpers shared by the test harnesses, the benchmarks and the demo."""
