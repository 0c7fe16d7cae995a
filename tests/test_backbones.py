"""The backbone contract, kept by every registered backbone, and everything that relies on it
(every diagnostic, ``bench explain``) run on each of them."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from bench.backbones import (CANDIDATES, MLP_LFF, POOL_BETWEEN, ConvGNLayout, UnitMaskedNet,
                             backbone_has_feature_maps, build_backbone, canonical_name,
                             has_feature_maps)
from bench.cli import main
from bench.registry import BACKBONES
from tests.test_diagnostics_registry import CHEAP

NAMES = BACKBONES.names()
CONV = [n for n in NAMES if backbone_has_feature_maps(n)]


@pytest.mark.parametrize("name", CONV)
def test_contract(name):
    torch.manual_seed(0)
    model = build_backbone(name).eval()
    x = torch.rand(4, *model.input_shape)
    captured = []
    handle = model.gradcam_layer.register_forward_hook(lambda m, i, out: captured.append(out))
    logits = model(x)
    handle.remove()
    maps = model.feature_maps(x)
    assert logits.shape == (4, 10)
    assert maps.shape[:2] == (4, model.num_features) and maps.dim() == 4
    assert torch.equal(captured[0], maps)          # Grad-CAM's layer makes the feature maps
    assert model.features(x).shape == (4, model.num_features)
    assert torch.allclose(model.classifier(model.features(x)), logits)
    assert model.classifier.in_features == model.num_features == 16   # the seed's 16 units
    assert sum(p.numel() for p in model.parameters()) < 100_000
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 3 and not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_the_mlp_keeps_the_contract_without_feature_maps():
    """LfF's network: 3 x 28 x 28 -> 100 -> 100 -> 100 -> 10, features = last hidden layer,
    its input divided by 255 once more as the official code does."""
    torch.manual_seed(0)
    model = build_backbone(MLP_LFF).eval()
    x = torch.rand(4, *model.input_shape)
    assert not has_feature_maps(model) and not backbone_has_feature_maps(MLP_LFF)
    assert model.gradcam_layer is None and not hasattr(model, "feature_maps")
    assert model.features(x).shape == (4, model.num_features) == (4, 100)
    assert torch.allclose(model.classifier(model.features(x)), model(x))
    assert torch.equal(model.features(x), model.hidden(x.flatten(1) / 255))
    assert [m.out_features for m in model.modules() if isinstance(m, nn.Linear)] == \
        [100, 100, 100, 10]
    assert sum(p.numel() for p in model.parameters()) == 256_510
    assert not has_feature_maps(UnitMaskedNet(model, torch.ones(100)))


def test_unit_mask_keeps_the_contract():
    base = build_backbone("baseline")
    mask = torch.ones(base.num_features)
    mask[0] = 0
    masked = UnitMaskedNet(base, mask)
    x = torch.rand(2, *masked.input_shape)
    assert masked.gradcam_layer is base.gradcam_layer
    assert torch.all(masked.features(x)[:, 0] == 0)


def test_pooling_placement_sets_the_last_blocks_resolution():
    between = build_backbone(ConvGNLayout((16, 32, 16), 3, "between").name)
    end = build_backbone(ConvGNLayout((16, 32, 16), 3, "end").name)
    x = torch.rand(1, 3, 28, 28)
    assert between.feature_maps(x).shape[-2:] == (7, 7)
    assert end.feature_maps(x).shape[-2:] == (28, 28)
    # Same parameters: pooling placement is the only difference between the two.
    assert (sum(p.numel() for p in between.parameters())
            == sum(p.numel() for p in end.parameters()) == 10_010)


def test_pool_between_initialises_as_the_pre_calibration_baseline():
    """Records made before the calibration were trained on this network: same modules, same
    construction order, so the same seed still gives the same weights."""
    torch.manual_seed(0)
    model = build_backbone(CANDIDATES[0].name)
    assert CANDIDATES[0].pool == "between"
    assert [k for k, _ in model.state_dict().items()] == [
        "block1.0.weight", "block1.0.bias", "block1.1.weight", "block1.1.bias",
        "block2.0.weight", "block2.0.bias", "block2.1.weight", "block2.1.bias",
        "block3.0.weight", "block3.0.bias", "block3.1.weight", "block3.1.bias",
        "classifier.weight", "classifier.bias"]
    assert model.block1[0].weight.flatten()[:3].tolist() == pytest.approx(
        [-0.0014, 0.1032, -0.1584], abs=1e-4)   # BaselineNet at HEAD~, same seed


def test_bad_layouts_are_refused():
    with pytest.raises(ValueError, match="pool"):
        ConvGNLayout(pool="middle")
    with pytest.raises(ValueError, match="odd"):
        ConvGNLayout(kernel=4)


# The two networks with leaderboard pages run by default; the other candidates with -m slow.
ON_PAGES = {"baseline", POOL_BETWEEN.name, MLP_LFF}


@pytest.mark.parametrize("name", [n if n in ON_PAGES else pytest.param(n, marks=pytest.mark.slow)
                                  for n in NAMES])
def test_every_diagnostic_and_explain_run_on_every_backbone(name, tmp_path, capsys,
                                                             monkeypatch):
    from bench.explain import analysis
    from bench.explain.activation_maximisation import MaximisationSettings
    fast = analysis.visualise_classes
    monkeypatch.setattr(analysis, "visualise_classes",
                        lambda model, settings, device: fast(model, settings=MaximisationSettings(
                            steps=3), device=device))
    store = tmp_path / "results.sqlite"
    assert main(["run", "--method", "erm", "--images", "mnist-5k", "--epochs", "1",
                 "--set", "batch_size=64", "--device", "cpu", "--backbone", name,
                 "--diagnostics", "all", *(f"--diagnostic={pair}" for pair in CHEAP),
                 "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["results", "--format", "json", "--store", str(store)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["backbone"] == canonical_name(name)   # the alias is stored as its layout
    maps = backbone_has_feature_maps(name)
    for metric in ("color_following", "llc", "eps_to_flip_conflicting",
                   *(("gradcam_shape_share",) if maps else ())):
        assert math.isfinite(record["metrics"][metric]), metric
    assert "diagnostic_errors" not in record
    if not maps:   # a note, neither a failure nor a crash
        assert "gradcam_shape_share" not in record["metrics"]
        assert record["diagnostic_notes"] == {
            "gradcam": f"not applicable to {name}: the backbone has no feature maps for "
                       f"Grad-CAM to attribute"}
    out = tmp_path / "report"
    assert main(["explain", str(record["id"]), "--out", str(out), "--store", str(store),
                 "--device", "cpu"]) == 0
    assert (out / "report.md").is_file()
    if maps:
        assert (out / "a-gradcam.png").stat().st_size > 1000
    else:
        assert not (out / "a-gradcam.png").exists()
        assert f"not applicable to {name} (no feature maps)" in (out / "report.md").read_text()


def test_a_run_spec_names_the_network_the_alias_stands_for():
    from bench.backbones import BASELINE
    from bench.datasets.colored_mnist import ColoredMNISTSpec
    from bench.harness import make_spec
    spec = make_spec("erm", {}, ColoredMNISTSpec(), backbone="baseline")
    assert spec.backbone == BASELINE.name == canonical_name("baseline") != "baseline"
    assert make_spec("erm", {}, ColoredMNISTSpec(), backbone=POOL_BETWEEN.name).backbone == \
        POOL_BETWEEN.name
