"""Collects the harness-vs-bare comparison with the other benchmarks."""
from tests.benchmarks.harness_vs_bare import test_harness_vs_bare  # noqa: F401
