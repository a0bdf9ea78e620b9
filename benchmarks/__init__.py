"""Benchmarks: each prints its figures against a stated baseline. Run one from the
repository root as a module, ``python -m benchmarks.bench_evaluation`` (benchmarks/README.md)."""
