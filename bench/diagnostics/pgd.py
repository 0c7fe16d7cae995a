"""ε-to-flip: the smallest L∞ perturbation at which PGD changes the model's current prediction.

The attack maximises the cross-entropy of the model's *current* prediction (not the label), so
every image gets a number, correct or not: a colour reader that already misreads a conflicting
image is still asked how hard it is to change its mind. Per image we bisect ε on a log scale
between ``eps_min`` and ``eps_max`` (relative precision, so small and large ε are found equally
well); all images of a batch are bisected together, each with its own ε, as tensor ops.

Two populations are reported. On *all* sampled images (``eps_to_flip_<split>``) a method that
misreads most conflicting images is measured mostly on wrong predictions, another mostly on
right ones, so the medians compare different things. On the images the model classifies
*correctly* (``eps_to_flip_<split>_correct``, with ``_correct_n`` images) every method is asked
the same question: how far must the input move to break a right answer. The leaderboard shows
the latter. The attack is a bisection of a 10-step PGD, an upper bound on the true ε; how much
a stronger attack lowers it is measured by ``scripts/attack_strength.py`` (docs/diagnostics.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.evaluate import predict
from bench.hparams import hparam


@dataclass(frozen=True)
class PGDSettings:
    """Defaults: 500 images from each of ``aligned`` and ``conflicting`` (the same positions in
    both, so the same test digits in their own and in a foreign colour). ε in [1/1024, 0.5]:
    at 0.5 every pixel can be pushed to mid-grey, so a model that never flips there ignores its
    input. 10 sign steps of 2.5·ε/10 (Madry et al.'s ratio: the walk can reach the ball's far
    side and back); an image counts as flipped if any iterate flips it. One start at the clean
    image (deterministic); ``restarts`` > 1 adds uniform random starts from a seeded generator.
    7 log-scale bisection steps give ε to within 5% (ratio 512^(1/128)), ample for medians
    that differ by a factor of 2-3 between models; 1 + 7 attacks per image, 80 gradient passes
    (9 steps, 1.2%, cost 25% more and moved the full-MNIST erm/jtt medians by <= 0.002)."""
    sample_per_split: int = hparam(500, low=1)
    splits: tuple[str, ...] = ("aligned", "conflicting")
    eps_min: float = hparam(1 / 1024, low=0, low_open=True)
    eps_max: float = hparam(0.5, low=0, high=1, low_open=True)
    steps: int = hparam(10, low=1)
    step_ratio: float = hparam(2.5, low=0, low_open=True)
    restarts: int = hparam(1, low=1)
    bisection_steps: int = hparam(7, low=0)
    # images bisected together; on a CPU 100 runs ~1.5x faster than 500
    batch_size: int = hparam(100, low=1)
    seed: int = 0


LOSSES = ("ce", "margin")


def attack_loss(logits: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """What the attack ascends: the cross-entropy to ``target`` ("ce"), or the margin
    ``max_{j != target} z_j - z_target`` ("margin", Carlini & Wagner), which keeps pushing
    once the softmax saturates. Summed over the batch."""
    if loss == "ce":
        return F.cross_entropy(logits, target, reduction="sum")
    if loss == "margin":
        own = logits.gather(1, target[:, None]).squeeze(1)
        others = logits.scatter(1, target[:, None], float("-inf")).max(1).values
        return (others - own).sum()
    raise ValueError(f"unknown attack loss {loss!r}; use one of {', '.join(LOSSES)}")


def _gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
              loss: str = "ce") -> tuple[torch.Tensor, torch.Tensor]:
    """Input gradient of the attack loss for ``target``, and the current predictions."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    loss = attack_loss(logits, target, loss)
    grad, = torch.autograd.grad(loss, x)
    return grad, logits.detach().argmax(1)


