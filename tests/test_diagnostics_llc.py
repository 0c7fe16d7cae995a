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
    return model, ctx.train.images[:SMALL.subset], ctx.train.labels[:SMALL.subset]


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
    assert set(first) == {"llc", "llc_std", "llc_converged", "llc_mcse", "llc_rhat", "llc_ess"}
    assert all(math.isfinite(first[k]) for k in ("llc", "llc_std", "llc_mcse", "llc_rhat"))
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


def test_batches_are_those_of_a_shuffled_dataloader():
    """The batched loader changes the speed, not the numbers: records made with
    ``DataLoader(TensorDataset(...), shuffle=True)`` are reproduced batch for batch."""
    from devinterp.utils import cycle
    from torch.utils.data import DataLoader, TensorDataset

    from bench.diagnostics.llc import batch_loader
    x, y = torch.randn(100, 3), torch.arange(100)
    ours = cycle(batch_loader(x, y, 16, seed=4))
    theirs = cycle(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, drop_last=True,
                              generator=torch.Generator().manual_seed(4)))
    for _ in range(20):      # three passes and more: reshuffled alike
        (xa, ya), (xb, yb) = next(ours), next(theirs)
        assert torch.equal(ya, yb) and torch.equal(xa, xb)


def test_pass_means_average_whole_passes_and_keep_short_traces():
    from bench.diagnostics.llc import pass_means
    trace = np.arange(2 * 40, dtype=float).reshape(2, 40)
    assert pass_means(trace, 4).tolist()[0][:2] == [1.5, 5.5]
    assert pass_means(trace, 4).shape == (2, 10)
    assert pass_means(trace, 8) is trace            # 5 blocks per chain: too few


def test_mcse_and_rhat_summarise_the_chains():
    from bench.diagnostics.llc import summarize_llc
    rng = np.random.default_rng(0)
    settings = LLCSettings(nbeta=10.0, chains=4, draws=400)
    stationary = 0.5 + 0.1 * rng.standard_normal((4, 400))
    out = summarize_llc(stationary, 0.3, settings)
    assert out["llc"] == pytest.approx(10 * (stationary.mean() - 0.3))
    assert out["llc_mcse"] == pytest.approx(1.0 / math.sqrt(1600), rel=0.15)   # iid draws
    assert out["llc_rhat"] < 1.01 and out["llc_ess"] == pytest.approx(1600, rel=0.3)
    apart = stationary + np.array([[0.0], [0.0], [0.0], [0.3]])
    assert summarize_llc(apart, 0.3, settings)["llc_rhat"] > 1.1


def test_a_perfect_fit_is_measured_from_a_zero_loss():
    """devinterp would recompute a falsy init loss from a few batches; ours is used as is."""
    from torch import nn
    model = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(model.weight)
    x, y = torch.randn(64, 2), torch.zeros(64, 1)
    settings = LLCSettings(subset=64, batch_size=64, nbeta=100.0, chains=2, draws=20, burnin=0)
    out = estimate_llc(model, x, y, settings, torch.device("cpu"),
                       loss=lambda m, b: ((m(b[0]) - b[1]) ** 2).mean())
    assert math.isfinite(out["llc"]) and out["llc"] > 0


def test_noise_aware_convergence_forgives_noise_not_drift():
    from bench.diagnostics.llc import converged_noise_aware
    rng = np.random.default_rng(1)
    settings = LLCSettings(nbeta=10.0, convergence="noise-aware")
    noisy = 0.7 + 1.0 * rng.standard_normal((4, 200))      # halves differ by noise only
    assert not converged(noisy, 0.4, 10, 0.2, 10)            # the old test fails it...
    assert converged_noise_aware(noisy, 0.4, settings)       # ...the noise-aware one does not
    drifting = 0.5 + 0.02 * rng.standard_normal((4, 200)) + np.linspace(0, 0.5, 200)
    assert not converged_noise_aware(drifting, 0.4, settings)
    apart = 0.5 + 0.02 * rng.standard_normal((4, 200)) + np.array([[0.0], [0.0], [0.0], [0.3]])
    assert not converged_noise_aware(apart, 0.4, settings)  # split-R-hat
    assert not converged_noise_aware(np.full((2, 10), np.nan), 0.4, settings)


def test_the_convergence_setting_leaves_existing_spec_hashes_alone():
    """A field added later is left out of a spec at its old value, and a spec without it
    (every stored one) runs the old test."""
    from bench.diagnostics import changed_settings, diagnostic_settings, settings_from_spec
    plain = diagnostic_settings(("llc",))
    assert "convergence" not in plain["llc"]
    assert settings_from_spec({"diagnostics": plain})["llc"].convergence == "halves"
    aware = diagnostic_settings(("llc",), {"llc": {"convergence": "noise-aware"}})
    assert aware["llc"]["convergence"] == "noise-aware"
    assert settings_from_spec({"diagnostics": aware})["llc"].convergence == "noise-aware"
    assert changed_settings(aware) == [("llc", "convergence", "noise-aware")]
    assert changed_settings(plain) == []


def test_fewer_examples_than_a_batch_still_sample(trained):
    """A subset smaller than the batch used to give devinterp an empty loader to cycle
    forever; the batch shrinks to the subset instead."""
    model, x, y = trained
    settings = LLCSettings(subset=40, batch_size=256, chains=1, draws=4, burnin=0)
    out = estimate_llc(model, x[:40], y[:40], settings, torch.device("cpu"))
    assert math.isfinite(out["llc"])
    with pytest.raises(ValueError, match="at least 2"):
        estimate_llc(model, x[:1], y[:1], settings, torch.device("cpu"))


def test_images_as_fitted_is_each_methods_declared_view():
    from bench.diagnostics import NotApplicable, method_class
    from bench.diagnostics.llc import images_as_fitted
    from bench.methods.greyscale import decolorize
    images = torch.rand(4, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    assert images_as_fitted(None, images) is images
    assert torch.equal(images_as_fitted(method_class("erm"), images), images)
    assert torch.equal(images_as_fitted(method_class("greyscale"), images), decolorize(images))
    with pytest.raises(NotApplicable, match="unit mask"):
        images_as_fitted(method_class("ablate-texture"), images)
    with pytest.raises(NotApplicable, match="min-max game"):    # a penalised objective
        images_as_fitted(method_class("color-kl"), images)
    for reweighted in ("jtt", "groupdro", "lff", "dfr", "group-balanced", "llc-guard"):
        # fitted to a cross-entropy (reweighted or refitted): measured, with §3c's caveat
        assert torch.equal(images_as_fitted(method_class(reweighted), images), images)
