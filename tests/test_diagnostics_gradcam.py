import dataclasses

import pytest
import torch

from bench.backbones import build_backbone
from bench.data import Splits
from bench.diagnostics.gradcam import (GradCAMSettings, grey_digits, gradcam, run_gradcam,
                                       shape_share, stroke_masks, upsample)
from bench.errors import DataError
from bench.evaluate import predict
from bench.supervision import to_float_images
from tests.conftest import make_context


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_backbone("baseline").eval()


def test_matches_captum_layer_gradcam(model, tiny_splits):
    captum_attr = pytest.importorskip("captum.attr")
    x = to_float_images(tiny_splits.tests["conflicting"].images[:32], torch.device("cpu"))
    target = predict(model, x).clone()
    ours = gradcam(model, model.gradcam_layer, x, target)
    reference = captum_attr.LayerGradCam(model, model.gradcam_layer).attribute(
        x, target=target, relu_attributions=True)
    assert ours.shape[1:] == model.feature_maps(x).shape[2:] and ours.abs().sum() > 0
    assert torch.allclose(ours, reference.squeeze(1), atol=1e-6, rtol=1e-4)
    up = captum_attr.LayerAttribution.interpolate(reference, (28, 28), interpolate_mode="bilinear")
    assert torch.allclose(upsample(ours, (28, 28)), up.squeeze(1), atol=1e-6, rtol=1e-4)


def test_shape_share_hand_values():
    cam = torch.tensor([[[1.0, 3.0], [0.0, -5.0]],     # negative mass is ignored
                        [[0.0, 0.0], [0.0, 0.0]],      # no positive mass: left out
                        [[2.0, 2.0], [0.0, 0.0]]])
    mask = torch.tensor([[[True, False], [False, True]],
                         [[True, True], [True, True]],
                         [[True, True], [False, False]]])
    share, chance = shape_share(cam, mask)
    assert share == pytest.approx((0.25 + 1.0) / 2)
    assert chance == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_stroke_mask_is_the_grey_digit_above_half(tiny_splits):
    grey = grey_digits(tiny_splits, "conflicting")
    mask = stroke_masks(grey)
    assert torch.equal(mask, grey.float() / 255 > 0.5)
    assert 0.05 < mask.float().mean() < 0.4      # MNIST: roughly a sixth of the pixels
    # Background colouring keeps strokes white-ish: each channel is at least the grey value.
    coloured = tiny_splits.tests["conflicting"].images
    assert (coloured.min(dim=1).values[mask] > 127).all()


def test_mask_refuses_splits_from_other_digits(tiny_splits):
    tests = dict(tiny_splits.tests)
    grey = tests["greyscale"]
    tests["greyscale"] = dataclasses.replace(grey, labels=grey.labels.roll(1))
    with pytest.raises(DataError):
        grey_digits(Splits(tiny_splits.train, tiny_splits.val, tests), "conflicting")


def test_run_reports_share_and_chance(model, tiny_splits):
    ctx = make_context(tiny_splits, limit=100)
    out = run_gradcam(model, tiny_splits, ctx, GradCAMSettings(sample=40))
    assert set(out) == {"gradcam_shape_share", "gradcam_stroke_pixel_share"}
    assert 0 <= out["gradcam_shape_share"] <= 1 and 0 < out["gradcam_stroke_pixel_share"] < 1
