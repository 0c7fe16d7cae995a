"""How much a Markov-chain average can be trusted: split-R-hat, effective sample size, MCSE.

Pure functions of a (chains, draws) array of one scalar quantity, e.g. the per-step LLC of
SGLD chains. The definitions are the ones of Gelman et al., *Bayesian Data Analysis* (3rd ed.,
section 11.4-11.5) as Stan computes them: every chain is split in half, so a chain that
drifts disagrees with itself; the effective sample size sums the chains' combined
autocorrelations in pairs while the pair sums stay positive and decreasing (Geyer's initial
monotone sequence). The Monte Carlo standard error of the mean is sd / sqrt(ESS).
"""
from __future__ import annotations

import math

import numpy as np


def split_chains(draws: np.ndarray) -> np.ndarray:
    """(chains, n) -> (2 * chains, n // 2): first and second half of every chain (an odd
    draw in the middle is dropped)."""
    draws = np.atleast_2d(np.asarray(draws, dtype=np.float64))
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]], axis=0)


def _within_between(chains: np.ndarray) -> tuple[float, float]:
    """W (mean within-chain variance) and B/n (variance of the chain means)."""
    within = float(chains.var(axis=1, ddof=1).mean())
    between = float(chains.mean(axis=1).var(ddof=1)) if len(chains) > 1 else 0.0
    return within, between


def split_rhat(draws: np.ndarray) -> float:
    """Potential scale reduction of split chains; 1 when they agree, above 1 when chains (or
    the halves of a chain) sit at different levels. NaN for fewer than 4 draws per chain;
    1 for constant draws, inf when only the chain means differ."""
    chains = split_chains(draws)
    n = chains.shape[1]
    if n < 2 or not np.all(np.isfinite(chains)):
        return math.nan
    within, between = _within_between(chains)
    if within == 0:
        return 1.0 if between == 0 else math.inf
    var_plus = (n - 1) / n * within + between
    return math.sqrt(var_plus / within)


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Biased (divided by n) autocovariance of one chain at lags 0..n-1, by FFT."""
    n = len(x)
    centred = x - x.mean()
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    return np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / n


def effective_sample_size(draws: np.ndarray) -> float:
    """Multi-chain ESS of the mean (BDA3 eq. 11.8 on split chains). NaN where undefined (too
    few draws, non-finite draws); the total number of draws for constant draws."""
    chains = split_chains(draws)
    m, n = chains.shape
    if n < 4 or not np.all(np.isfinite(chains)):
        return math.nan
    within, between = _within_between(chains)
    var_plus = (n - 1) / n * within + between
    if var_plus == 0:
        return float(m * n)
    acov = np.mean([_autocovariance(c) for c in chains], axis=0)
    rho = 1.0 - (within - acov) / var_plus          # combined autocorrelation, rho[0] = 1
    tau, previous = -1.0, math.inf
    for k in range(0, n - 1, 2):
        pair = rho[k] + rho[k + 1]
        if pair <= 0:
            break
        pair = min(pair, previous)                  # monotone: noise cannot raise the tail
        tau += 2.0 * pair
        previous = pair
    return float(m * n / max(tau, 1.0 / math.log10(m * n)))


def mcse_mean(draws: np.ndarray) -> float:
    """Monte Carlo standard error of the mean of all draws: sd / sqrt(ESS)."""
    flat = np.asarray(draws, dtype=np.float64).ravel()
    ess = effective_sample_size(draws)
    if not math.isfinite(ess) or ess <= 0:
        return math.nan
    return float(flat.std(ddof=1) / math.sqrt(ess))
