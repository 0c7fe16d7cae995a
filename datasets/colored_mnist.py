"""Colored MNIST: the "lazy artist" benchmark.

One frozen :class:`ColoredMNISTSpec` (palette, conflict ratio, colouring mode, seed, ...)
is hashed and shared by every split. Registered datasets (role ``train`` or ``test``):

``colored``      training digits; with probability 1 - r an image wears its digit's colour,
                 otherwise a uniformly random one (so the aligned share is 1 - r + r/10).
                 Split into ``train`` and a held-out ``val`` with the same bias.
``colored-exact`` training digits as LfF builds them (``make_attr_labels``): in each class
                 exactly round(n (1 - r)) images wear its colour and the rest are shared
                 evenly over the nine other colours; which images, drawn at random.
``aligned``      test digits in their own colour.
``conflicting``  test digits in one of the nine other colours, uniformly; never their own.
``cycled``       digit d wears the colour of (d + 1) mod 10.
``greyscale``    no colour: three equal channels (colour index -1).

Colouring modes: ``background`` (the seed's images: white strokes over a per-pixel uniform
noise texture times the colour) and ``foreground`` (coloured strokes on black, the colour
jittered per image with Gaussian noise of std ``jitter``, as in LfF / Learning Not to Learn).
Generation is vectorised and deterministic per spec; images are quantised to uint8 so that a
fresh generation and a cache hit are bit-identical.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from bench.canonical import short_hash
from bench.registry import DATASETS
from bench.datasets.interface import BiasAttribute, DatasetInfo, Split, SplitRoles
from bench.datasets.sources import Digits, source_classes

# Ten well-separated colours (Sasha Trubetskoy's distinct palette), index = digit.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190),
)
# Trubetskoy's names for them, in the same order: the bias attribute's value names.
COLOR_NAMES = ("red", "green", "yellow", "blue", "orange", "purple", "cyan", "magenta", "lime",
               "pink")
MODES = ("background", "foreground")
HEADLINE_SPLIT = "conflicting"   # where shape and colour disagree: what the suite ranks on


@dataclass(frozen=True)
class ColoredMNISTSpec:
    source: str = "mnist"
    conflict_ratio: float = 0.05
    mode: str = "background"
    jitter: float = 0.0
    val_fraction: float = 0.1
    seed: int = 0
    palette: tuple[tuple[int, int, int], ...] = field(default=PALETTE)

    def __post_init__(self):
        from bench.errors import ConfigError
        if not 0.0 <= self.conflict_ratio <= 1.0:
            raise ConfigError(f"conflict ratio must be in [0, 1], got {self.conflict_ratio}")
        if self.mode not in MODES:
            raise ConfigError(f"colouring mode must be one of {MODES}, got {self.mode!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val fraction must be in (0, 1), got {self.val_fraction}")
        if len(self.palette) != 10:
            raise ConfigError("the palette needs exactly 10 colours")
        object.__setattr__(self, "palette", tuple(tuple(int(v) for v in c) for c in self.palette))

    def to_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        return short_hash(self.to_dict())


@dataclass(frozen=True)
class DatasetBuilder:
    """A registered dataset of the Colored MNIST family, and everything the rest of the suite
    needs of it: its spec class, its split builder, the carving of validation out of training
    data, and its declaration (:class:`DatasetInfo`). The harness, the data cache, the grid and
    the leaderboard reach the family only through such an entry (``DATASETS.get(name)``)."""
    name: str
    role: str  # "train" (built from training images) or "test" (from test images)
    choose_colors: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
    spec_class: type = ColoredMNISTSpec

    def data_spec(self, fields: dict, seed: int = 0) -> ColoredMNISTSpec:
        """The family's spec from stored (or given) fields, at ``seed``."""
        return self.spec_class(**{**fields, "seed": seed})

    def build(self, images: Digits, data: ColoredMNISTSpec) -> Split:
        return build_split(self.name, images, data)

    def carve(self, split: Split, data: ColoredMNISTSpec) -> tuple[Split, Split]:
        return split_train_val(split, data)

    def info(self, data: ColoredMNISTSpec) -> DatasetInfo:
        return dataset_info(data, self.name)


