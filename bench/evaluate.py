"""Batched inference and the accuracy metrics stored for every run."""
from __future__ import annotations

import torch
from torch import nn

from bench import metrics
from bench.datasets.interface import Split
from bench.datasets.interface import DatasetInfo
from bench.supervision import to_float_images

# Inference batch by device. An accelerator wants large batches. On a CPU core, a batch of
# 2,048 makes the suite's small networks memory-bound (their activations outgrow the cache):
# 128 is about 3x faster per image, and the logits are the same bit for bit on every
# backbone (per-sample convolutions and matrix products do not depend on the batch here;
# tests/test_evaluate.py checks it, docs/performance.md has the timings).
EVAL_BATCH = 2048
CPU_EVAL_BATCH = 128


def eval_batch(device: torch.device) -> int:
    return CPU_EVAL_BATCH if torch.device(device).type == "cpu" else EVAL_BATCH


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """Predicted classes for float images already on the model's device (in batches of
    :func:`eval_batch` for that device unless ``batch_size`` is given)."""
    batch_size = batch_size or eval_batch(images.device)
    was_training = model.training
    model.eval()
    preds = [model(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def evaluate_splits(model: nn.Module, splits: dict[str, Split], info: DatasetInfo,
                    device: torch.device, float_images: dict[str, torch.Tensor] | None = None,
                    prefix: str = "") -> tuple[dict[str, float], list[list[int]] | None]:
    """``acc_<split>`` for every split, ``worst_group_acc`` on the dataset's headline test
    split and its confusion matrix."""
    out: dict[str, float] = {}
    confusion = None
    for name, split in splits.items():
        images = (float_images or {}).get(name)
        if images is None:
            images = to_float_images(split.images, device)
        pred = predict(model, images).cpu()
        out[f"{prefix}acc_{name}"] = metrics.accuracy(pred, split.labels)
        if name == info.splits.headline:
            out[f"{prefix}worst_group_acc"] = metrics.worst_group_accuracy(
                pred, split.labels, info.group_ids(split.labels, split.bias))
            confusion = metrics.confusion_matrix(pred, split.labels, info.num_classes)
    return out, confusion
