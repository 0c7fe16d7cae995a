import math

import numpy as np
import pytest

from bench.diagnostics.mcmc import effective_sample_size, mcse_mean, split_chains, split_rhat


def ar1(rho: float, chains: int, n: int, seed: int = 0) -> np.ndarray:
    """Stationary AR(1) chains with unit marginal variance: ESS of the mean is known,
    chains * n * (1 - rho) / (1 + rho) for large n."""
    rng = np.random.default_rng(seed)
    out = np.empty((chains, n))
    out[:, 0] = rng.standard_normal(chains)
    noise = rng.standard_normal((chains, n)) * math.sqrt(1 - rho ** 2)
    for t in range(1, n):
        out[:, t] = rho * out[:, t - 1] + noise[:, t]
    return out


def test_split_chains_halves_every_chain_and_drops_an_odd_middle_draw():
    draws = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    assert split_chains(draws).tolist() == [[1, 2], [6, 7], [4, 5], [9, 10]]


def test_split_rhat_by_hand():
    # halves [1,2] [2,3] [3,4] [4,5]: W = 0.5, variance of the means 5/3, n = 2
    rhat = split_rhat(np.array([[1.0, 2, 3, 4], [2, 3, 4, 5]]))
    assert rhat == pytest.approx(math.sqrt((0.5 * 0.5 + 5 / 3) / 0.5))


def test_split_rhat_is_near_one_for_agreeing_chains_and_large_for_drift_or_offsets():
    iid = np.random.default_rng(1).standard_normal((4, 1000))
    assert split_rhat(iid) == pytest.approx(1.0, abs=0.01)
    offset = iid + np.array([[0.0], [0.0], [0.0], [2.0]])       # one chain elsewhere
    assert split_rhat(offset) > 1.1
    drifting = iid[:1] + np.linspace(0, 2, 1000)                # one chain, still climbing
    assert split_rhat(drifting) > 1.1


def test_ess_of_independent_draws_is_their_number():
    iid = np.random.default_rng(2).standard_normal((4, 2000))
    assert effective_sample_size(iid) == pytest.approx(8000, rel=0.1)


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ess_of_ar1_chains_matches_theory(rho):
    draws = ar1(rho, chains=4, n=5000, seed=3)
    theory = 4 * 5000 * (1 - rho) / (1 + rho)
    assert effective_sample_size(draws) == pytest.approx(theory, rel=0.15)


def test_mcse_covers_the_true_mean_at_its_nominal_rate():
    """Over many replications, |mean - 0| < 2 MCSE about 95% of the time (AR(1), rho 0.8)."""
    hits = [abs(d.mean()) < 2 * mcse_mean(d)
            for d in (ar1(0.8, chains=4, n=400, seed=s) for s in range(200))]
    assert 0.90 <= np.mean(hits) <= 0.99


def test_degenerate_inputs():
    assert split_rhat(np.ones((3, 10))) == 1.0
    assert effective_sample_size(np.ones((3, 10))) == 30
    assert mcse_mean(np.ones((3, 10))) == 0.0
    assert math.isnan(split_rhat(np.ones((3, 2))[:, :1]))
    assert math.isnan(effective_sample_size(np.array([[1.0, np.nan, 2, 3, 4, 5, 6, 7]])))
    assert math.isnan(mcse_mean(np.array([[1.0, 2.0]])))