PAINT_CHUNK = 1024  # images per block: float buffers stay in cache and are reused


def paint(grey: torch.Tensor, colors: torch.Tensor, spec: ColoredMNISTSpec,
          generator: torch.Generator) -> torch.Tensor:
    """Colours uint8 grey digits (N, 28, 28) by colour index; returns uint8 (N, 3, 28, 28).

    Background: ``x + (1 - x) * noise * rgb``; foreground: ``x * rgb``; no colour: ``x``;
    with ``x`` and ``rgb`` in [0, 1], then ``round(255 * value)``. Computed in blocks, one
    channel at a time, into reused buffers: the same float operations in the same order as
    the whole-tensor formula (so identical bytes), about 4x less CPU on full MNIST.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small blocks: thread hand-offs cost more than they save
    try:
        return _paint_blocks(grey, colors, spec, generator)
    finally:
        torch.set_num_threads(threads)


def _paint_blocks(grey: torch.Tensor, colors: torch.Tensor, spec: ColoredMNISTSpec,
                  generator: torch.Generator) -> torch.Tensor:
    n = len(grey)
    palette = torch.tensor(spec.palette, dtype=torch.float32) / 255
    rgb = palette[colors.clamp(min=0)]
    noise = None
    if spec.mode == "background":
        noise = torch.rand(grey.shape, generator=generator)
    elif spec.jitter > 0:
        rgb = (rgb + spec.jitter * torch.randn(rgb.shape, generator=generator)).clamp_(0, 1)
    out = torch.empty((n, 3, *grey.shape[1:]), dtype=torch.uint8)
    x = torch.empty((min(n, PAINT_CHUNK), *grey.shape[1:]))
    shade, channel = torch.empty_like(x), torch.empty_like(x)
    for lo in range(0, n, PAINT_CHUNK):
        hi = min(n, lo + PAINT_CHUNK)
        xs, ts, cs = x[:hi - lo], shade[:hi - lo], channel[:hi - lo]
        xs.copy_(grey[lo:hi]).div_(255)
        if noise is not None:
            ts.fill_(1).sub_(xs).mul_(noise[lo:hi])   # (1 - x) * noise
        for c in range(3):
            weight = rgb[lo:hi, c, None, None]
            if noise is not None:
                torch.mul(ts, weight, out=cs).add_(xs)
            else:
                torch.mul(xs, weight, out=cs)
            out[lo:hi, c].copy_(cs.mul_(255).round_())
    uncoloured = torch.nonzero(colors < 0).flatten()
    if len(uncoloured):
        grey_only = grey[uncoloured].float().div_(255).mul_(255).round_().to(torch.uint8)
        out[uncoloured] = grey_only.unsqueeze(1).expand(-1, 3, -1, -1)
    return out


def _biased(digits: torch.Tensor, r: float, g: torch.Generator) -> torch.Tensor:
    random = torch.randint(0, 10, digits.shape, generator=g)
    flip = torch.rand(digits.shape, generator=g) < r
    return torch.where(flip, random, digits)


def register(name: str, role: str):
    """Registers a dataset of this family under ``name``: ``fn(labels, r, generator)`` gives
    each image's colour index (-1 for none); role ``train`` or ``test`` (docs/datasets.md)."""
    def decorate(fn):
        DATASETS.add(name, DatasetBuilder(name, role, fn))
        return fn
    return decorate


@register("colored", "train")
def _colored(digits, r, g):
    return _biased(digits, r, g)


