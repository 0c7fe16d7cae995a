"""Evaluating a model trained elsewhere on a protocol's splits, with the metrics and
diagnostics of a run, into a record a leaderboard can show (RobustBench's ``benchmark()`` is
the anchor). Its method is ``external``, its hyperparameters the weights' SHA-256, its
supervision unknown: it is ranked only against other external models.

    from bench.external import evaluate_model
    record = evaluate_model(my_net, backbone="baseline", source="mnist", seed=0)

``bench eval --weights FILE --backbone NAME`` does the same for a weights file (a bench/zoo
weights file, or a plain state dict of a registered backbone).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from bench.data import prepare_splits
from bench.data import new_data_spec
from bench.errors import ConfigError, DataError
from bench.evaluate import evaluate_splits
from bench.method import RunContext
from bench.record import RunRecord, RunSpec, git_commit, package_versions
from bench.environment import runtime_environment
from bench.supervision import SplitView, Supervision
from bench.weights import file_sha256  # noqa: F401  (bench eval names files by it)

METHOD = "external"
SUPERVISION = "unknown (external model)"


def read_weights(path: Path, backbone: str | None) -> tuple[nn.Module, str]:
    """(model, backbone name) from a bench weights file or a plain state dict."""
    from bench.backbones import build_backbone, canonical_name
    from bench.registry import RegistryError
    from bench.weights import WeightsMissing, load_model
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--weights {path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"--weights {path}: not a torch weights file ({type(exc).__name__}); "
                        f"save a state dict with torch.save(model.state_dict(), path)") from None
    if isinstance(payload, dict) and "state_dict" in payload and "backbone" in payload:
        try:
            return load_model(path), payload["backbone"]
        except WeightsMissing as exc:
            raise DataError(str(exc)) from None
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor)
                                                for v in payload.values()):
        raise DataError(f"--weights {path}: expected a state dict (names -> tensors) or a "
                        f"bench weights file")
    if backbone is None:
        raise ConfigError(f"--weights {path} is a plain state dict: name its network with "
                          f"--backbone (bench list shows the backbones)")
    try:
        model = build_backbone(backbone)
        model.load_state_dict(payload)
    except RegistryError:
        raise
    except (RuntimeError, KeyError, ValueError) as exc:
        first = " ".join(str(exc).split())[:160]
        raise DataError(f"--weights {path} does not fit backbone {backbone!r} ({first}); "
                        f"check --backbone") from None
    return model.eval(), canonical_name(backbone)


def evaluate_model(model: nn.Module, *, backbone: str, weights_sha256: str = "unknown",
                   source: str = "mnist", conflict_ratio: float = 0.05,
                   mode: str = "background", seed: int = 0, diagnostics: str = "none",
                   data_root: Path | None = None, device: str = "cpu") -> RunRecord:
    """The record of ``model`` on the protocol's splits for ``seed`` (accuracies on train,
    validation and every test split; diagnostics as ``bench run --diagnostics``)."""
    from bench.hooks import HookOptions, diagnostics_hooks, spec_extras
    data = new_data_spec(source=source, conflict_ratio=conflict_ratio, mode=mode, seed=seed)
    options = HookOptions(diagnostics=diagnostics, keep_weights=False)
    spec = RunSpec(METHOD, {"weights_sha256": weights_sha256},
                   {k: v for k, v in data.to_dict().items() if k != "seed"}, "colored",
                   backbone, spec_extras(options))
    dev = torch.device(device)
    splits = prepare_splits(data, "colored", data_root)
    info = splits.info
    model = model.to(dev).eval()
    check_input(model, splits.val.images[:2].to(dev), info.num_classes)
    record = RunRecord(spec, seed, "completed", SUPERVISION, device=str(dev),
                       versions={**package_versions(), **runtime_environment()},
                       git_commit=git_commit())
    metrics, confusion = evaluate_splits(model, splits.all(), info, dev)
    record.metrics, record.confusion = metrics, confusion
    train = SplitView(splits.train, dev, False, dataset=info)
    val = SplitView(splits.val, dev, False, dataset=info)
    ctx = RunContext(train, val, dev, torch.Generator().manual_seed(seed), Supervision.NONE,
                     backbone, info)
    for hook in diagnostics_hooks(options):
        record.metrics.update(hook(model, splits, ctx, record))
    return record


def check_input(model: nn.Module, images_uint8: torch.Tensor, num_classes: int) -> None:
    """A one-line error when the model does not take the protocol's images or does not give
    one score per class."""
    images = images_uint8.float().div(255)
    try:
        with torch.no_grad():
            out = model(images)
    except Exception as exc:
        raise DataError(f"the model does not accept the protocol's input (a batch of shape "
                        f"{tuple(images.shape)}, floats in [0, 1]): "
                        f"{' '.join(str(exc).split())[:160]}") from None
    if out.ndim != 2 or out.shape[1] != num_classes:
        raise DataError(f"the model returns shape {tuple(out.shape)} for {len(images)} images; "
                        f"expected ({len(images)}, {num_classes}) class scores")

