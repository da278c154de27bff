"""Benchmarks, each runnable as a module (`python -m bench.search`, `python -m bench.cold_start`, ...)."""
