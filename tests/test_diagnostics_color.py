import pytest
import torch

from bench.diagnostics.color import color_following


def test_hand_values():
    digits = torch.tensor([0, 1, 2, 9])
    # predictions: 1 = (0+1), 1 != 2, 3 = (2+1), 0 = (9+1) mod 10
    pred = torch.tensor([1, 1, 3, 0])
    assert color_following(pred, (digits + 1) % 10) == pytest.approx(0.75)   # cycled colours


def test_shape_reader_scores_zero_and_colour_reader_one():
    digits = torch.arange(10).repeat(3)
    cycled = (digits + 1) % 10                  # the class each cycled colour belongs to
    assert color_following(digits, cycled) == 0.0
    assert color_following(cycled, cycled) == 1.0


def test_empty_is_nan():
    empty = torch.empty(0, dtype=torch.long)
    assert color_following(empty, empty) != color_following(empty, empty)
