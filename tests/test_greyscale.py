"""The greyscale reference: colour removed exactly enough, and training sees no colour."""
import dataclasses

import pytest
import torch

from bench.datasets.colored_mnist import ColoredMNISTSpec, paint
from bench.methods import greyscale


@pytest.mark.parametrize("mode", ["background", "foreground"])
def test_decolorize_recovers_the_painted_digit(tiny_splits, mode):
    grey = (tiny_splits.tests["greyscale"].images[:200, 0])           # raw digits, uint8
    colors = torch.arange(200) % 11 - 1                                # every colour and none
    painted = paint(grey, colors, ColoredMNISTSpec(source="mnist-5k", mode=mode),
                    torch.Generator().manual_seed(0)).float() / 255
    out = greyscale.decolorize(painted)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])
    error = (out[:, 0] * 255 - grey.float()).abs().flatten(1).max(1).values
    near_grey = colors == 9            # pink (250, 190, 190): rounding is amplified
    assert error[~near_grey].max() <= 3
    assert error[near_grey].max() <= 8
    assert error[colors == -1].max() == 0


def test_training_sees_only_colour_free_images(tiny_splits, monkeypatch):
    seen = {}

    def recording_train(model, ctx, cfg, **kwargs):
        seen["train"], seen["val"] = ctx.train.images, ctx.val.images
        seen["digits"] = ctx.train.labels
        return greyscale.FitResult(model=model)

    monkeypatch.setattr(greyscale, "train", recording_train)
    from conftest import make_context
    ctx = make_context(tiny_splits, limit=100)
    greyscale.Greyscale(dataclasses.replace(greyscale.GreyscaleHparams(), epochs=1)).fit(ctx)
    for name in ("train", "val"):
        images = seen[name]
        assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    assert torch.equal(seen["digits"], ctx.train.labels)
    assert not torch.equal(ctx.train.images[:, 0], ctx.train.images[:, 1])   # input was coloured
    assert greyscale.Greyscale.is_reference_model
