"""Fashion-MNIST as a source, on a tiny generated copy (never the network): where its files
are found, how they are verified, and a run of ``bench run --source fashion-mnist``."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.datasets.fashion_mnist import CLASSES, FASHION_MNIST, FASHION_MNIST_SOURCE
from bench.datasets.idx_files import IdxFile, OfficialFiles
from bench.datasets.sources import load_source, source_classes, verify_source
from bench.errors import DataError
from bench.registry import SOURCES, Registry
from bench.store import Store

SIZES = {"train": 120, "t10k": 40}


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _tiny_contents() -> dict[str, bytes]:
    """A few garment-like images per class: a bright block whose width is the class, on black
    (so a network can learn the classes), with per-image noise."""
    rng = np.random.default_rng(17)
    out = {}
    for prefix, n in SIZES.items():
        labels = np.arange(n) % 10
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 6:22, 4:6 + 2 * label] = 180 + rng.integers(0, 60)
        out[f"{prefix}-images-idx3-ubyte"] = _idx(images)
        out[f"{prefix}-labels-idx1-ubyte"] = _idx(labels)
    return out


def tiny_copy(folder: Path) -> Path:
    """The tiny copy as the four official .gz names in ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in _tiny_contents().items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(content, mtime=0))
    return folder


def tiny_official(fallbacks: tuple[Path, ...] = ()):
    """Fashion-MNIST's source with the tiny copy's checksums standing for the official ones."""
    contents = _tiny_contents()
    files = OfficialFiles(FASHION_MNIST.dataset, FASHION_MNIST.folder, tuple(
        IdxFile(f.name, (SIZES[f.name.split("-")[0]], *f.shape[1:]),
                hashlib.sha256(contents[f.name]).hexdigest(), f.classes)
        for f in FASHION_MNIST.files))
    return dataclasses.replace(FASHION_MNIST_SOURCE, files=files, fallbacks=fallbacks)


def _registry(source) -> Registry:
    sources = Registry("image source")
    sources.add("fashion-mnist", source)
    return sources


def test_declares_the_official_classes_and_files():
    assert source_classes("fashion-mnist") == CLASSES and len(CLASSES) == 10
    assert CLASSES[0] == "T-shirt/top" and CLASSES[9] == "Ankle boot"
    assert [f.shape for f in FASHION_MNIST.files] == [(60000, 28, 28), (60000,),
                                                      (10000, 28, 28), (10000,)]
    assert FASHION_MNIST.folder == "FashionMNIST"   # torchvision's layout
    assert SOURCES.get("fashion-mnist") is FASHION_MNIST_SOURCE
    assert source_classes("fashion-mnist@unofficial-0123456789ab") == CLASSES


@pytest.mark.parametrize("layout", ["FashionMNIST/raw", "."])
def test_a_data_root_in_torchvisions_layout_or_the_folder_itself(tmp_path, layout):
    tiny_copy(tmp_path / layout)
    sources = _registry(tiny_official())
    assert verify_source("fashion-mnist", tmp_path, sources=sources) == "fashion-mnist"
    images = load_source("fashion-mnist", tmp_path, sources=sources)
    assert tuple(images.train.images.shape) == (120, 28, 28)
    assert images.test.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_a_system_copy_is_found_without_a_root(tmp_path):
    """Debian's package installs the four .gz files in one folder; the list of such folders
    is the source's ``fallbacks`` (here a temporary one instead of /usr/share/...)."""
    empty, system = tmp_path / "empty", tiny_copy(tmp_path / "system")
    empty.mkdir()
    sources = _registry(tiny_official(fallbacks=(empty, system)))
    assert verify_source("fashion-mnist", None, sources=sources) == "fashion-mnist"
    assert FASHION_MNIST_SOURCE.fallbacks == (Path("/usr/share/datasets/fashion-mnist"),)


