"""A label-free bias proxy for the ``pseudo-group`` selection rule.

uLA (Tsirigotis et al. 2023) selects models by balanced accuracy over (class, bias proxy
prediction) groups, where the proxy is a model that reads the bias and was trained without
bias labels. Ours is the cheapest model that reads the colour on these datasets: the run's
backbone trained by plain ERM with the seed's optimiser (SGD, lr 0.1, batch 16) for one pass
over the first 4,096 training images (256 steps), with digit labels only; a protocol preset
may give its own (``lff-cmnist``: one epoch of its ERM, Adam lr 1e-3, batch 256, on which SGD
does not train its MLP at all; docs/protocols.md). On Colored MNIST
the colour is the first thing ERM learns (docs/methods-two-stage.md: JTT's identification
model reads it after one epoch), so its predictions on validation images approximate "the
class this image's colour stands for". How well it does is measured, not assumed: the harness
stores its agreement with the true bias on validation (``bias_proxy_agreement``), which no
rule reads.

It never sees a bias label: its context holds the training and validation views without them
(``Supervision.NONE``). It draws from its own generator, seeded from the run's seed, so it
leaves the method's random stream (and therefore the method's results) untouched.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from bench.datasets.interface import Split
from bench.datasets.interface import DatasetInfo
from bench.evaluate import predict
from bench.method import Progress, RunContext
from bench.supervision import SplitView, Supervision


@dataclass(frozen=True)
class BiasProxySettings:
    epochs: int = 1
    batch_size: int = 16
    lr: float = 0.1
    subset: int = 4096        # the first training images it sees (a few seconds on a CPU)
    optimizer: str = "sgd"


def proxy_seed(seed: int) -> int:
    """The proxy's generator seed: derived from the run's seed, apart from the method's."""
    return int(hashlib.sha256(f"bias-proxy/{seed}".encode()).hexdigest()[:15], 16)


def proxy_predictions(train: Split, val_images: torch.Tensor, info: DatasetInfo, backbone: str,
                      seed: int, device: torch.device,
                      settings: BiasProxySettings = BiasProxySettings(),
                      train_images: torch.Tensor | None = None,
                      progress: Progress | None = None) -> torch.Tensor:
    """The proxy's predicted class for every validation image (on ``device``)."""
    from bench.training import SGDConfig, train as train_loop
    keep = min(settings.subset, len(train))
    first = train.subset(torch.arange(keep))
    images = None if train_images is None else train_images[:keep]
    train_view = SplitView(first, device, bias_visible=False, images=images, dataset=info)
    val_view = SplitView(Split("val", torch.empty(0), torch.empty(0, dtype=torch.long),
                               torch.empty(0, dtype=torch.long)), device, bias_visible=False,
                         images=val_images[:0], dataset=info)
    ctx = RunContext(train_view, val_view, device, torch.Generator().manual_seed(proxy_seed(seed)),
                     Supervision.NONE, backbone, info, progress=progress or Progress())
    cfg = SGDConfig(settings.epochs, settings.batch_size, settings.lr,
                    optimizer=settings.optimizer)
    model = train_loop(ctx.new_model(), ctx, cfg, select=False, phase="bias proxy").model
    return predict(model, val_images)