def pgd_flips(model: nn.Module, images: torch.Tensor, target: torch.Tensor, eps: torch.Tensor,
              settings: PGDSettings, generator: torch.Generator | None = None,
              loss: str = "ce") -> torch.Tensor:
    """Whether an L∞ PGD attack of radius ``eps`` (one per image) makes the model predict
    anything but ``target``: sign steps of ``step_ratio * eps / steps``, projection onto the
    ε-ball and onto [0, 1]. Returns a bool tensor (N,). The model should be in eval mode."""
    radius = eps.view(-1, 1, 1, 1).to(images)
    alpha = radius * settings.step_ratio / settings.steps
    flipped = torch.zeros(len(images), dtype=torch.bool, device=images.device)
    for restart in range(settings.restarts):
        x = images.clone()
        if restart > 0:   # random start inside the ball, from the seeded generator
            noise = torch.rand(images.shape, generator=generator).to(images) * 2 - 1
            x = (images + noise * radius).clamp(0, 1)
        for _ in range(settings.steps):
            grad, pred = _gradient(model, x, target, loss)
            flipped |= pred != target
            x = x + alpha * grad.sign()
            x = torch.max(torch.min(x, images + radius), images - radius).clamp(0, 1)
        with torch.no_grad():
            flipped |= model(x).argmax(1) != target
    return flipped


def eps_to_flip(model: nn.Module, images: torch.Tensor, settings: PGDSettings,
                generator: torch.Generator | None = None,
                loss: str = "ce") -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the smallest ε found to flip the current prediction (``eps_max`` when none
    does) and whether it flipped at all. Images on the model's device, float in [0, 1].
    ``loss``: the attack's objective (:func:`attack_loss`); the diagnostic uses "ce"."""
    was_training = model.training
    model.eval()
    eps_out, flipped_out = [], []
    try:
        for lo_i in range(0, len(images), settings.batch_size):
            x = images[lo_i:lo_i + settings.batch_size]
            target = predict(model, x).clone()   # clone: an inference tensor cannot enter autograd
            n = len(x)
            hi = torch.full((n,), settings.eps_max, device=x.device)
            ever = pgd_flips(model, x, target, hi, settings, generator, loss)
            # Bisect log ε: lo never flipped, hi flipped (for images that flip at eps_max).
            log_lo = torch.full((n,), math.log(settings.eps_min), device=x.device)
            log_hi = hi.log()
            for _ in range(settings.bisection_steps):
                mid = (log_lo + log_hi) / 2
                now = pgd_flips(model, x, target, mid.exp(), settings, generator, loss)
                log_hi = torch.where(now, mid, log_hi)
                log_lo = torch.where(now, log_lo, mid)
            eps = torch.where(ever, log_hi.exp(), torch.full_like(hi, settings.eps_max))
            eps_out.append(eps)
            flipped_out.append(ever)
    finally:
        model.train(was_training)
    return torch.cat(eps_out), torch.cat(flipped_out)


def summarise(eps: torch.Tensor, flipped: torch.Tensor, prefix: str) -> dict[str, float]:
    """Median, 10/25/75/90% quantiles and the share never flipped within ``eps_max``."""
    eps = eps.double().cpu()
    out = {prefix: float(eps.quantile(0.5))}
    for q in (10, 25, 75, 90):
        out[f"{prefix}_q{q}"] = float(eps.quantile(q / 100))
    out[f"{prefix}_unflipped_share"] = float((~flipped.cpu()).double().mean())
    return out


def sample_positions(n: int, k: int, seed: int) -> torch.Tensor:
    """A fixed, sorted sample of ``k`` of ``n`` positions, from its own seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:min(k, n)].sort().values


def run_pgd(model: nn.Module, splits, ctx, settings: PGDSettings) -> dict[str, float]:
    from bench.supervision import to_float_images
    out: dict[str, float] = {}
    generator = torch.Generator().manual_seed(settings.seed)
    for name in settings.splits:
        split = splits.tests[name]
        index = sample_positions(len(split), settings.sample_per_split, settings.seed)
        images = to_float_images(split.images[index], ctx.device)
        eps, flipped = eps_to_flip(model, images, settings, generator)
        out.update(summarise(eps, flipped, f"eps_to_flip_{name}"))
        out.update(summarise_correct(model, images, split.labels[index], eps, flipped,
                                     f"eps_to_flip_{name}_correct"))
    return out


def summarise_correct(model: nn.Module, images: torch.Tensor, digits: torch.Tensor,
                      eps: torch.Tensor, flipped: torch.Tensor, prefix: str) -> dict[str, float]:
    """:func:`summarise` over the images the model classifies correctly, and their count
    (``<prefix>_n``; no quantiles when there are none)."""
    correct = (predict(model, images) == digits.to(images.device)).cpu()
    out = {f"{prefix}_n": float(correct.sum())}
    if correct.any():
        out.update(summarise(eps.cpu()[correct], flipped.cpu()[correct], prefix))
    return out
