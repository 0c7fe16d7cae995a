"""The harness's training loop: minibatch SGD over tensors already on the device.

Methods change *what* is optimised (an objective, sample weights, extra parameters); the
loop owns *how*: batching from the run's generator, progress, NaN detection, and model
selection on the validation split (never on a test split).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError
from bench.evaluate import predict
from bench.hparams import hparam
from bench.method import FitResult, RunContext
from bench.selection import PickTracker, SelectionJudge, default_rule, legacy_log_name

PROGRESS_EVERY = 50  # steps between progress updates and NaN checks (a sync point on GPU)


@dataclass(frozen=True)
class SGDConfig:
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "sgd"   # or "adam" (momentum ignored), for methods whose source used it
    # Step decay, as DFA's official code schedules it (StepLR stepped once per step from step
    # ``decay_start`` on): the lr of step t (from 0) is lr * decay_factor ** floor((t -
    # decay_start) / decay_every) once t >= decay_start + decay_every. 0: a constant lr.
    decay_every: int = 0
    decay_factor: float = 1.0
    decay_start: int = 0

    def lr_at(self, step: int) -> float:
        if self.decay_every <= 0 or step < self.decay_start:
            return self.lr
        return self.lr * self.decay_factor ** ((step - self.decay_start) // self.decay_every)


OPTIMIZERS = ("sgd", "adam")

# How a training step is executed; the same arithmetic, fewer kernel launches (which bound a
# batch-16 step on a GPU). "fused": the optimiser updates every parameter in one kernel.
# "compiled": also torch.compile's the model (on CUDA with CUDA graphs, mode
# "reduce-overhead"; on CPU inductor, which pays a compile and gains nothing at this size).
# Metrics agree with "eager" within floating-point reordering, not bit for bit.
TRAIN_STEPS = ("eager", "fused", "compiled")


def check_train_step(name: str) -> str:
    if name not in TRAIN_STEPS:
        raise ConfigError(f"--train-step {name}: expected one of {', '.join(TRAIN_STEPS)}")
    return name


def make_optimizer(params: list[nn.Parameter], cfg: SGDConfig,
                   fused: bool = False) -> torch.optim.Optimizer:
    extra = {"fused": True} if fused else {}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **extra)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, **extra)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use one of {', '.join(OPTIMIZERS)}")


def step_model(model: nn.Module, ctx: RunContext) -> nn.Module:
    """The module the objective calls during training: ``model`` itself, or a compiled view
    of it sharing its parameters (selection and evaluation use ``model``, uncompiled)."""
    if ctx.train_step != "compiled":
        return model
    mode = "reduce-overhead" if ctx.device.type == "cuda" else "default"
    return torch.compile(model, mode=mode, dynamic=False)


@dataclass(frozen=True)
class SGDHparams:
    """The seed report's optimiser: plain SGD, lr 0.1, batch 16, 10 epochs. Methods' frozen
    hyperparameter dataclasses extend it, overriding a default where their source differs."""
    epochs: int = hparam(10, low=1)
    batch_size: int = hparam(16, low=1, at_most_train_size=True)
    lr: float = hparam(0.1, low=0, low_open=True)
    momentum: float = hparam(0.0, low=0, high=1, high_open=True)
    weight_decay: float = hparam(0.0, low=0)
    # Added with the protocol presets (bench.protocols: LfF's protocol trains every method
    # with Adam); left out of run specs while "sgd", so stored runs keep their keys.
    optimizer: str = hparam("sgd", choices=OPTIMIZERS, added_later=True)

    def sgd(self, epochs: int | None = None) -> SGDConfig:
        """The loop's settings, for ``epochs`` (default: this method's ``epochs``)."""
        return SGDConfig(self.epochs if epochs is None else epochs, self.batch_size, self.lr,
                         self.momentum, self.weight_decay, self.optimizer)


# objective(model, x, y, index) -> scalar loss; index lets a method look up per-example state.
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  index: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def epoch_order(n: int, ctx: RunContext, sample_weights: torch.Tensor | None) -> torch.Tensor:
    """A permutation, or n draws with replacement proportional to ``sample_weights``."""
    if sample_weights is None:
        order = torch.randperm(n, generator=ctx.generator)
    else:
        order = torch.multinomial(sample_weights.detach().cpu().double(), n, replacement=True,
                                  generator=ctx.generator)
    return order.to(ctx.device)


def default_judge(ctx: RunContext) -> SelectionJudge:
    """The judge of a context the harness did not build (tests, scripts): the label-free rules,
    and the bias-label rules where the method's validation view holds bias labels."""
    conflicting = groups = None
    if ctx.val.bias_visible and (ctx.dataset or ctx.val.dataset) is not None:
        conflicting, groups = ctx.val.conflicting, ctx.val.groups
    return SelectionJudge(ctx.val.labels, ctx.num_classes, default_rule(ctx.supervision),
                          conflicting, groups)