def test_no_copy_anywhere_is_one_line_that_says_what_to_do(tmp_path):
    sources = _registry(tiny_official(fallbacks=(tmp_path,)))
    with pytest.raises(DataError) as info:
        verify_source("fashion-mnist", None, sources=sources)
    message = str(info.value)
    assert "\n" not in message and "--data-root" in message and "dataset-fashion-mnist" in message
    with pytest.raises(DataError, match="holds no Fashion-MNIST"):
        verify_source("fashion-mnist", tmp_path, sources=sources)


def test_a_changed_copy_is_refused_unless_allowed_and_then_recorded_as_unofficial(tmp_path):
    folder = tiny_copy(tmp_path / "FashionMNIST" / "raw")
    content = bytearray(gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes()))
    content[100] ^= 0xFF
    (folder / "t10k-images-idx3-ubyte").write_bytes(bytes(content))   # preferred to the .gz
    sources = _registry(tiny_official())
    with pytest.raises(DataError) as info:
        verify_source("fashion-mnist", tmp_path, sources=sources)
    message = str(info.value)
    assert str(folder / "t10k-images-idx3-ubyte") in message and "\n" not in message
    assert "--allow-unofficial-data" in message
    source = verify_source("fashion-mnist", tmp_path, allow_unofficial=True, sources=sources)
    assert source.startswith("fashion-mnist@unofficial-")
    assert load_source(source, tmp_path, sources=sources).source == source


def test_the_real_checksums_refuse_a_copy_that_is_not_fashion_mnist(tmp_path):
    tiny_copy(tmp_path / "FashionMNIST" / "raw")
    with pytest.raises(DataError, match="is not the official train-images-idx3-ubyte"):
        verify_source("fashion-mnist", tmp_path)


@pytest.mark.skipif(not os.environ.get("BENCH_TEST_FASHION_ROOT"),
                    reason="set BENCH_TEST_FASHION_ROOT to a folder holding FashionMNIST/raw/")
def test_the_official_files_match_the_declared_checksums():
    """With a real copy (e.g. Debian's, or ../shared/data): the declared SHA-256s are those of
    the official files, and the .gz either is the published one or Debian's repack of it."""
    root = Path(os.environ["BENCH_TEST_FASHION_ROOT"])
    images = load_source(verify_source("fashion-mnist", root), root)
    assert images.source == "fashion-mnist"
    assert np.bincount(images.test.labels.numpy()).tolist() == [1000] * 10
    assert np.bincount(images.train.labels.numpy()).tolist() == [6000] * 10


def test_bench_run_on_fashion_mnist_offline(tmp_path, capsys):
    """``bench run --source fashion-mnist --data-root`` end to end on the tiny copy, allowed
    deliberately (its checksums are not the official ones): a completed, stored record."""
    tiny_copy(tmp_path / "data" / "FashionMNIST" / "raw")
    store = tmp_path / "results.sqlite"
    code = main(["run", "--method", "erm", "--seeds", "1", "--images", "fashion-mnist",
                 "--data-root", str(tmp_path / "data"), "--allow-unofficial-data",
                 "--set", "epochs=1", "--device", "cpu", "--store", str(store),
                 "--workers", "1", "--diagnostics", "none", "--no-keep-weights"])
    assert code == 0, capsys.readouterr()
    with Store(store) as db:
        [record] = db.records()
    assert record.status == "completed"
    assert record.spec.data["source"].startswith("fashion-mnist@unofficial-")
    assert "acc_conflicting" in record.metrics


def test_a_fashion_records_key_is_fixed():
    """The lead's leaderboard runs started from this key: a change that moves it (a new data
    field, another default) would orphan them. The backbone is named, not the alias, and no
    diagnostics are in the spec, so only the data and method parts are pinned here."""
    from bench.datasets.colored_mnist import ColoredMNISTSpec
    from bench.harness import make_spec
    spec = make_spec("erm", {}, ColoredMNISTSpec(source="fashion-mnist"),
                     backbone="k3-16-32-16-pool-between")
    assert spec.data["source"] == "fashion-mnist" and spec.dataset == "colored"
    assert spec.hash() == "fc5258e56fd44feb"
