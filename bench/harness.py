"""Runs one (spec, seed): data, fit, evaluation, record. No CLI or store concerns here."""
from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from bench.code_version import training_code_fingerprint
from bench.data import Splits, data_spec_of, prepare_splits
from bench.environment import runtime_environment
from bench.errors import BenchError, ConfigError
from bench.bias_proxy import BiasProxySettings, proxy_predictions
from bench.evaluate import evaluate_splits
from bench.hparams import check_bounds
from bench.method import EpochObserver, FitResult, Method, Progress, RunContext
from bench.record import RunRecord, RunSpec, git_commit, package_versions
from bench.registry import DATASETS, METHODS
from bench.run_spec import make_spec, typed_hparams  # noqa: F401  (scripts import make_spec)
from bench.selection import SelectionJudge, check_primary, combined_supervision, default_rule
from bench.supervision import SplitView, to_float_images


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is visible; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


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


def primary_rule(spec: RunSpec, method: type[Method]) -> str:
    """The rule that chooses the reported model: ``--selection`` (kept in the spec's extras
    only when it is not the method's default, so default specs hash as they always did)."""
    return spec.extras.get("selection") or default_rule(method.supervision)


def make_judge(splits: Splits, info, train: SplitView, val: SplitView, seed: int,
               backbone: str, device: torch.device, primary: str,
               progress: Progress, proxy_settings: BiasProxySettings = BiasProxySettings()
               ) -> tuple[SelectionJudge, float]:
    """The run's selection judge: validation labels and bias labels, the bias proxy's
    validation predictions and the headline test split, none of which the method's views
    hold unless its supervision allows. Also the share of validation images whose proxy
    prediction is the class their bias value stands for (how well the proxy reads the bias;
    stored, never used to select)."""
    val_labels = splits.val.labels.to(device)
    val_bias = splits.val.bias.to(device)
    headline = splits.tests.get(info.splits.headline)
    proxy = proxy_predictions(splits.train, val.images, info, backbone, seed, device,
                              proxy_settings, train_images=train.images, progress=progress)
    judge = SelectionJudge(
        val_labels, info.num_classes, primary,
        conflicting=info.conflicting(val_labels, val_bias),
        groups=info.group_ids(val_labels, val_bias), proxy=proxy,
        test_images=None if headline is None else to_float_images(headline.images, device),
        test_labels=None if headline is None else headline.labels.to(device))
    agreement = (proxy == info.class_of_bias(val_bias)).double().mean().item()
    return judge, agreement


def proxy_settings_for(spec: RunSpec) -> BiasProxySettings:
    """The bias proxy of the run's protocol preset (the seed protocol's by default)."""
    from bench.protocols import PROTOCOLS, protocol_of_extras
    name = protocol_of_extras(spec.extras)
    settings = PROTOCOLS.get(name).bias_proxy if name in PROTOCOLS else {}
    return BiasProxySettings(**settings)


PICK_SPLITS_SKIP = ("train",)   # the 54,000 training images are evaluated for the primary only


def pick_results(fit: FitResult, eval_splits: dict, info, device: torch.device,
                 cached: dict, main: dict[str, float]) -> dict[str, dict]:
    """Every rule's pick: its epoch, score, score curve and the accuracies of that epoch's
    model on validation and the test splits. Each distinct epoch is evaluated once; the
    primary's epoch reuses the record's own metrics."""
    splits = {k: v for k, v in eval_splits.items() if k not in PICK_SPLITS_SKIP}
    by_epoch: dict[int, dict[str, float]] = {}
    primary_epoch = fit.logs.get("selected_epoch")
    out = {}
    for name, pick in fit.picks.items():
        if pick.epoch not in by_epoch:
            if pick.epoch == primary_epoch:
                keys = [f"acc_{k}" for k in splits] + ["worst_group_acc"]
                by_epoch[pick.epoch] = {k: main[k] for k in keys if k in main}
            else:
                model = copy.deepcopy(fit.model)
                model.load_state_dict(pick.state)
                by_epoch[pick.epoch] = evaluate_splits(model, splits, info, device, cached)[0]
        out[name] = {"epoch": pick.epoch, "score": pick.score,
                     "curve": list(fit.curves.get(name, [])), "metrics": by_epoch[pick.epoch]}
    return out


def execute(spec: RunSpec, seed: int, env: RunEnvironment,
            splits: Splits | None = None) -> RunRecord:
    """Trains and evaluates one seed. Bad configuration or data raises BenchError; anything
    that goes wrong inside training (an exception, a NaN loss) becomes a failed record.
    ``splits``: already prepared for this spec's data and seed (a sweep's driver prepares
    them once and ships them to workers); by default they are prepared here."""
    cls: type[Method] = METHODS.get(spec.method)
    primary = primary_rule(spec, cls)
    rule = check_primary(primary)
    # CPU results are bit-reproducible only on the same processor, torch build (BLAS, oneDNN)
    # and thread count, so all of them are recorded (bench.environment).
    versions = {**package_versions(), **runtime_environment(), "train_step": env.train_step,
                "training_code": training_code_fingerprint(cls.__module__)}
    supervision = combined_supervision(cls.supervision, rule.supervision)
    record = RunRecord(spec, seed, "failed", supervision.value, device=str(env.device),
                       versions=versions, git_commit=git_commit(), selection_rule=primary)
    data_spec = data_spec_of(spec, seed)
    if splits is None:
        splits = prepare_splits(data_spec, spec.dataset, env.data_root, env.cache_dir)
    info = splits.info or DATASETS.get(spec.dataset).info(data_spec)
    timings = {"seconds_data": splits.seconds}
    hparams = typed_hparams(spec)                  # resolved once, by bench.run_spec
    check_bounds(hparams, train_size=len(splits.train))   # a ConfigError, before any training
    try:
        start = time.perf_counter()
        train = SplitView(splits.train, env.device, cls.supervision.allows("train"),
                          dataset=info)
        val = SplitView(splits.val, env.device, cls.supervision.allows("val"), dataset=info)
        generator = torch.Generator().manual_seed(seed)
        timings["seconds_data"] += time.perf_counter() - start
        start = time.perf_counter()
        judge, agreement = make_judge(splits, info, train, val, seed, spec.backbone, env.device,
                                      primary, env.progress, proxy_settings_for(spec))
        timings["seconds_bias_proxy"] = time.perf_counter() - start
        ctx = RunContext(train, val, env.device, generator, cls.supervision, spec.backbone, info,
                         progress=env.progress, epoch_observer=env.epoch_observer,
                         train_step=env.train_step, selection=judge)
        method = cls(hparams)
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
        record.selection = pick_results(fit, eval_splits, info, env.device, cached, metrics)
        timings["seconds_eval"] = time.perf_counter() - start
        metrics.update({k: float(v) for k, v in fit.logs.items()})
        metrics["bias_proxy_agreement"] = agreement
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
