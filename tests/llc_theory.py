"""Learning coefficients known in closed form: the answers the LLC estimator is tested against.

- A regular model near a non-degenerate minimum: λ = d/2. For a quadratic loss the localised,
  tempered posterior that SGLD samples is Gaussian, so the expected estimate is exact at any
  nβ and localisation γ: each Hessian eigenvalue h adds ½ · nβh / (nβh + γ). SGLD's Euler
  step ε inflates every direction's variance by 1 / (1 − ε a / 4), a = nβh + γ.
- A deep linear network x -> W_L ... W_1 x whose true map has rank r: Aoyagi's formula
  (M. Aoyagi, "Consideration on the learning efficiency of multiple-layered neural networks
  with linear units", Neural Networks 2024; restated in Lau et al. 2023, "The local learning
  coefficient", appendix on deep linear networks). With two layers it is Aoyagi & Watanabe's
  (2005) reduced-rank regression, whose four cases the tests check it against.
"""
from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import numpy as np


def regular_llc(curvatures, nbeta: float, localization: float, step: float = 0.0) -> float:
    """E[nβ (L − L0)] under SGLD on L0 + ½ δᵀHδ, given H's eigenvalues (``curvatures``)."""
    h = np.asarray(curvatures, dtype=np.float64)
    a = nbeta * h + localization
    return float(np.sum(0.5 * nbeta * h / a / (1 - step * a / 4)))


def _aoyagi_subset(m: list[int]) -> list[int]:
    """The set S of Aoyagi's theorem: the ℓ+1 smallest M's (ℓ >= 1) with max(S) < min(rest),
    sum(S) >= ℓ max(S) and sum(S) < ℓ min(rest)."""
    order = sorted(m)
    for size in range(2, len(order) + 1):
        chosen, rest, ell = order[:size], order[size:], size - 1
        if rest and not max(chosen) < min(rest):
            continue
        if sum(chosen) >= ell * max(chosen) and (not rest or sum(chosen) < ell * min(rest)):
            return chosen
    raise ValueError(f"no subset satisfies Aoyagi's conditions for {m}")


def aoyagi_dln(widths: list[int], rank: int = 0) -> tuple[float, bool]:
    """(λ, whether its multiplicity is 1) of a deep linear network with layer widths
    ``widths`` (input first, output last) at a true map of rank ``rank``. The multiplicity is
    1 exactly when a = ℓ below; an estimate at finite nβ converges to λ like 1 / log nβ
    otherwise, so the tests use networks where it is 1."""
    m = [w - rank for w in widths]
    chosen = _aoyagi_subset(m)
    ell = len(chosen) - 1
    total = sum(chosen)
    ceil = math.ceil(Fraction(total, ell))
    a = total - (ceil - 1) * ell
    value = (Fraction(-rank * rank + rank * (widths[0] + widths[-1]), 2)
             + Fraction(a * (ell - a), 4 * ell)
             - Fraction(ell * (ell - 1), 4) * Fraction(total, ell) ** 2
             + Fraction(sum(x * y for x, y in combinations(chosen, 2)), 2))
    return float(value), a == ell