def exact_color_counts(n: int, own: int, colours: int, r: float) -> torch.Tensor:
    """How many of a class's ``n`` images wear each colour: a share 1 - r its own colour
    ``own``, r / (colours - 1) each other one, rounded as LfF rounds them (cumulative shares in
    colour order, each rounded; alinlab/LfF make_dataset.py:25-39), so the counts sum to n."""
    shares = torch.full((colours,), r / (colours - 1), dtype=torch.float64)
    shares[own] = 1 - r
    milestones = torch.round(n * torch.cumsum(shares, 0))
    return torch.diff(milestones, prepend=torch.zeros(1, dtype=torch.float64)).long()


@register("colored-exact", "train")
def _colored_exact(digits, r, g):
    colours = int(digits.max()) + 1 if len(digits) else 0
    out = torch.empty_like(digits)
    for c in range(colours):
        members = torch.nonzero(digits == c).flatten()
        members = members[torch.randperm(len(members), generator=g)]
        counts = exact_color_counts(len(members), c, colours, r)
        out[members] = torch.repeat_interleave(torch.arange(colours), counts)
    return out


@register("aligned", "test")
def _aligned(digits, r, g):
    return digits.clone()


@register("conflicting", "test")
def _conflicting(digits, r, g):
    return (digits + torch.randint(1, 10, digits.shape, generator=g)) % 10


@register("cycled", "test")
def _cycled(digits, r, g):
    return (digits + 1) % 10


@register("greyscale", "test")
def _greyscale(digits, r, g):
    return torch.full_like(digits, -1)


def build_split(name: str, digits: Digits, spec: ColoredMNISTSpec) -> Split:
    """Builds one dataset deterministically from the spec (its seed and the dataset name)."""
    builder: DatasetBuilder = DATASETS.get(name)
    # One generator per dataset, seeded from spec and name: adding a dataset never changes
    # the images of another.
    seed = int(hashlib.sha256(f"{spec.hash()}/{name}".encode()).hexdigest()[:15], 16)
    g = torch.Generator().manual_seed(seed)
    colors = builder.choose_colors(digits.labels, spec.conflict_ratio, g)
    return Split(name, paint(digits.images, colors, spec, g), digits.labels.clone(), colors)


def split_train_val(colored: Split, spec: ColoredMNISTSpec) -> tuple[Split, Split]:
    """Carves the validation split out of the training data (same bias, never test data)."""
    g = torch.Generator().manual_seed(spec.seed)
    order = torch.randperm(len(colored), generator=g)
    n_val = int(round(len(colored) * spec.val_fraction))
    in_val = torch.zeros(len(colored), dtype=torch.bool)
    in_val[order[:n_val]] = True   # a mask keeps both index lists sorted without sorting
    return (colored.subset(torch.nonzero(~in_val).flatten(), "train"),
            colored.subset(torch.nonzero(in_val).flatten(), "val"))


def dataset_info(data: ColoredMNISTSpec, train_dataset: str = "colored") -> DatasetInfo:
    """The declaration of a coloured dataset: the source's classes, the colour as bias
    attribute (colour k is class k's in training), the registered test splits, and a
    validation split carved out of the training data."""
    builder: DatasetBuilder = DATASETS.get(train_dataset)
    if builder.role != "train":
        from bench.errors import DataError
        raise DataError(f"dataset {train_dataset!r} is a test dataset; train on one of "
                        f"{[n for n, b in DATASETS.items() if b.role == 'train']}")
    classes = source_classes(data.source)
    if len(classes) != len(data.palette):
        from bench.errors import ConfigError
        raise ConfigError(f"source {data.source!r} has {len(classes)} classes but the palette "
                          f"{len(data.palette)} colours; colour k belongs to class k")
    names = COLOR_NAMES if data.palette == PALETTE else tuple(
        "#%02x%02x%02x" % rgb for rgb in data.palette)
    tests = tuple(n for n, b in DATASETS.items() if b.role == "test")
    base = data.source.partition("@")[0]
    return DatasetInfo(f"colored-{base}", classes, BiasAttribute(f"{data.mode} colour", names),
                       SplitRoles("train", "val", tests, HEADLINE_SPLIT, "carved"),
                       aligned_bias=tuple(range(len(classes))))
