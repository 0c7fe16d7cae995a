"""The LLC estimator (``bench.diagnostics.llc.estimate_llc``, the code every run uses) against
models whose learning coefficient is known in closed form (``tests/llc_theory.py``).

Tolerance: an estimate recovers λ when it lies within 10% of it and its Monte Carlo standard
error is under 4% of λ (so that a pass is not luck). The SGLD settings are the suite's
defaults scaled to each model: the step so that ε·(nβh + γ) is about 0.1 on the stiffest
direction, nβ and γ as stated per test. The last tests break the estimator on purpose (nβ
off by 10x, in the sampler or in the formula) and check that the same criterion rejects it.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import bench.diagnostics.llc as llc
from bench.diagnostics.llc import LLCSettings, estimate_llc
from tests.llc_theory import aoyagi_dln, regular_llc

CPU = torch.device("cpu")
REL_TOL, MCSE_TOL = 0.10, 0.04
DEFAULT_NBETA = LLCSettings().resolved_nbeta()     # 256 / ln 256, the suite's default


def recovers(estimate: dict, truth: float) -> bool:
    return (abs(estimate["llc"] - truth) <= REL_TOL * truth
            and estimate["llc_mcse"] <= MCSE_TOL * truth)


def squared_error(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return ((model(x) - y) ** 2).sum(dim=1).mean()


# --- the closed forms themselves -------------------------------------------------------------

def reduced_rank_regression(m: int, h: int, n: int) -> float:
    """Aoyagi & Watanabe (2005), true rank 0: input m, hidden h, output n."""
    if m + h < n:
        return m * h / 2
    if n + h < m:
        return h * n / 2
    if m + n < h:
        return m * n / 2
    return (2 * m * n + 2 * h * n + 2 * m * h - m * m - n * n - h * h + (m + h + n) % 2) / 8


@pytest.mark.parametrize("m,h,n", [(5, 3, 5), (5, 4, 5), (4, 3, 8), (8, 3, 4), (3, 8, 4),
                                   (2, 3, 3), (3, 4, 5), (1, 1, 1)])
def test_aoyagi_formula_reduces_to_reduced_rank_regression(m, h, n):
    assert aoyagi_dln([m, h, n])[0] == pytest.approx(reduced_rank_regression(m, h, n))


def test_aoyagi_formula_by_hand():
    # 3-3-3-3: S = all four, ell 3, sum 12, a = 3: -3*2/4*16 + (6 pairs * 9)/2 = 3
    assert aoyagi_dln([3, 3, 3, 3]) == (3.0, True)
    # a rank-1 teacher of a 3-4-5 network: M = 2, 3, 4 -> 1 * (3 + 5) - 1)/2 + rrr(2, 3, 4)
    assert aoyagi_dln([3, 4, 5], rank=1)[0] == pytest.approx(3.5 + reduced_rank_regression(2, 3, 4))
    assert aoyagi_dln([3, 3, 3]) == (3.5, False)             # odd case: multiplicity 2


def test_regular_llc_limits():
    assert regular_llc([2.0] * 6, nbeta=1e9, localization=1.0) == pytest.approx(3.0)
    assert regular_llc([2.0] * 6, nbeta=50, localization=100) == pytest.approx(1.5)


# --- the estimator on known models -----------------------------------------------------------

def least_squares(d: int = 20, n: int = 1024, seed: int = 0):
    """A linear regression at its exact least-squares fit, with an orthonormal design
    (XᵀX = n I), so every direction has the same curvature h = 2 and the chains mix evenly."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g))
    x = q * math.sqrt(n)
    y = x @ torch.randn(d, 1, generator=g) + 0.5 * torch.randn(n, 1, generator=g)
    model = nn.Linear(d, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T)
    return model, x, y


def regular_settings(localization: float, nbeta: float = DEFAULT_NBETA) -> LLCSettings:
    stiffest = nbeta * 2.0 + localization
    return LLCSettings(subset=1024, batch_size=256, nbeta=nbeta, localization=localization,
                       lr=0.1 / stiffest, chains=4, burnin=200, draws=1000)


def test_regular_model_recovers_half_its_dimension():
    model, x, y = least_squares()
    settings = regular_settings(localization=1.0)
    estimate = estimate_llc(model, x, y, settings, CPU, loss=squared_error)
    assert recovers(estimate, truth=10.0), estimate
    exact = regular_llc([2.0] * 20, settings.resolved_nbeta(), 1.0, settings.lr)
    assert estimate["llc"] == pytest.approx(exact, rel=REL_TOL)


