"""Digit sources: the bundled mnist-5k split, and clear errors for missing or bad MNIST."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
import torch

from bench.datasets.digits import MNIST_FILES, load_digits, load_mnist, mnist_present
from bench.errors import DataError


def _real_mnist_root() -> Path | None:
    for root in (os.environ.get("BENCH_DATA_ROOT"), "/work/shared/data",
                 Path(__file__).resolve().parents[1].parent / "shared" / "data"):
        if root and mnist_present(Path(root)):
            return Path(root)
    return None


def _write_idx(path: Path, dims: tuple[int, ...], body: bytes, magic: int = 0x08) -> None:
    header = bytes([0, 0, magic, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    path.write_bytes(header + body)


def _fake_raw(root: Path) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    return raw


def test_mnist_5k_is_a_stratified_disjoint_4000_1000_split():
    digits = load_digits("mnist-5k")
    assert digits.source == "mnist-5k"
    assert tuple(digits.train.images.shape) == (4000, 28, 28)
    assert tuple(digits.test.images.shape) == (1000, 28, 28)
    assert digits.train.images.dtype == torch.uint8
    assert torch.bincount(digits.train.labels).tolist() == [400] * 10
    assert torch.bincount(digits.test.labels).tolist() == [100] * 10
    train_rows = {bytes(img.flatten().tolist()) for img in digits.train.images}
    assert not any(bytes(img.flatten().tolist()) in train_rows for img in digits.test.images)


def test_mnist_5k_is_deterministic():
    a, b = load_digits("mnist-5k"), load_digits("mnist-5k")
    assert torch.equal(a.test.images, b.test.images)
    assert torch.equal(a.train.labels, b.train.labels)


def test_missing_files_name_the_files_and_the_fix(tmp_path):
    _fake_raw(tmp_path)
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    for name in MNIST_FILES:
        assert name in message
    assert "--data-root" in message and "--source mnist-5k" in message


def test_failed_download_still_names_the_missing_files(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable\n(second line from the library)")
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, download=True)
    assert "train-images-idx3-ubyte" in str(info.value)
    assert "--source mnist-5k" in str(info.value)


def _write_small_set(raw: Path, n_train: int = 60000) -> None:
    _write_idx(raw / "train-images-idx3-ubyte", (n_train, 28, 28), bytes(n_train * 784))
    _write_idx(raw / "train-labels-idx1-ubyte", (n_train,), bytes(n_train))
    _write_idx(raw / "t10k-images-idx3-ubyte", (10000, 28, 28), bytes(10000 * 784))
    _write_idx(raw / "t10k-labels-idx1-ubyte", (10000,), bytes(10000))


def test_truncated_idx_file_is_named(tmp_path):
    raw = _fake_raw(tmp_path)
    _write_small_set(raw)
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])              # cut short mid-download
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, download=False)
    assert str(path) in str(info.value) and "corrupt" in str(info.value)


def test_bad_magic_number_is_named(tmp_path):
    raw = _fake_raw(tmp_path)
    _write_small_set(raw)
    path = raw / "train-labels-idx1-ubyte"
    path.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*corrupt"):
        load_mnist(tmp_path, download=False)


def test_wrong_number_of_images_is_reported(tmp_path):
    raw = _fake_raw(tmp_path)
    _write_small_set(raw, n_train=100)
    with pytest.raises(DataError, match="incomplete"):
        load_mnist(tmp_path, download=False)


def test_gzipped_files_are_unpacked(tmp_path):
    import gzip
    raw = _fake_raw(tmp_path)
    _write_small_set(raw)
    for name in MNIST_FILES:
        path = raw / name
        (raw / (name + ".gz")).write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
        path.unlink()
    digits = load_mnist(tmp_path, download=False)
    assert len(digits.train.labels) == 60000 and len(digits.test.labels) == 10000


@pytest.mark.skipif(_real_mnist_root() is None, reason="no full MNIST copy on this machine")
def test_real_mnist_files_load():
    digits = load_mnist(_real_mnist_root(), download=False)
    assert tuple(digits.train.images.shape) == (60000, 28, 28)
    assert tuple(digits.test.images.shape) == (10000, 28, 28)
    assert torch.bincount(digits.test.labels).sum() == 10000
    assert 0 < digits.train.images.float().mean() < 255


def test_mnist_5k_prefixes_hold_every_digit():
    """The bundled file is sorted by digit; a smoke run's prefix must still see all ten."""
    digits = load_digits("mnist-5k")
    assert torch.bincount(digits.train.labels[:200], minlength=10).min() > 5
    assert torch.bincount(digits.test.labels[:100], minlength=10).min() > 2
