"""pytest-benchmark timings: data generation, cache load, a training epoch, evaluation.

Skipped in the normal test run (``--benchmark-skip`` in pyproject); run with
``python -m pytest tests/benchmarks --benchmark-only``. Data benchmarks use full MNIST (the
copy shipped with the suite). Targets (issue 2, full MNIST, quiet machine): all splits
generate in <= 3 s and load from the cache in <= 0.5 s (a cache load includes verifying the
digit files' checksums: in one process a memory lookup, in a fresh one about 0.3 s).
"""
from __future__ import annotations

import pytest
import torch

from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.datasets.digits import load_digits
from bench.evaluate import evaluate_splits
from bench.training import SGDConfig, train
from tests.conftest import make_context


ROOT = None                                 # the embedded copy
SPEC = ColoredMNISTSpec(source="mnist")


@pytest.fixture(scope="module")
def warm_digits():
    load_digits(SPEC.source, ROOT)          # file reads and decompression are not generation


def test_generate_all_splits(benchmark, warm_digits):
    splits = benchmark.pedantic(prepare_splits, args=(SPEC,),
                                kwargs={"data_root": ROOT, "use_cache": False},
                                rounds=3, iterations=1)
    benchmark.extra_info["source"] = SPEC.source
    benchmark.extra_info["images"] = sum(len(s) for s in splits.all().values())


def test_load_all_splits_from_cache(benchmark, tmp_path):
    prepare_splits(SPEC, data_root=ROOT, cache_dir=tmp_path)
    splits = benchmark.pedantic(prepare_splits, args=(SPEC,),
                                kwargs={"data_root": ROOT, "cache_dir": tmp_path},
                                rounds=5, iterations=1)
    assert splits.cache_hit
    benchmark.extra_info["source"] = SPEC.source


@pytest.mark.parametrize("batch", [16, 64])
def test_training_epoch(benchmark, tiny_splits, batch):
    """One harness epoch over 3,600 mnist-5k images on the CPU (no validation)."""
    ctx = make_context(tiny_splits, limit=None)

    def epoch():
        return train(ctx.new_model(), ctx, SGDConfig(epochs=1, batch_size=batch, lr=0.01),
                     select=False)
    benchmark.pedantic(epoch, rounds=3, iterations=1)
    benchmark.extra_info["images_per_round"] = len(ctx.train)


def test_evaluation(benchmark, tiny_splits):
    """evaluate_splits over the four mnist-5k test splits (uint8 in, metrics out)."""
    ctx = make_context(tiny_splits, limit=100)
    model = ctx.new_model()
    benchmark.pedantic(evaluate_splits, args=(model, tiny_splits.tests, tiny_splits.info, torch.device("cpu")),
                       rounds=5, iterations=1)
    benchmark.extra_info["images_per_round"] = sum(len(s) for s in tiny_splits.tests.values())
