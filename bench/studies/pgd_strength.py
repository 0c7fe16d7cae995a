"""Attack-strength check for ε-to-flip: how much lower a stronger attack finds ε, and whether
the ordering of models survives.

ε-to-flip bisects the radius of a 10-step PGD (:mod:`bench.diagnostics.pgd`): each ε it reports
is an upper bound, as tight as the attack is strong. Here the same sampled test images are
attacked by the default and by stronger attacks (more steps, random restarts, a margin loss),
each bisected the same way, and per (model, split, population) we report the median ε, the
median per-image ratio strong / default, and whether the models' order by median changes.
Used by ``scripts/attack_strength.py``; the measured result is in docs/diagnostics.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from bench.diagnostics.pgd import PGDSettings, eps_to_flip, sample_positions
from bench.evaluate import predict
from bench.supervision import to_float_images


@dataclass(frozen=True)
class Attack:
    name: str
    settings: PGDSettings
    loss: str = "ce"


def attacks(base: PGDSettings = PGDSettings(), steps: int = 100,
            restarts: int = 5) -> list[Attack]:
    """The default attack first (the reference), then stronger ones."""
    more = dataclasses.replace(base, steps=steps)
    restarted = dataclasses.replace(more, restarts=restarts)
    return [Attack(f"default ({base.steps} steps, CE)", base),
            Attack(f"{steps} steps, CE", more),
            Attack(f"{steps} steps x {restarts} starts, CE", restarted),
            Attack(f"{steps} steps x {restarts} starts, margin", restarted, "margin")]


@dataclass
class Measured:
    """Per image of one (model, split): ε under each attack, and whether the model is right."""
    eps: dict[str, torch.Tensor]
    correct: torch.Tensor


def measure(model: nn.Module, images: torch.Tensor, digits: torch.Tensor,
            chosen: list[Attack], seed: int = 0) -> Measured:
    model = model.eval()
    out = {}
    for attack in chosen:
        generator = torch.Generator().manual_seed(seed)   # the same random starts per attack
        eps, _ = eps_to_flip(model, images, attack.settings, generator, attack.loss)
        out[attack.name] = eps.cpu()
    correct = (predict(model, images) == digits.to(images.device)).cpu()
    return Measured(out, correct)


def sampled_images(split, count: int, seed: int, device: torch.device):
    """The diagnostic's own sample: the same positions, the same images."""
    index = sample_positions(len(split), count, seed)
    return to_float_images(split.images[index], device), split.labels[index]


def summary_rows(results: dict[str, dict[str, Measured]], chosen: list[Attack]) -> list[dict]:
    """One row per (split, population, attack, model): median ε, median ratio to the default
    attack, share of images whose ε the attack lowered by more than 5% (the bisection's
    precision), and n."""
    reference = chosen[0].name
    rows = []
    for model_name, by_split in results.items():
        for split, measured in by_split.items():
            for population in ("all", "correct"):
                keep = (measured.correct if population == "correct"
                        else torch.ones_like(measured.correct))
                if not keep.any():
                    continue
                base = measured.eps[reference][keep].double()
                for attack in chosen:
                    eps = measured.eps[attack.name][keep].double()
                    ratio = eps / base
                    rows.append({"model": model_name, "split": split, "population": population,
                                 "attack": attack.name, "n": int(keep.sum()),
                                 "median_eps": float(eps.median()),
                                 "median_ratio": float(ratio.median()),
                                 "lowered_share": float((ratio < 0.95).double().mean())})
    return rows


def ranking_holds(rows: list[dict], reference: str) -> list[dict]:
    """Per (split, population, attack): the models ordered by median ε, and whether that is
    the reference attack's order."""
    orders: dict[tuple, list[str]] = {}
    for key in dict.fromkeys((r["split"], r["population"], r["attack"]) for r in rows):
        members = [r for r in rows if (r["split"], r["population"], r["attack"]) == key]
        orders[key] = [r["model"] for r in sorted(members, key=lambda r: r["median_eps"])]
    out = []
    for (split, population, attack), order in orders.items():
        base = orders.get((split, population, reference), order)
        comparable = [m for m in order if m in base]
        out.append({"split": split, "population": population, "attack": attack,
                    "order (lowest ε first)": " < ".join(order),
                    "same as default": [m for m in base if m in comparable] == comparable})
    return out
