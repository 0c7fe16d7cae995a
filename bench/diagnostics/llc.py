"""Local Learning Coefficient (Lau et al. 2023) with devinterp's SGLD sampler.

LLC = nβ · (mean SGLD loss − loss at the trained weights), sampled near the trained weights
(the localisation term pulls each chain back). Larger means the model uses more effective
parameters at that point. The estimate is only meaningful if the chains settled, so we store a
convergence flag from the loss traces beside it and never a silent NaN.
"""
from __future__ import annotations

import logging
import math
import random
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench.hparams import hparam

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLCSettings:
    """Defaults calibrated on BaselineNet trained on full Colored MNIST (erm and jtt, seed 0;
    docs/diagnostics.md gives the traces): a fixed 4,096-image subset of the training split in
    batches of 256; nβ = 256 / ln 256 ≈ 46 (devinterp's default, the batch's Watanabe
    temperature); SGLD step 1e-3 with localisation 100, for which the LLC estimate plateaus
    within ~50 steps (at step 1e-4 it was still rising after 400); 3 chains of 50 burn-in steps
    and 80 draws, 390 gradient steps in all (3 x (60 + 100) gave erm 3.57/3.61 for two SGLD
    seeds, 3 x (40 + 80) 3.25/3.42: a burn-in under ~50 steps starts to bias it low). Convergence: traces finite, no chain's loss
    above ``explode_factor`` × the initial loss, and the LLC of the second half of the draws
    (pooled over chains, as reported) within ``tolerance`` (relative, absolute floor 1) of the
    first half's: a trace still climbing or sinking fails."""
    subset: int = hparam(4096, low=1)
    batch_size: int = hparam(256, low=2)     # >= 2: the default nbeta divides by ln(batch)
    lr: float = hparam(1e-3, low=0, low_open=True)
    localization: float = hparam(100.0, low=0)
    nbeta: float | None = hparam(None, low=0, low_open=True)  # None: batch_size / ln(batch_size)
    chains: int = hparam(3, low=1)
    draws: int = hparam(80, low=2)           # >= 2: convergence compares two halves
    burnin: int = hparam(50, low=0)
    tolerance: float = hparam(0.2, low=0, low_open=True)
    explode_factor: float = hparam(10.0, low=1, low_open=True)
    seed: int = 0

    def resolved_nbeta(self) -> float:
        return self.nbeta if self.nbeta is not None else self.batch_size / math.log(self.batch_size)


def converged(losses: np.ndarray, init_loss: float, nbeta: float, tolerance: float,
              explode_factor: float) -> bool:
    """Convergence of SGLD loss traces (chains, draws) started at ``init_loss``."""
    if losses.size == 0 or not np.all(np.isfinite(losses)) or not math.isfinite(init_loss):
        return False
    if np.any(losses > explode_factor * max(init_loss, 1e-3) + 1.0):
        return False
    half = losses.shape[1] // 2
    if half == 0:
        return False
    first = nbeta * (losses[:, :half].mean() - init_loss)
    second = nbeta * (losses[:, half:].mean() - init_loss)
    return bool(abs(second - first) <= tolerance * max(abs(second), 1.0))


def _cross_entropy(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y)


def sample_llc(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               settings: LLCSettings, device: torch.device) -> tuple[dict, float]:
    """devinterp's SGLD summary (per-chain LLCs, ``loss/trace`` of the draws) and the exact loss
    at the trained weights. Global RNG states (torch, numpy, random) are restored afterwards:
    devinterp seeds torch's per chain."""
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary
    loader_rng = torch.Generator().manual_seed(settings.seed)
    loader = DataLoader(TensorDataset(images, labels), batch_size=settings.batch_size,
                        shuffle=True, generator=loader_rng, drop_last=True)
    was_training = model.training
    init_loss = _full_loss(model, loader)   # exact, instead of devinterp's few-batch estimate
    np_state, py_state = np.random.get_state(), random.getstate()
    cuda = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(settings.seed)
            result = estimate_learning_coeff_with_summary(
                model, loader, evaluate=_cross_entropy,
                optimizer_kwargs=dict(lr=settings.lr, localization=settings.localization,
                                      nbeta=settings.resolved_nbeta()),
                num_chains=settings.chains, num_draws=settings.draws,
                num_burnin_steps=settings.burnin, init_loss=init_loss, seed=settings.seed,
                device=device, verbose=False)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        model.train(was_training)
    return result, init_loss


def estimate_llc(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 settings: LLCSettings, device: torch.device) -> dict[str, float]:
    """``llc``, ``llc_std`` over chains and ``llc_converged`` (1/0)."""
    nbeta = settings.resolved_nbeta()
    result, init_loss = sample_llc(model, images, labels, settings, device)
    losses = np.asarray(result["loss/trace"], dtype=np.float64)
    per_chain = np.array([result[f"llc-chain/{i}"] for i in range(settings.chains)])
    ok = converged(losses, init_loss, nbeta, settings.tolerance, settings.explode_factor)
    llc = float(per_chain.mean())
    std = float(per_chain.std(ddof=1)) if len(per_chain) > 1 else 0.0
    if not ok:
        log.warning("LLC chains did not converge (llc=%.3g, per chain %s); stored with "
                    "llc_converged=0", llc, np.round(per_chain, 3).tolist())
    return {"llc": llc, "llc_std": std, "llc_converged": float(ok)}


@torch.no_grad()
def _full_loss(model: nn.Module, loader: DataLoader) -> float:
    """Mean cross-entropy of the trained weights over the loader's batches."""
    total = [_cross_entropy(model, batch).item() for batch in loader]
    return float(np.mean(total)) if total else float("nan")


def run_llc(model: nn.Module, splits, ctx, settings: LLCSettings) -> dict[str, float]:
    from bench.diagnostics.pgd import sample_positions
    index = sample_positions(len(ctx.train), settings.subset, settings.seed).to(ctx.device)
    return estimate_llc(model, ctx.train.images[index], ctx.train.digits[index], settings,
                        ctx.device)
