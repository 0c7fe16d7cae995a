"""The method contract and the run context a method receives.

A method is one file in ``methods/``: a frozen ``Hparams`` dataclass with the published
defaults, a declared :class:`Supervision`, and ``fit(ctx) -> FitResult``. Methods never pick
devices, seed global RNGs or open files: the :class:`RunContext` hands them a device, a
``torch.Generator`` and the data views their supervision allows.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from bench.backbones import build_backbone
from bench.datasets.interface import DatasetInfo
from bench.selection import Pick, SelectionJudge
from bench.supervision import SplitView, Supervision


@dataclass
class FitResult:
    """``model`` is the selected model (the primary selection rule's pick); ``final_model`` the
    last epoch's, stored as ``final_*`` metrics. ``logs`` are extra numbers the method wants
    stored. ``picks``: every selection rule's choice among the epochs of ``model``'s training
    (``bench.training.train`` fills it; a method that returns another model leaves it empty,
    and its record says that its model is not chosen among epochs). ``curves``: each rule's
    score per epoch."""
    model: nn.Module
    final_model: nn.Module | None = None
    logs: dict[str, float] = field(default_factory=dict)
    picks: dict[str, Pick] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)


class Progress:
    """Progress sink; the CLI replaces it with a rich progress bar."""

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, steps: int) -> None: ...


# epoch_observer(phase, epoch counted from 1, model): called after every epoch of
# ``bench.training.train``, for reporting only (learning curves). It must leave the model and
# the run's generator untouched, so that observing a run does not change it.
EpochObserver = Callable[[str, int, nn.Module], None]


@dataclass
class RunContext:
    train: SplitView
    val: SplitView
    device: torch.device
    generator: torch.Generator
    supervision: Supervision
    backbone: str = "baseline"
    dataset: DatasetInfo | None = None   # None: the train view's (see ``info``)
    progress: Progress = field(default_factory=Progress)
    epoch_observer: EpochObserver | None = None
    train_step: str = "eager"     # bench.training.TRAIN_STEPS: how steps run, not what they do
    # Scores the selection rules after each epoch; built by the harness, which keeps the
    # labels the method may not read inside it. None: validation accuracy or, where the
    # method sees validation bias labels, accuracy on conflicting validation images.
    selection: SelectionJudge | None = None

    @property
    def info(self) -> DatasetInfo:
        """The dataset's declaration: classes, bias attribute, groups."""
        info = self.dataset or self.train.dataset
        if info is None:
            raise ValueError("the run context has no dataset declaration; pass dataset=")
        return info

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    def new_model(self) -> nn.Module:
        """A fresh backbone, initialised from the run's generator without touching (or
        leaving changed) the global torch RNG."""
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_backbone(self.backbone, self.num_classes)
        return model.to(self.device)

    def seed_from_generator(self) -> int:
        return int(torch.randint(0, 2**62, (1,), generator=self.generator))


class Method(ABC):
    """Subclass, set the class attributes, implement ``fit``; register with
    ``@METHODS.register("name")``."""

    Hparams: ClassVar[type]
    supervision: ClassVar[Supervision] = Supervision.NONE
    reference: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    is_reference_model: ClassVar[bool] = False   # e.g. greyscale, group-balanced
    # The hyperparameter ``--epochs`` sets: the method's main training length.
    epochs_field: ClassVar[str] = "epochs"
    # The LLC localises at the reported weights on the training loss, so it is an LLC only
    # where those weights sit at a minimum of that loss. A method whose reported model does not
    # by construction (e.g. a change made after training) says why here; the diagnostic then
    # records the reason instead of a number and pages show `n/a` (docs/diagnostics.md).
    llc_not_defined: ClassVar[str] = ""

    @classmethod
    def llc_training_images(cls, images: torch.Tensor) -> torch.Tensor:
        """The training images (float, in [0, 1]) as the reported model was fitted to them:
        what the LLC diagnostic measures the training loss on. Override when ``fit`` trains
        on a transformed view of the training split."""
        return images

    def __init__(self, hparams: Any = None):
        self.hparams = hparams if hparams is not None else self.Hparams()

    @abstractmethod
    def fit(self, ctx: RunContext) -> FitResult:
        ...

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return dataclasses.asdict(cls.Hparams())


def check_method_class(obj: object) -> None:
    """Raises TypeError unless ``obj`` is a usable Method class: what a plugin's entry point
    must name (a registry skips one that is not, with a warning)."""
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        raise TypeError(f"{obj!r} is not a bench.method.Method subclass")
    if not dataclasses.is_dataclass(getattr(obj, "Hparams", None)):
        raise TypeError(f"{obj.__name__}.Hparams is not a dataclass")
    if not isinstance(obj.supervision, Supervision):
        raise TypeError(f"{obj.__name__}.supervision is not a bench.supervision.Supervision")


def make_method(cls: type[Method], overrides: dict[str, Any] | None = None) -> Method:
    return cls(dataclasses.replace(cls.Hparams(), **(overrides or {})))