def test_default_localisation_shrinks_a_regular_model_as_theory_says():
    """With the default γ = 100 at nβ ≈ 46, directions of curvature h ~ 2 are held as much by
    the leash as by the loss: the estimate is half of d/2, exactly as the Gaussian predicts."""
    model, x, y = least_squares()
    settings = regular_settings(localization=LLCSettings().localization)
    estimate = estimate_llc(model, x, y, settings, CPU, loss=squared_error)
    exact = regular_llc([2.0] * 20, settings.resolved_nbeta(), settings.localization,
                        settings.lr)
    assert exact < 0.55 * 10.0
    assert recovers(estimate, truth=exact), (estimate, exact)


class DeepLinear(nn.Module):
    """x -> W_L ... W_1 x, at the origin: the true map of rank 0, whose learning coefficient
    at w = 0 is Aoyagi's (the loss is homogeneous in w, so the origin is its deepest point)."""

    def __init__(self, widths: list[int]):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(a, b, bias=False)
                                      for a, b in zip(widths, widths[1:])])
        for layer in self.layers:
            nn.init.zeros_(layer.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def deep_linear_estimate(widths, nbeta, localization, lr, draws, burnin=500, n=64):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, widths[0], generator=g), torch.zeros(n, widths[-1])
    settings = LLCSettings(subset=n, batch_size=n, nbeta=nbeta, localization=localization,
                           lr=lr, chains=4, burnin=burnin, draws=draws)
    return estimate_llc(DeepLinear(widths), x, y, settings, CPU, loss=squared_error)


def test_deep_linear_network_recovers_aoyagis_coefficient():
    truth, simple = aoyagi_dln([2, 3, 3])
    assert (truth, simple) == (2.5, True)
    estimate = deep_linear_estimate([2, 3, 3], nbeta=1000.0, localization=10.0, lr=1e-3,
                                    draws=1000)
    assert recovers(estimate, truth), estimate


@pytest.mark.slow
@pytest.mark.parametrize("widths,localization,lr", [([3, 4, 5], 10.0, 3e-4),
                                                    ([3, 3, 3, 3], 1.0, 1e-4)])
def test_deeper_and_wider_linear_networks(widths, localization, lr):
    truth, simple = aoyagi_dln(widths)
    assert simple
    estimate = deep_linear_estimate(widths, nbeta=1000.0, localization=localization, lr=lr,
                                    draws=6000, burnin=2000)
    assert recovers(estimate, truth), (estimate, truth)


@pytest.mark.slow
def test_softmax_regression_through_the_default_cross_entropy():
    """The loss every run uses. Softmax regression with K classes and d inputs (bias
    included) is regular up to its shift symmetry: λ = (K − 1)(d + 1) / 2 = 10 here."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1024, 9, generator=g)
    y = torch.multinomial(F.softmax(x @ (0.3 * torch.randn(3, 9, generator=g)).T, 1), 1,
                          generator=g).squeeze(1)
    model = nn.Linear(9, 3)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=500, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss
    for _ in range(5):
        opt.step(closure)
    settings = LLCSettings(subset=1024, batch_size=256, nbeta=1024 / math.log(1024),
                           localization=1.0, lr=4e-3, chains=4, burnin=1000, draws=3000)
    assert recovers(estimate_llc(model, x, y, settings, CPU), truth=10.0)


# --- a broken estimator must fail the same check ---------------------------------------------

def test_nbeta_off_by_ten_in_the_sampler_is_caught(monkeypatch):
    import devinterp.slt.sampler as sampler
    real = sampler.estimate_learning_coeff_with_summary

    def hotter(*args, optimizer_kwargs, **kwargs):
        return real(*args, optimizer_kwargs={**optimizer_kwargs,
                                             "nbeta": 10 * optimizer_kwargs["nbeta"]}, **kwargs)
    monkeypatch.setattr(sampler, "estimate_learning_coeff_with_summary", hotter)
    model, x, y = least_squares()
    settings = regular_settings(localization=1.0, nbeta=DEFAULT_NBETA)
    settings = LLCSettings(**{**settings.__dict__, "lr": settings.lr / 10})  # stays stable
    estimate = estimate_llc(model, x, y, settings, CPU, loss=squared_error)
    assert not recovers(estimate, truth=10.0)
    assert estimate["llc"] < 2.0                   # about d/20


def test_nbeta_off_by_ten_in_the_formula_is_caught(monkeypatch):
    real = llc.llc_trace
    monkeypatch.setattr(llc, "llc_trace", lambda losses, init, nbeta: real(losses, init,
                                                                           10 * nbeta))
    model, x, y = least_squares()
    estimate = estimate_llc(model, x, y, regular_settings(localization=1.0), CPU,
                            loss=squared_error)
    assert not recovers(estimate, truth=10.0)
    assert estimate["llc"] > 50.0                  # about 10 d/2
