import logging
import math
import random

import numpy as np
import pytest
import torch

from bench.diagnostics.llc import LLCSettings, converged, estimate_llc
from bench.method import make_method
from bench.methods.erm import ERM
from tests.conftest import make_context

SMALL = LLCSettings(subset=256, batch_size=64, chains=2, draws=16, burnin=4)


@pytest.fixture(scope="module")
def trained(tiny_splits):
    ctx = make_context(tiny_splits, limit=1000)
    model = make_method(ERM, {"epochs": 1, "batch_size": 32}).fit(ctx).model
    return model, ctx.train.images[:SMALL.subset], ctx.train.digits[:SMALL.subset]


def test_convergence_criterion_hand_cases():
    flat = np.full((2, 40), 0.5) + np.linspace(0, 1e-3, 40)
    assert converged(flat, 0.4, nbeta=10, tolerance=0.2, explode_factor=10)
    assert not converged(np.where(np.arange(40) == 30, np.nan, flat), 0.4, 10, 0.2, 10)
    assert not converged(np.where(np.arange(40) == 30, 50.0, flat), 0.4, 10, 0.2, 10)
    drifting = np.tile(np.linspace(0.5, 3.0, 40), (2, 1))   # still climbing at the end
    assert not converged(drifting, 0.4, nbeta=10, tolerance=0.2, explode_factor=10)
    # Stationary but noisy chains (SGLD's normal state) pass: the halves are pooled over chains.
    noisy = 0.5 + 0.05 * np.random.default_rng(0).standard_normal((3, 100))
    assert converged(noisy, 0.4, nbeta=10, tolerance=0.2, explode_factor=10)


def test_estimate_is_finite_reproducible_and_leaves_global_rngs_alone(trained):
    model, x, y = trained
    torch.manual_seed(123), np.random.seed(5), random.seed(7)
    states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    weights = [p.detach().clone() for p in model.parameters()]
    first = estimate_llc(model, x, y, SMALL, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    assert set(first) == {"llc", "llc_std", "llc_converged"}
    assert math.isfinite(first["llc"]) and math.isfinite(first["llc_std"])
    assert first["llc_converged"] in (0.0, 1.0)
    assert estimate_llc(model, x, y, SMALL, torch.device("cpu")) == first


def test_diverging_chains_are_flagged_and_logged(trained, caplog):
    model, x, y = trained
    wild = LLCSettings(subset=256, batch_size=64, chains=2, draws=16, burnin=0, lr=5.0,
                       localization=0.0)
    with caplog.at_level(logging.WARNING, logger="bench.diagnostics.llc"):
        out = estimate_llc(model, x, y, wild, torch.device("cpu"))
    assert out["llc_converged"] == 0.0
    assert "did not converge" in caplog.text
