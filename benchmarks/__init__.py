"""Benchmarks of siting: run them all with ``python -m benchmarks.run``."""
