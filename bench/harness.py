"""Runs one (spec, seed): data, fit, evaluation, record. No CLI or store concerns here."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from bench.backbones import canonical_name
from bench.data import Splits, prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec, dataset_info
from bench.environment import runtime_environment
from bench.errors import BenchError, ConfigError
from bench.evaluate import evaluate_splits
from bench.hparams import check_bounds, resolve
from bench.method import EpochObserver, Method, Progress, RunContext
from bench.record import RunRecord, RunSpec, git_commit, package_versions
from bench.registry import METHODS
from bench.supervision import SplitView


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is visible; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


def make_spec(method: str, overrides: dict[str, Any], data: ColoredMNISTSpec,
              dataset: str = "colored", backbone: str = "baseline",
              extras: dict[str, Any] | None = None) -> RunSpec:
    """A run spec with the method's full, resolved hyperparameters (defaults + overrides)."""
    cls: type[Method] = METHODS.get(method)
    hparams = dataclasses.asdict(resolve(cls.Hparams, overrides))
    backbone = canonical_name(backbone)   # records name the network, not the alias
    data_fields = {k: v for k, v in data.to_dict().items() if k != "seed"}
    return RunSpec(method, hparams, data_fields, dataset, backbone, dict(extras or {}))


# after_fit(model, splits, ctx, record) -> extra metrics; runs after evaluation, timed by
# the hook itself. Diagnostics and weight keeping plug in here, not inside the harness. A
# hook that raises is recorded in ``record.diagnostic_errors``; the fitted run stays completed.
AfterFit = Callable[[nn.Module, Splits, RunContext, RunRecord], dict[str, float]]


@dataclass
class RunEnvironment:
    device: torch.device
    data_root: Path | None = None
    cache_dir: Path | None = None
    progress: Progress = dataclasses.field(default_factory=Progress)
    after_fit: list[AfterFit] = dataclasses.field(default_factory=list)
    epoch_observer: EpochObserver | None = None   # learning curves (scripts/epoch_curves.py)
    train_step: str = "eager"                     # bench.training.TRAIN_STEPS


def execute(spec: RunSpec, seed: int, env: RunEnvironment,
            splits: Splits | None = None) -> RunRecord:
    """Trains and evaluates one seed. Bad configuration or data raises BenchError; anything
    that goes wrong inside training (an exception, a NaN loss) becomes a failed record.
    ``splits``: already prepared for this spec's data and seed (a sweep's driver prepares
    them once and ships them to workers); by default they are prepared here."""
    cls: type[Method] = METHODS.get(spec.method)
    # CPU results are bit-reproducible only on the same processor, torch build (BLAS, oneDNN)
    # and thread count, so all of them are recorded (bench.environment).
    versions = {**package_versions(), **runtime_environment(), "train_step": env.train_step}
    record = RunRecord(spec, seed, "failed", cls.supervision.value, device=str(env.device),
                       versions=versions, git_commit=git_commit())
    data_spec = ColoredMNISTSpec(**{**spec.data, "seed": seed})
    if splits is None:
        splits = prepare_splits(data_spec, spec.dataset, env.data_root, env.cache_dir)
    info = splits.info or dataset_info(data_spec, spec.dataset)
    timings = {"seconds_data": splits.seconds}
    hparams = resolve(cls.Hparams, spec.hparams)
    check_bounds(hparams, train_size=len(splits.train))   # a ConfigError, before any training
    try:
        start = time.perf_counter()
        train = SplitView(splits.train, env.device, cls.supervision.allows("train"),
                          dataset=info)
        val = SplitView(splits.val, env.device, cls.supervision.allows("val"), dataset=info)
        generator = torch.Generator().manual_seed(seed)
        ctx = RunContext(train, val, env.device, generator, cls.supervision, spec.backbone, info,
                         progress=env.progress, epoch_observer=env.epoch_observer,
                         train_step=env.train_step)
        method = cls(hparams)
        timings["seconds_data"] += time.perf_counter() - start
        start = time.perf_counter()
        fit = method.fit(ctx)
        timings["seconds_train"] = time.perf_counter() - start
        start = time.perf_counter()
        eval_splits = {"train": splits.train, "val": splits.val, **splits.tests}
        cached = {"train": train.images, "val": val.images}
        metrics, confusion = evaluate_splits(fit.model, eval_splits, info, env.device, cached)
        if fit.final_model is not None:
            final, _ = evaluate_splits(fit.final_model, splits.tests, info, env.device,
                                       prefix="final_")
            metrics.update(final)
        timings["seconds_eval"] = time.perf_counter() - start
        metrics.update({k: float(v) for k, v in fit.logs.items()})
        record.metrics = {**metrics, **timings}
        record.confusion = confusion
        record.status = "completed"
    except (BenchError, KeyboardInterrupt):
        raise
    except Exception as exc:  # recorded, and the other seeds go on
        record.error = f"{type(exc).__name__}: {exc}"
        record.metrics = timings
        return record
    # Outside the fit's try: what goes wrong after training never discards the trained run.
    for hook in env.after_fit:
        try:
            record.metrics.update(hook(fit.model, splits, ctx, record))
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            name = getattr(hook, "__name__", "after_fit")
            record.diagnostic_errors[name] = " ".join(f"{type(exc).__name__}: {exc}".split())
    return record
