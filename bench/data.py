"""Builds, caches and loads all splits of one data spec, through the registry entries of its
datasets (``DATASETS``): this module names no dataset family.

The cache is keyed by the layout version, the spec hash and the fingerprint of the digit
files' contents, so splits built from one copy of the digits are never served for another
(the files are verified on every call; within one process that is a memory lookup). Files
are written atomically: an interrupted write never leaves a half file.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.errors import DataError
from bench.registry import DATASETS
from bench.datasets.digits import DigitSet, load_digits
from bench.datasets.interface import DataSpec, DatasetInfo, Split
from bench.record import RunSpec


# Bumped whenever the images a spec stands for change (v2: mnist-5k digits shuffled once,
# train/val cached already split; v3: folders keyed by the digit files' fingerprint too),
# so an old cache is never read as the new data.
CACHE_LAYOUT = "v3"


def default_cache_dir() -> Path:
    env = os.environ.get("BENCH_CACHE_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "lazy-artist-bench" / "splits"


def test_dataset_names() -> list[str]:
    return [n for n, b in DATASETS.items() if b.role == "test"]


@dataclass
class Splits:
    """``train`` and ``val`` (from the training dataset) plus every test dataset by name, and
    the dataset's declaration (classes, bias attribute, split roles)."""
    train: Split
    val: Split
    tests: dict[str, Split]
    seconds: float = 0.0
    cache_hit: bool = False
    info: DatasetInfo | None = None

    def all(self) -> dict[str, Split]:
        return {"train": self.train, "val": self.val, **self.tests}


def data_spec_of(spec: RunSpec, seed: int = 0) -> DataSpec:
    """The data spec of a run spec at ``seed``, built by its training dataset's family."""
    return DATASETS.get(spec.dataset).data_spec(spec.data, seed)


def new_data_spec(dataset: str = "colored", seed: int = 0, **fields) -> DataSpec:
    """A data spec of training dataset ``dataset`` from fields (the family's defaults else)."""
    return DATASETS.get(dataset).data_spec(fields, seed)


def info_of(spec: RunSpec) -> DatasetInfo:
    """The declaration of the dataset a run spec trains and tests on (its classes, bias
    attribute and splits), from the spec's data fields and training dataset."""
    return DATASETS.get(spec.dataset).info(data_spec_of(spec))


def cache_folder(cache_dir: Path | None, spec: DataSpec, digits: DigitSet) -> Path:
    return (Path(cache_dir or default_cache_dir()) / CACHE_LAYOUT
            / f"{spec.hash()}-{digits.fingerprint[:16]}")


def _save(split: Split, path: Path) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    # the file's keys keep their first names, so caches written before the rename still load
    torch.save({"images": split.images, "digits": split.labels, "colors": split.bias}, tmp)
    os.replace(tmp, path)


def _load(path: Path, name: str) -> Split:
    try:
        blob = torch.load(path, weights_only=True)
        return Split(name, blob["images"], blob["digits"], blob["colors"])
    except Exception:
        return None  # a corrupt cache entry is rebuilt, never trusted


def prepare_splits(spec: DataSpec, train_dataset: str = "colored",
                   data_root: Path | None = None, cache_dir: Path | None = None,
                   use_cache: bool = True, test_names: tuple[str, ...] | None = None) -> Splits:
    """All splits of ``spec``. ``test_names``: which test datasets to build or load (default
    all registered); ``()`` gives train and val alone, for work that must never see a test
    split (backbone calibration)."""
    start = time.perf_counter()
    training = DATASETS.get(train_dataset)
    info = training.info(spec)                 # a test dataset to train on is an error here
    if info.splits.validation != "carved":
        raise DataError(f"dataset {info.name!r} declares a given validation split; this "
                        f"builder only carves validation out of the training data")
    # Read and verified before any cache lookup: the cache is keyed by what the files hold.
    digits: DigitSet = load_digits(spec.source, data_root)
    folder = cache_folder(cache_dir, spec, digits)
    # train and val are cached already carved out: a cache hit copies no images.
    files = {"train": f"{train_dataset}-train", "val": f"{train_dataset}-val",
             **{name: name for name in (test_dataset_names() if test_names is None
                                        else test_names)}}
    loaded: dict[str, Split] = {}
    if use_cache:
        for name, stem in files.items():
            path = folder / f"{stem}.pt"
            split = _load(path, name) if path.exists() else None
            if split is not None:
                loaded[name] = split
    hit = len(loaded) == len(files)
    if not hit:
        built: dict[str, Split] = {}
        if "train" not in loaded or "val" not in loaded:
            built["train"], built["val"] = training.carve(training.build(digits.train, spec),
                                                          spec)
        for name in files:
            if name not in loaded and name not in built:
                built[name] = DATASETS.get(name).build(digits.test, spec)
        loaded.update(built)
        if use_cache:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                for name, split in built.items():
                    _save(split, folder / f"{files[name]}.pt")
            except OSError:
                pass  # an unwritable cache only costs speed
    train, val = loaded["train"], loaded["val"]
    tests = {n: loaded[n] for n in files if n not in ("train", "val")}
    return Splits(train, val, tests, time.perf_counter() - start, hit, info)
