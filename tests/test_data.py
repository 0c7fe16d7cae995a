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
        for field in ("images", "labels", "bias"):
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


# SHA-256 over every split's images, labels and colours (in split order) as the code before the
# dataset interface built them (commit bfb2e7e, /tmp script hashing prepare_splits(spec,
# use_cache=False)); the interface must not change a byte of any image.
BEFORE_THE_INTERFACE = {
    ColoredMNISTSpec(source="mnist-5k", conflict_ratio=0.05, seed=0):
        "311e91ef337ca75a1a6d41227fafcec07d9774a8ecebc531b56c4890cd1905cb",
    ColoredMNISTSpec(source="mnist-5k", conflict_ratio=0.1, mode="foreground", jitter=0.1, seed=3):
        "363d7e6689abd1231ebd8088ffe7b48eee53c92b42528c1985de21daee5947d1",
}


def _digest(splits) -> str:
    import hashlib
    digest = hashlib.sha256()
    for name, split in splits.all().items():
        for tensor in (split.images, split.labels, split.bias):
            digest.update(name.encode())
            digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("spec", list(BEFORE_THE_INTERFACE), ids=lambda s: s.hash())
def test_the_dataset_interface_kept_every_image_byte_identical(spec):
    assert _digest(prepare_splits(spec, use_cache=False)) == BEFORE_THE_INTERFACE[spec]


def test_every_committed_record_keeps_its_key():
    """Each committed record's key is the hash of its stored spec, and reading its data fields
    through the dataset's spec class (as every run, sweep and page does) and back gives the
    same key: the dataset interface moved no record."""
    import dataclasses
    from pathlib import Path
    from bench.data import info_of
    from bench.leaderboard.sources import read_records_dir
    records = read_records_dir(Path(__file__).parents[1] / "leaderboards" / "records")
    assert len(records) >= 50   # the committed leaderboards hold ~100
    for record in records:
        spec = record.spec
        assert spec.key(record.seed) == record.key
        data = ColoredMNISTSpec(**{**spec.data, "seed": record.seed}).to_dict()
        rebuilt = dataclasses.replace(spec, data={k: v for k, v in data.items() if k != "seed"})
        assert rebuilt.key(record.seed) == record.key, record.key
        assert info_of(spec).splits.headline == "conflicting"
