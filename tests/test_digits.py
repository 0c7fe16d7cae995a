"""Digit sources: the embedded MNIST, verified copies under a data root, and mnist-5k."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import warnings

import pytest
import torch

from bench.datasets.digits import (EMBEDDED_ROOT, MNIST, MNIST_FILES, MNIST_SOURCE, load_digits,
                                   load_mnist, resolve_source)
from bench.errors import DataError
from bench.registry import SOURCES, Registry
from tests.conftest import copy_of_mnist


def _flip_pixels(content: bytearray) -> bytes:
    content[16 + 784 * 5: 16 + 784 * 6] = bytes(255 - b for b in content[16 + 784 * 5: 16 + 784 * 6])
    return content


def _labels_ff(content: bytearray) -> bytes:
    content[8:] = b"\xff" * (len(content) - 8)
    return content


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


def test_embedded_files_are_the_official_ones():
    """The shipped .gz files match torchvision's published MD5s, and the SHA-256 checksums the
    loader verifies are those of their contents: both tie the constants to the official files."""
    from torchvision.datasets import MNIST as TorchvisionMNIST
    raw = EMBEDDED_ROOT / "MNIST" / "raw"
    for name, md5 in TorchvisionMNIST.resources:
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5, name
    for f in MNIST.files:
        content = gzip.decompress((raw / f"{f.name}.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == f.sha256, f.name


def test_full_mnist_loads_offline_from_the_embedded_copy():
    digits = load_digits("mnist")
    assert digits.source == "mnist" and digits.fingerprint == MNIST.fingerprint()
    assert tuple(digits.train.images.shape) == (60000, 28, 28)
    assert tuple(digits.test.images.shape) == (10000, 28, 28)
    assert torch.bincount(digits.test.labels).tolist()[:2] == [980, 1135]
    assert resolve_source("auto", None) == "mnist"


def test_an_official_copy_under_a_data_root_is_the_same_source(tmp_path):
    copy_of_mnist(tmp_path)
    assert load_mnist(tmp_path).fingerprint == MNIST.fingerprint()
    assert load_mnist(tmp_path / "MNIST" / "raw").source == "mnist"   # the folder itself


@pytest.mark.parametrize("edits, culprit", [
    ({"train-images-idx3-ubyte": _flip_pixels}, "train-images-idx3-ubyte"),
    ({"t10k-labels-idx1-ubyte": _labels_ff}, "t10k-labels-idx1-ubyte"),
    ({"t10k-images-idx3-ubyte": lambda c: c[:-1000]}, "t10k-images-idx3-ubyte"),
])
def test_a_copy_that_is_not_official_is_refused_naming_the_file(tmp_path, edits, culprit):
    copy_of_mnist(tmp_path, edits)
    with pytest.raises(DataError) as info:
        resolve_source("mnist", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw" / culprit) in message
    assert "expected" in message and "--allow-unofficial-data" in message


def test_a_truncated_gz_with_no_uncompressed_file_is_named(tmp_path):
    copy_of_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50000])
    with pytest.raises(DataError, match="not a complete gzip file") as info:
        resolve_source("mnist", tmp_path, allow_unofficial=True)
    assert str(path) in str(info.value)


def test_wrong_labels_in_a_deliberate_copy_are_named(tmp_path):
    copy_of_mnist(tmp_path, {"train-labels-idx1-ubyte": _labels_ff})
    with pytest.raises(DataError, match="holds label 255") as info:
        resolve_source("mnist", tmp_path, allow_unofficial=True)
    assert str(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte") in str(info.value)


def test_images_and_labels_of_different_lengths_are_named(tmp_path):
    def drop_last_label(content: bytearray) -> bytes:
        return content[:4] + (59999).to_bytes(4, "big") + content[8:-1]
    copy_of_mnist(tmp_path, {"train-labels-idx1-ubyte": drop_last_label})
    with pytest.raises(DataError, match="60000 images but train-labels-idx1-ubyte 59999"):
        resolve_source("mnist", tmp_path, allow_unofficial=True)


def test_a_deliberate_copy_is_recorded_as_unofficial_and_only_that_copy_serves_it(tmp_path):
    copy_of_mnist(tmp_path / "a", {"train-images-idx3-ubyte": _flip_pixels})
    source = resolve_source("mnist", tmp_path / "a", allow_unofficial=True)
    assert source.startswith("mnist@unofficial-") and len(source) == len("mnist@unofficial-") + 12
    digits = load_digits(source, tmp_path / "a")
    assert digits.source == source and digits.fingerprint != MNIST.fingerprint()
    assert digits.fingerprint.startswith(source.rsplit("-", 1)[1])
    with pytest.raises(DataError, match="is not the copy this run was made with"):
        load_digits(source, None)                       # the embedded (official) copy
    assert resolve_source("mnist", None, allow_unofficial=True) == "mnist"


def test_a_missing_file_is_named(tmp_path):
    copy_of_mnist(tmp_path, {"t10k-labels-idx1-ubyte": lambda c: None})
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte"):
        resolve_source("mnist", tmp_path)


@pytest.mark.parametrize("source", ["mnist", "auto"])
def test_a_data_root_without_mnist_is_an_error_and_nothing_is_created_there(tmp_path, source):
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(DataError, match=f"--data-root {empty} holds no MNIST"):
        resolve_source(source, empty)
    assert list(empty.iterdir()) == []
    with pytest.raises(DataError, match="no such folder"):
        resolve_source(source, tmp_path / "dat")
    assert not (tmp_path / "dat").exists()


def test_the_environment_root_is_as_explicit_as_the_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA_ROOT", str(tmp_path))
    with pytest.raises(DataError, match=r"\$BENCH_DATA_ROOT=.* holds no MNIST"):
        resolve_source("auto", None)


def test_auto_falls_back_in_one_line_only_without_a_root_and_an_embedded_copy(tmp_path):
    # A registry whose MNIST has no embedded copy (its fallback folder is empty).
    sources = Registry("digit source")
    sources.add("mnist", dataclasses.replace(MNIST_SOURCE, fallbacks=(tmp_path,)))
    sources.add("mnist-5k", SOURCES.get("mnist-5k"))
    with pytest.warns(UserWarning) as caught:
        assert resolve_source("auto", None, sources=sources) == "mnist-5k"
    [warning] = caught
    assert "\n" not in str(warning.message) and "mnist-5k" in str(warning.message)
    with pytest.raises(DataError, match="no MNIST is embedded"):
        resolve_source("mnist", None, sources=sources)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_source("mnist-5k", None, sources=sources) == "mnist-5k"


def test_mnist_5k_prefixes_hold_every_digit():
    """The bundled file is sorted by digit; a smoke run's prefix must still see all ten."""
    digits = load_digits("mnist-5k")
    assert torch.bincount(digits.train.labels[:200], minlength=10).min() > 5
    assert torch.bincount(digits.test.labels[:100], minlength=10).min() > 2
