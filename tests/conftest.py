"""Shared fixtures: tiny, offline Colored MNIST built from the bundled 5,000 digits."""
from __future__ import annotations

import gzip
import importlib.util
import shutil
from pathlib import Path
from typing import Callable

import pytest
import torch

from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.datasets.digits import EMBEDDED_ROOT, MNIST_FILES
from bench.method import RunContext
from bench.supervision import SplitView, Supervision

TINY_SPEC = ColoredMNISTSpec(source="mnist-5k", conflict_ratio=0.05, seed=0)

try:   # the fuzz suite (tests/test_fuzz.py); hypothesis comes with the test extra
    from hypothesis import HealthCheck, settings
except ImportError:
    pass
else:
    # CI: a fixed set of examples (derandomized, nothing written to .hypothesis/), seconds per
    # parser. `pytest tests/test_fuzz.py --hypothesis-profile slow` explores many more.
    settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                              database=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("slow", max_examples=1000, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("ci")
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    """A module from ``scripts/`` (not a package: the scripts are run by path)."""
    loaded = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


@pytest.fixture
def splits_touched(monkeypatch) -> list[str]:
    """Names of the splits built or loaded from the cache while the test runs: what a test-free
    job must keep free of test splits."""
    import bench.data as data
    from bench.registry import DATASETS
    touched: list[str] = []
    entry = type(DATASETS.get("colored"))          # every split is built through its entry
    real_build, real_load = entry.build, data._load
    monkeypatch.setattr(entry, "build", lambda self, *a: touched.append(self.name) or
                        real_build(self, *a))
    monkeypatch.setattr(data, "_load", lambda path, name: touched.append(name) or
                        real_load(path, name))
    return touched


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path_factory, monkeypatch):
    """Every test gets its own split cache and results store; nothing touches the user's."""
    cache = tmp_path_factory.getbasetemp() / "split-cache"   # shared by the session: speed
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("BENCH_STORE", str(tmp_path_factory.mktemp("store") / "results.sqlite"))
    monkeypatch.setenv("BENCH_UNSAVED_DIR", str(tmp_path_factory.mktemp("unsaved")))
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)   # the embedded MNIST, or a test's own


def copy_of_mnist(root: Path, edits: dict[str, Callable[[bytearray], bytes | None]] | None = None
                  ) -> Path:
    """A copy of the embedded MNIST under ``root/MNIST/raw`` (torchvision's layout). ``edits``
    maps a file name to a function of its uncompressed bytes: what it returns is written
    uncompressed (fast; the loader prefers it to the .gz), None deletes the file."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        source = EMBEDDED_ROOT / "MNIST" / "raw" / f"{name}.gz"
        if edits and name in edits:
            content = edits[name](bytearray(gzip.decompress(source.read_bytes())))
            if content is not None:
                (raw / name).write_bytes(bytes(content))
        else:
            shutil.copyfile(source, raw / f"{name}.gz")
    return root


@pytest.fixture(scope="session")
def tiny_splits(tmp_path_factory):
    return prepare_splits(TINY_SPEC, cache_dir=tmp_path_factory.mktemp("tiny-cache"))


def make_context(splits, supervision: Supervision = Supervision.NONE, seed: int = 0,
                 limit: int | None = 1200) -> RunContext:
    """A CPU run context over (a prefix of) the tiny splits, as the harness would build it."""
    train = splits.train if limit is None else splits.train.subset(torch.arange(limit))
    device = torch.device("cpu")
    return RunContext(SplitView(train, device, supervision.allows("train"), dataset=splits.info),
                      SplitView(splits.val, device, supervision.allows("val"), dataset=splits.info),
                      device, torch.Generator().manual_seed(seed), supervision,
                      dataset=splits.info)


@pytest.fixture
def tiny_context(tiny_splits):
    return make_context(tiny_splits)


@pytest.fixture
def synthetic_main(monkeypatch):
    """Synthetic leaderboard records (tests/data) carry the alias ``baseline`` as backbone;
    make it the headline protocol's, so their pages do not move when the real alias does."""
    from bench.leaderboard import protocol
    monkeypatch.setitem(protocol.MAIN, "backbone", "baseline")
