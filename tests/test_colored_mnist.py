"""Colored MNIST invariants, measured on the bundled 5,000 digits."""
from __future__ import annotations

import math

import pytest
import torch

from bench.datasets.colored_mnist import (PALETTE, ColoredMNISTSpec, build_split, dataset_info, paint,
                                          split_train_val)
from bench.datasets.digits import load_digits
from bench.errors import ConfigError


@pytest.fixture(scope="module")
def digits():
    return load_digits("mnist-5k")


def _binomial_band(p: float, n: int, sigmas: float = 4.0) -> float:
    return sigmas * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("ratio", [0.05, 0.3])
def test_training_aligned_share_is_one_minus_r_plus_r_over_ten(digits, ratio):
    spec = ColoredMNISTSpec(source="mnist-5k", conflict_ratio=ratio)
    train, val = split_train_val(build_split("colored", digits.train, spec), spec)
    expected = 1 - ratio + ratio / 10
    for split in (train, val):
        share = (split.bias == split.labels).float().mean().item()
        assert abs(share - expected) <= _binomial_band(expected, len(split)), (split.name, share)


def test_train_and_val_partition_the_training_digits(digits):
    spec = ColoredMNISTSpec(source="mnist-5k")
    train, val = split_train_val(build_split("colored", digits.train, spec), spec)
    assert len(train) + len(val) == len(digits.train.labels)
    assert len(val) == round(0.1 * len(digits.train.labels))


def test_aligned_wears_its_own_colour(digits):
    spec = ColoredMNISTSpec(source="mnist-5k")
    split = build_split("aligned", digits.test, spec)
    assert torch.equal(split.bias, split.labels)
    assert torch.equal(dataset_info(spec).group_ids(split.labels, split.bias), split.labels * 11)


def test_conflicting_never_wears_its_own_colour_and_uses_all_nine_others(digits):
    split = build_split("conflicting", digits.test, ColoredMNISTSpec(source="mnist-5k"))
    assert not (split.bias == split.labels).any()
    assert ((split.bias >= 0) & (split.bias <= 9)).all()
    offsets = torch.bincount((split.bias - split.labels) % 10, minlength=10)
    assert offsets[0] == 0 and (offsets[1:] > 0).all()
    # uniform over the nine: each offset near n/9
    n = len(split)
    assert (offsets[1:].float() - n / 9).abs().max() <= 4 * math.sqrt(n / 9)


def test_cycled_maps_digit_d_to_colour_d_plus_one(digits):
    split = build_split("cycled", digits.test, ColoredMNISTSpec(source="mnist-5k"))
    assert torch.equal(split.bias, (split.labels + 1) % 10)


def test_greyscale_has_three_equal_channels_and_no_colour(digits):
    spec = ColoredMNISTSpec(source="mnist-5k")
    split = build_split("greyscale", digits.test, spec)
    assert (split.bias == -1).all()
    assert (dataset_info(spec).group_ids(split.labels, split.bias) == -1).all()
    assert torch.equal(split.images[:, 0], split.images[:, 1])
    assert torch.equal(split.images[:, 1], split.images[:, 2])
    assert torch.equal(split.images[:, 0], digits.test.images)


def test_background_mode_keeps_strokes_white_and_tints_the_background(digits):
    split = build_split("aligned", digits.test, ColoredMNISTSpec(source="mnist-5k"))
    grey = digits.test.images
    images = split.images.permute(0, 2, 3, 1)            # N, 28, 28, 3
    assert (images[grey == 255] == 255).all()
    palette = torch.tensor(PALETTE)[split.bias]         # N, 3
    background = grey == 0
    per_image_max = palette[:, None, None, :].expand_as(images)
    assert (images[background] <= per_image_max[background]).all()
    # the noise texture: background pixels of one image vary and average about half the colour
    mean_ratio = (images[background].float() / per_image_max[background].clamp(min=1)).mean()
    assert 0.4 < mean_ratio < 0.6


def test_foreground_mode_colours_strokes_on_black(digits):
    spec = ColoredMNISTSpec(source="mnist-5k", mode="foreground")
    split = build_split("aligned", digits.test, spec)
    grey = digits.test.images
    images = split.images.permute(0, 2, 3, 1)
    assert (images[grey == 0] == 0).all()
    palette = torch.tensor(PALETTE, dtype=torch.uint8)[split.bias]
    strokes = grey == 255
    assert torch.equal(images[strokes], palette[:, None, None, :].expand_as(images)[strokes])


def test_foreground_jitter_moves_colours_but_keeps_black_background(digits):
    spec = ColoredMNISTSpec(source="mnist-5k", mode="foreground", jitter=0.1)
    split = build_split("aligned", digits.test, spec)
    grey = digits.test.images
    images = split.images.permute(0, 2, 3, 1)
    assert (images[grey == 0] == 0).all()
    palette = torch.tensor(PALETTE, dtype=torch.uint8)[split.bias]
    strokes = grey == 255
    assert not torch.equal(images[strokes], palette[:, None, None, :].expand_as(images)[strokes])


