"""The harness against a bare loop of the same model over the same in-memory tensors.

Run:  python tests/benchmarks/harness_vs_bare.py [--repeats 3] [--train-images 3600]
 or:  python -m pytest tests/benchmarks --benchmark-only -s

Training: ``bench.training.train`` (one epoch, no validation selection, as the bare loop has
none) against a plain ``for`` loop over a permutation with the same optimiser, at batch 16 and
64. Evaluation: ``bench.evaluate.predict`` and ``bench.evaluate.evaluate_splits`` (which also
converts uint8 images and computes the metrics) against a bare batched forward pass. Each
timing is the best of ``repeats`` runs, interleaved, so a busy machine hurts both sides alike.
Targets (issue 2): train >= 0.90 of bare, evaluation >= 0.50 of bare.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.backbones import ConvGNNet, build_backbone
from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.evaluate import eval_batch, evaluate_splits, predict
from bench.method import RunContext
from bench.supervision import SplitView, Supervision, to_float_images
from bench.training import SGDConfig, train

TRAIN_TARGET, EVAL_TARGET = 0.90, 0.50


def _splits():
    with tempfile.TemporaryDirectory() as tmp:
        return prepare_splits(ColoredMNISTSpec(source="mnist-5k"), cache_dir=Path(tmp))


def _model(seed: int = 0) -> ConvGNNet:
    torch.manual_seed(seed)
    return build_backbone("baseline")


def time_harness_train(ctx: RunContext, batch: int) -> float:
    model = _model()
    start = time.perf_counter()
    train(model, ctx, SGDConfig(epochs=1, batch_size=batch, lr=0.01), select=False)
    return time.perf_counter() - start


def time_bare_train(images: torch.Tensor, digits: torch.Tensor, batch: int) -> float:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(digits))
    for i in range(0, len(digits), batch):
        index = order[i:i + batch]
        loss = F.cross_entropy(model(images[index]), digits[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    loss.item()
    return time.perf_counter() - start


def time_bare_forward(model, images: torch.Tensor) -> float:
    start = time.perf_counter()
    model.eval()
    with torch.no_grad():
        batch = eval_batch(images.device)
        for i in range(0, len(images), batch):
            model(images[i:i + batch]).argmax(1)
    return time.perf_counter() - start


def compare(repeats: int = 3, train_images: int = 3600, batches=(16, 64)) -> dict[str, float]:
    """Returns images/s of each side and the ratios; prints a small table."""
    splits = _splits()
    device = torch.device("cpu")
    subset = splits.train.subset(torch.arange(min(train_images, len(splits.train))))
    view = SplitView(subset, device, False)
    ctx = RunContext(view, SplitView(splits.val, device, False), device,
                     torch.Generator().manual_seed(0), Supervision.NONE, dataset=splits.info)
    n = len(view)
    out: dict[str, float] = {}
    for batch in batches:
        harness, bare = [], []
        for _ in range(repeats):
            bare.append(time_bare_train(view.images, view.labels, batch))
            harness.append(time_harness_train(ctx, batch))
        out[f"train_bs{batch}_bare_ips"] = n / min(bare)
        out[f"train_bs{batch}_harness_ips"] = n / min(harness)
        out[f"train_bs{batch}_ratio"] = min(bare) / min(harness)
    model = _model()
    tests = splits.tests
    float_tests = torch.cat([to_float_images(s.images, device) for s in tests.values()])
    m = len(float_tests)
    bare, pred, full = [], [], []
    for _ in range(repeats):
        bare.append(time_bare_forward(model, float_tests))
        start = time.perf_counter()
        predict(model, float_tests)
        pred.append(time.perf_counter() - start)
        start = time.perf_counter()
        evaluate_splits(model, tests, splits.info, device)
        full.append(time.perf_counter() - start)
    out["eval_bare_ips"] = m / min(bare)
    out["eval_predict_ips"] = m / min(pred)
    out["eval_predict_ratio"] = min(bare) / min(pred)
    out["eval_splits_ips"] = m / min(full)
    out["eval_splits_ratio"] = min(bare) / min(full)
    _print(out, batches)
    return out


def _print(out: dict[str, float], batches) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'what':<34}{'bare img/s':>12}{'harness img/s':>15}{'ratio':>8}  target")
    for b in batches:
        print(f"{f'train, batch {b}':<34}{out[f'train_bs{b}_bare_ips']:>12.0f}"
              f"{out[f'train_bs{b}_harness_ips']:>15.0f}{out[f'train_bs{b}_ratio']:>8.2f}"
              f"  >= {TRAIN_TARGET}")
    print(f"{'eval, predict':<34}{out['eval_bare_ips']:>12.0f}{out['eval_predict_ips']:>15.0f}"
          f"{out['eval_predict_ratio']:>8.2f}  >= {EVAL_TARGET}")
    print(f"{'eval, evaluate_splits (uint8 in)':<34}{out['eval_bare_ips']:>12.0f}"
          f"{out['eval_splits_ips']:>15.0f}{out['eval_splits_ratio']:>8.2f}  >= {EVAL_TARGET}")


def test_harness_vs_bare(benchmark):
    """pytest-benchmark entry: one comparison; the figures go to the benchmark's extra_info."""
    out = benchmark.pedantic(compare, kwargs={"repeats": 2, "train_images": 1600},
                             rounds=1, iterations=1)
    benchmark.extra_info.update(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=3600)
    args = parser.parse_args()
    compare(args.repeats, args.train_images)
