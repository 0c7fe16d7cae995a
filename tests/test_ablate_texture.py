"""Texture-unit ablation: a planted texture unit is flagged, and exactly flagged units are zeroed."""
import dataclasses

import torch
from torch import nn

from bench.backbones import ConvGNNet, build_backbone
from bench.methods import ablate_texture
from bench.method import FitResult
from conftest import make_context


class PlantedUnits(nn.Module):
    """Unit 0 reads colour (mean chroma), unit 1 reads white strokes, unit 2 reads both."""

    def features(self, x):
        chroma = (x - x.mean(1, keepdim=True)).norm(dim=1).mean((1, 2))
        white = (x.min(1).values > 0.9).float().mean((1, 2))
        return torch.stack([chroma, white, chroma + 10 * white], dim=1)


def coloured_images(splits, n=64):
    order = torch.randperm(len(splits.train), generator=torch.Generator().manual_seed(0))[:n]
    return splits.train.images[order].float() / 255


def test_planted_texture_unit_is_flagged(tiny_splits):
    images = coloured_images(tiny_splits)
    scores = ablate_texture.texture_scores(PlantedUnits(), images, torch.Generator().manual_seed(0))
    assert scores[0] > 0.9 and scores[1] < 0.1 and scores[2] < 0.5
    flagged = (scores > ablate_texture.AblateTextureHparams().threshold).tolist()
    assert flagged == [True, False, False]


def test_texture_probes_hold_no_digit(tiny_splits):
    images = coloured_images(tiny_splits)
    probes = ablate_texture.texture_probes(images, torch.Generator().manual_seed(0))
    assert probes.shape == images.shape
    assert (images.min(1).values > 0.9).any()                   # the inputs had white strokes
    assert not (probes.min(1).values > 0.9).any()               # the probes have none
    # Each probe keeps its own image's colour: the mean chroma direction is unchanged.
    def direction(x):
        chroma = (x - x.mean(1, keepdim=True)).flatten(2).sum(2)
        return chroma / chroma.norm(dim=1, keepdim=True)
    assert torch.allclose(direction(probes), direction(images), atol=0.05)


def test_exactly_the_flagged_units_are_zeroed(tiny_splits, monkeypatch):
    planted = torch.full((16,), 0.2)
    planted[[3, 11]] = 0.9
    monkeypatch.setattr(ablate_texture, "train",
                        lambda model, ctx, cfg, **kw: FitResult(model=model))
    monkeypatch.setattr(ablate_texture, "texture_scores", lambda model, images, g: planted)
    ctx = make_context(tiny_splits, limit=100)
    hp = dataclasses.replace(ablate_texture.AblateTextureHparams(), probes=20)
    result = ablate_texture.AblateTexture(hp).fit(ctx)
    model = result.model
    x = ctx.val.images[:8]
    masked, raw = model.features(x), model.base.features(x)
    assert (masked[:, [3, 11]] == 0).all() and (raw[:, [3, 11]] != 0).any()
    keep = [i for i in range(16) if i not in (3, 11)]
    assert torch.equal(masked[:, keep], raw[:, keep])
    assert torch.equal(model(x), model.classifier(masked))
    assert result.logs["ablated_units"] == 2.0
    assert isinstance(model.base, ConvGNNet)
