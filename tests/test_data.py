"""prepare_splits: the disk cache by spec hash."""
from __future__ import annotations

import pytest
import torch

from bench.data import CACHE_LAYOUT, prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.errors import DataError

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
    assert sorted(p.name for p in (tmp_path / CACHE_LAYOUT / SPEC.hash()).iterdir()) == [
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
    path = tmp_path / CACHE_LAYOUT / SPEC.hash() / victim
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