@pytest.mark.parametrize("mode,jitter", [("background", 0.0), ("foreground", 0.2)])
def test_paint_matches_the_whole_tensor_formula(mode, jitter):
    """The blocked implementation computes exactly the documented formula."""
    g = torch.Generator().manual_seed(7)
    n = 2500                                               # several blocks, a partial last one
    grey = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    colors = torch.randint(-1, 10, (n,), generator=g)
    spec = ColoredMNISTSpec(mode=mode, jitter=jitter)
    got = paint(grey, colors, spec, torch.Generator().manual_seed(1))

    g = torch.Generator().manual_seed(1)
    x = grey.float().div(255).unsqueeze(1)
    rgb = (torch.tensor(PALETTE, dtype=torch.float32) / 255)[colors.clamp(min=0)]
    if mode == "background":
        noise = torch.rand(grey.shape, generator=g).unsqueeze(1)
        want = x + (1 - x) * noise * rgb[:, :, None, None]
    else:
        rgb = (rgb + jitter * torch.randn(rgb.shape, generator=g)).clamp(0, 1)
        want = x * rgb[:, :, None, None]
    want = torch.where((colors < 0)[:, None, None, None], x.expand_as(want), want)
    assert torch.equal(got, want.mul(255).round().to(torch.uint8))


def test_same_spec_gives_identical_tensors_and_another_seed_does_not(digits):
    spec = ColoredMNISTSpec(source="mnist-5k", seed=3)
    a = build_split("colored", digits.train, spec)
    b = build_split("colored", digits.train, spec)
    assert torch.equal(a.images, b.images) and torch.equal(a.bias, b.bias)
    c = build_split("colored", digits.train, ColoredMNISTSpec(source="mnist-5k", seed=4))
    assert not torch.equal(a.images, c.images)
    assert not torch.equal(a.bias, c.bias)


def test_datasets_draw_from_independent_generators(digits):
    spec = ColoredMNISTSpec(source="mnist-5k")
    aligned = build_split("aligned", digits.test, spec)
    conflicting = build_split("conflicting", digits.test, spec)
    assert not torch.equal(aligned.images, conflicting.images)


@pytest.mark.parametrize("kwargs,message", [
    ({"conflict_ratio": 1.5}, "conflict ratio"),
    ({"conflict_ratio": -0.1}, "conflict ratio"),
    ({"mode": "stripes"}, "colouring mode"),
    ({"val_fraction": 0.0}, "val fraction"),
    ({"palette": PALETTE[:9]}, "10 colours"),
])
def test_invalid_spec_raises_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ColoredMNISTSpec(**kwargs)


def test_spec_hash_is_stable_and_sensitive():
    assert ColoredMNISTSpec().hash() == ColoredMNISTSpec().hash()
    assert ColoredMNISTSpec().hash() != ColoredMNISTSpec(conflict_ratio=0.1).hash()
    assert ColoredMNISTSpec().hash() != ColoredMNISTSpec(seed=1).hash()


def test_exact_counts_round_cumulative_shares_as_lff_does():
    from bench.datasets.colored_mnist import exact_color_counts
    counts = exact_color_counts(5923, own=0, colours=10, r=0.01)
    assert int(counts.sum()) == 5923 and int(counts[0]) == round(5923 * 0.99)
    assert set(counts[1:].tolist()) <= {6, 7}     # 59 conflicting images over nine colours
    # by hand: shares 0.01 (x 9) and 0.91 at colour 3; cumulative milestones 1, 2, 3, 94, ...
    assert exact_color_counts(100, own=3, colours=10, r=0.09).tolist() == \
        [1, 1, 1, 91, 1, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("ratio", [0.005, 0.05])
def test_colored_exact_has_exactly_the_conflict_ratio_in_every_class(digits, ratio):
    from bench.datasets.colored_mnist import exact_color_counts
    spec = ColoredMNISTSpec(source="mnist-5k", conflict_ratio=ratio, mode="foreground")
    colored = build_split("colored-exact", digits.train, spec)
    for c in range(10):
        members = colored.labels == c
        worn = torch.bincount(colored.bias[members], minlength=10)
        assert torch.equal(worn, exact_color_counts(int(members.sum()), c, 10, ratio))
    again = build_split("colored-exact", digits.train, spec)
    assert torch.equal(again.bias, colored.bias)      # deterministic per spec
    other = build_split("colored-exact", digits.train, ColoredMNISTSpec(
        source="mnist-5k", conflict_ratio=ratio, mode="foreground", seed=1))
    assert not torch.equal(other.bias, colored.bias)  # which images: drawn per seed
