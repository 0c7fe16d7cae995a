"""prepare_splits: the disk cache by spec hash and digit-file fingerprint."""
from __future__ import annotations

import pytest
import torch

from bench.data import cache_folder, prepare_splits
from bench.datasets import digits as digits_module
from bench.datasets.colored_mnist import ColoredMNISTSpec, build_split
from bench.datasets.digits import load_digits, resolve_source
from bench.errors import DataError
from tests.conftest import copy_of_mnist

SPEC = ColoredMNISTSpec(source="mnist-5k", seed=11)


def _assert_same(a, b):
    assert a.all().keys() == b.all().keys()
    for name, split in a.all().items():
        other = b.all()[name]
        assert split.name == other.name
        for field in ("images", "digits", "colors"):
            assert torch.equal(getattr(split, field), getattr(other, field)), (name, field)


def test_second_call_hits_the_cache_with_identical_tensors(tmp_path):
    first = prepare_splits(SPEC, cache_dir=tmp_path)
    second = prepare_splits(SPEC, cache_dir=tmp_path)
    assert not first.cache_hit and second.cache_hit
    _assert_same(first, second)
    folder = cache_folder(tmp_path, SPEC, load_digits(SPEC.source))
    assert sorted(p.name for p in folder.iterdir()) == [
        "aligned.pt", "colored-train.pt", "colored-val.pt", "conflicting.pt", "cycled.pt",
        "greyscale.pt"]


def test_cache_and_fresh_build_agree(tmp_path):
    cached = prepare_splits(SPEC, cache_dir=tmp_path)
    fresh = prepare_splits(SPEC, cache_dir=tmp_path, use_cache=False)
    assert not fresh.cache_hit
    _assert_same(cached, fresh)


@pytest.mark.parametrize("victim", ["conflicting.pt", "colored-val.pt"])
def test_corrupt_cache_file_is_rebuilt(tmp_path, victim):
    good = prepare_splits(SPEC, cache_dir=tmp_path)
    path = cache_folder(tmp_path, SPEC, load_digits(SPEC.source)) / victim
    path.write_bytes(b"not a tensor file")
    rebuilt = prepare_splits(SPEC, cache_dir=tmp_path)
    assert not rebuilt.cache_hit
    _assert_same(good, rebuilt)
    assert prepare_splits(SPEC, cache_dir=tmp_path).cache_hit   # and written back


def test_unwritable_cache_only_costs_speed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    splits = prepare_splits(SPEC, cache_dir=blocker)
    assert not splits.cache_hit and len(splits.train) > 0


def test_splits_expose_every_test_dataset(tmp_path):
    splits = prepare_splits(SPEC, cache_dir=tmp_path)
    assert set(splits.tests) == {"aligned", "conflicting", "cycled", "greyscale"}
    assert splits.train.images.dtype == torch.uint8
    assert tuple(splits.train.images.shape[1:]) == (3, 28, 28)


def test_a_test_dataset_cannot_be_the_training_set(tmp_path):
    with pytest.raises(DataError, match="test dataset"):
        prepare_splits(SPEC, "conflicting", cache_dir=tmp_path)


def test_the_same_spec_over_other_digit_files_is_rebuilt_not_served(tmp_path, monkeypatch):
    """The cache key holds the files' fingerprint: same spec, other bytes, other entry."""
    first = prepare_splits(SPEC, cache_dir=tmp_path)
    images, labels, digest = digits_module._read_mnist_5k()
    changed = images.copy()
    changed[:, 300:400] = 255 - changed[:, 300:400]   # every image, the middle rows inverted
    monkeypatch.setattr(digits_module, "_read_mnist_5k", lambda: (changed, labels, "other"))
    second = prepare_splits(SPEC, cache_dir=tmp_path)
    assert not second.cache_hit
    assert not torch.equal(first.tests["aligned"].images, second.tests["aligned"].images)
    _assert_same(second, prepare_splits(SPEC, cache_dir=tmp_path, use_cache=False))


def test_splits_of_a_corrupted_copy_are_never_served_for_a_good_one(tmp_path):
    """The issue's sequence on full MNIST: a run on a copy with flipped test pixels (allowed
    deliberately), then a run on a good copy with the same settings."""
    def flip_test_pixels(content: bytearray) -> bytes:
        content[16:16 + 784 * 2000] = bytes(255 - b for b in content[16:16 + 784 * 2000])
        return content
    bad, good = copy_of_mnist(tmp_path / "bad", {"t10k-images-idx3-ubyte": flip_test_pixels}), \
        copy_of_mnist(tmp_path / "good")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is not the official"):
        prepare_splits(ColoredMNISTSpec(), data_root=bad, cache_dir=cache)
    bad_source = resolve_source("mnist", bad, allow_unofficial=True)
    corrupted = prepare_splits(ColoredMNISTSpec(source=bad_source), data_root=bad,
                               cache_dir=cache)
    served = prepare_splits(ColoredMNISTSpec(), data_root=good, cache_dir=cache)
    assert not served.cache_hit
    expected = build_split("aligned", load_digits("mnist").test, ColoredMNISTSpec())
    assert torch.equal(served.tests["aligned"].images, expected.images)
    assert not torch.equal(served.tests["aligned"].images, corrupted.tests["aligned"].images)
