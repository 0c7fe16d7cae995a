"""Grad-CAM shape share: how much of the model's positive attribution lies on the digit's strokes.

Grad-CAM (Selvaraju et al. 2017) of the backbone's ``gradcam_layer`` (its last conv block) for
the predicted class, upsampled bilinearly to the image size. The share of its positive mass on stroke pixels is compared with the share
of stroke pixels in the image (chance level, stored beside it): a shape reader lies above it, a
colour reader, whose evidence is the coloured background, below.

Stroke pixels are those whose grey MNIST intensity exceeds 0.5. The coloured splits do not keep
the grey digit, but every test split is painted from the same test digits in the same order and
``greyscale`` paints them without colour (each channel is exactly the grey digit), so the mask
of test image i is ``greyscale.images[i, 0] > 127`` (uint8 ≥ 128 ⇔ intensity > 0.5).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.backbones import has_feature_maps
from bench.errors import DataError
from bench.evaluate import predict
from bench.supervision import to_float_images

STROKE_THRESHOLD = 127   # uint8 grey > 127 ⇔ intensity > 0.5


@dataclass(frozen=True)
class GradCAMSettings:
    """500 ``conflicting`` images (a seeded sample): there shape and colour disagree, so the
    attribution says which one the model looks at. Target: the backbone's ``gradcam_layer``
    (bench.backbones' contract), so no setting names a layer."""
    split: str = "conflicting"
    sample: int = 500
    batch_size: int = 500
    seed: int = 0


def gradcam(model: nn.Module, layer: nn.Module, images: torch.Tensor,
            target: torch.Tensor) -> torch.Tensor:
    """ReLU(Σ_k mean_ij(∂y_target/∂A_k) · A_k) at the layer's resolution, (N, h, w)."""
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        with torch.enable_grad():
            logits = model(images)
            activation = captured[0]
            score = logits.gather(1, target.view(-1, 1).clone()).sum()  # clone: may be an inference tensor
            grad, = torch.autograd.grad(score, activation)
    finally:
        handle.remove()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * activation.detach()).sum(dim=1))


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Maps (N, h, w) to the image size (N, H, W)."""
    return F.interpolate(cam.unsqueeze(1), size=size, mode="bilinear",
                         align_corners=False).squeeze(1)


def stroke_masks(grey: torch.Tensor) -> torch.Tensor:
    """Stroke pixels of uint8 grey digits (N, H, W): intensity > 0.5."""
    return grey > STROKE_THRESHOLD


def shape_share(cam: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """Mean over images of (positive CAM mass on strokes / positive CAM mass), and the mean
    stroke pixel share (chance). Images with no positive attribution have no share and are
    left out of the first mean (they are counted in neither numerator nor denominator)."""
    cam = cam.clamp(min=0).double().flatten(1)
    mask = mask.flatten(1).to(cam.device)
    total = cam.sum(1)
    has_mass = total > 0
    share = (cam * mask).sum(1)[has_mass] / total[has_mass]
    chance = mask.double().mean(1).mean()
    return (float(share.mean()) if len(share) else float("nan")), float(chance)


def grey_digits(splits, name: str) -> torch.Tensor:
    """The grey digits under test split ``name``, taken from ``greyscale`` (same digits, same
    order); checked against the labels so a change in how splits are built cannot go unseen."""
    grey = splits.tests.get("greyscale")
    target = splits.tests[name]
    if grey is None or not torch.equal(grey.labels, target.labels):
        raise DataError(f"Grad-CAM stroke masks need the 'greyscale' split painted from the "
                        f"same digits as {name!r}")
    return grey.images[:, 0]


def run_gradcam(model: nn.Module, splits, ctx, settings: GradCAMSettings) -> dict[str, float]:
    from bench.diagnostics import NotApplicable
    from bench.diagnostics.pgd import sample_positions
    if not has_feature_maps(model):
        raise NotApplicable(f"not applicable to {ctx.backbone}: the backbone has no feature "
                            f"maps for Grad-CAM to attribute")
    split = splits.tests[settings.split]
    index = sample_positions(len(split), settings.sample, settings.seed)
    masks = stroke_masks(grey_digits(splits, settings.split)[index])
    images = to_float_images(split.images[index], ctx.device)
    layer = model.gradcam_layer   # a unit mask passes its backbone's layer through
    was_training = model.training
    model.eval()
    cams = []
    try:
        for lo in range(0, len(images), settings.batch_size):
            x = images[lo:lo + settings.batch_size]
            cams.append(upsample(gradcam(model, layer, x, predict(model, x)),
                                 tuple(x.shape[-2:])).cpu())
    finally:
        model.train(was_training)
    share, chance = shape_share(torch.cat(cams), masks)
    return {"gradcam_shape_share": share, "gradcam_stroke_pixel_share": chance}