# sample_weights: a tensor, or epoch (from 0) -> tensor or None, for a method that changes its
# sampling between epochs (llc-guard); None samples a permutation.
SampleWeights = torch.Tensor | Callable[[int], torch.Tensor | None] | None


def train(model: nn.Module, ctx: RunContext, cfg: SGDConfig, objective: Objective = cross_entropy,
          sample_weights: SampleWeights = None, extra_parameters: Iterable[nn.Parameter] = (),
          select: bool = True, phase: str = "train",
          on_epoch_end: Callable[[int], None] | None = None) -> FitResult:
    """Trains ``model`` in place. With ``select`` every selection rule is scored after every
    epoch (``ctx.selection``); the returned ``model`` is the primary rule's best epoch,
    ``final_model`` the last epoch, and ``picks`` every rule's choice."""
    params = list(model.parameters()) + list(extra_parameters)
    optimizer = make_optimizer(params, cfg, fused=ctx.train_step != "eager")
    stepped = step_model(model, ctx)
    graphs = ctx.train_step == "compiled" and ctx.device.type == "cuda"
    images, digits = ctx.train.images, ctx.train.labels
    n = len(digits)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    ctx.progress.start(phase, cfg.epochs * steps_per_epoch)
    judge = (ctx.selection or default_judge(ctx)) if select else None
    tracker = PickTracker()
    model.train()
    done = 0   # steps taken, for the lr schedule
    for epoch in range(cfg.epochs):
        weights = sample_weights(epoch) if callable(sample_weights) else sample_weights
        order = epoch_order(n, ctx, weights)
        running = torch.zeros((), device=ctx.device)
        reported = 0
        for step, start in enumerate(range(0, n, cfg.batch_size), 1):
            index = order[start:start + cfg.batch_size]
            if graphs:   # a CUDA graph's outputs live until the next step begins
                torch.compiler.cudagraph_mark_step_begin()
            loss = objective(stepped, images.index_select(0, index), digits.index_select(0, index),
                             index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.decay_every:
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr_at(done)
            optimizer.step()
            done += 1
            running += loss.detach()
            if step % PROGRESS_EVERY == 0 or step == steps_per_epoch:
                if not math.isfinite(running.item()):
                    raise FloatingPointError(f"{phase}: loss is not finite at epoch {epoch + 1}, "
                                             f"step {step}; lower the learning rate")
                ctx.progress.advance(step - reported)
                reported = step
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if ctx.epoch_observer is not None:
            ctx.epoch_observer(phase, epoch + 1, model)
        if judge is not None:
            scores = judge.scores(epoch + 1, predict(model, ctx.val.images), model)
            tracker.update(epoch + 1, scores, model)
    primary = tracker.picks.get(judge.primary) if judge is not None else None
    if primary is None:
        return FitResult(model=model, picks=tracker.picks, curves=tracker.curves)
    final = copy.deepcopy(model)
    model.load_state_dict(primary.state)
    return FitResult(model=model, final_model=final, picks=tracker.picks, curves=tracker.curves,
                     logs={"selected_epoch": primary.epoch,
                           f"selected_{legacy_log_name(judge.primary)}": primary.score})
