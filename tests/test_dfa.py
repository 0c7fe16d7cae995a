"""DFA's pieces: the feature swap, the two-encoder model, and a fit that swaps."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.backbones import build_backbone
from bench.errors import ConfigError
from bench.hparams import check_bounds, spec_fields
from bench.methods.dfa import DFA, DFAHparams, swap_bias_features
from bench.method import make_method
from bench.two_encoders import DFA_MLP_ENCODER, TwoEncoderNet
from bench.weights import load_model, save_model
from tests.conftest import make_context


def test_a_swapped_batch_keeps_each_intrinsic_half_and_takes_anothers_bias_half():
    z_i = torch.arange(12.).reshape(4, 3).requires_grad_(True)
    z_b = (100 + torch.arange(8.)).reshape(4, 2).requires_grad_(True)
    perm = torch.tensor([2, 0, 3, 1])
    for_i, for_b = swap_bias_features(z_i, z_b, perm)
    for k in range(4):
        assert torch.equal(for_i[k, :3], z_i[k]) and torch.equal(for_b[k, :3], z_i[k])
        assert torch.equal(for_i[k, 3:], z_b[perm[k]]) and torch.equal(for_b[k, 3:], z_b[perm[k]])
    # the intrinsic classifier's input sends no gradient to the bias encoder, and back
    for_i.sum().backward(retain_graph=True)
    assert z_b.grad is None and torch.equal(z_i.grad, torch.ones_like(z_i))
    z_i.grad = None
    for_b.sum().backward()
    assert z_i.grad is None and torch.equal(z_b.grad, torch.ones_like(z_b))


def test_the_two_encoder_model_classifies_both_encoders_features():
    torch.manual_seed(0)
    for backbone, width in (("baseline", 16), ("mlp-3x100", 100)):
        intrinsic, bias = build_backbone(backbone), build_backbone(backbone)
        model = TwoEncoderNet(intrinsic, bias, 10).eval()
        x = torch.rand(3, 3, 28, 28)
        features = model.features(x)
        assert features.shape == (3, 2 * width) == (3, model.num_features)
        assert torch.allclose(features[:, :width], intrinsic.features(x), atol=1e-6)
        assert torch.allclose(features[:, width:], bias.features(x), atol=1e-6)
        assert torch.allclose(model(x), model.classifier(features))
        assert (model.gradcam_layer is None) == (backbone == "mlp-3x100")
    conv = TwoEncoderNet(build_backbone("baseline"), build_backbone("baseline"), 10)
    assert conv.feature_maps(x).shape[:2] == (3, 32)   # both encoders' last blocks, stacked


def test_kept_weights_rebuild_the_two_encoder_model(tmp_path):
    torch.manual_seed(0)
    model = TwoEncoderNet(build_backbone("mlp-3x100"), build_backbone("mlp-3x100"), 10).eval()
    reloaded = load_model(save_model(model, "mlp-3x100", tmp_path / "w.pt"))
    x = torch.rand(5, 3, 28, 28)
    assert isinstance(reloaded, TwoEncoderNet) and torch.equal(reloaded(x), model(x))


def test_a_fit_past_the_warm_up_swaps_and_is_deterministic(tiny_splits):
    hparams = DFAHparams(epochs=2, batch_size=64, swap_start_step=3, optimizer="adam",
                         lr=1e-3, decay_every=4, decay_factor=0.5)
    fits = [make_method(DFA, dataclasses.asdict(hparams)).fit(make_context(tiny_splits, limit=256))
            for _ in range(2)]
    steps = 2 * 4                                   # 256 images, batch 64, 2 epochs
    assert fits[0].logs["dfa_swap_steps"] == steps - 4   # every step after step index 3
    assert 0 < fits[0].logs["dfa_mean_weight"] < 1
    assert 0 <= fits[0].logs["dfa_bias_train_acc"] <= 1
    assert fits[0].picks and fits[0].final_model is not None   # chosen among epochs
    x = make_context(tiny_splits, limit=8).val.images[:8]
    assert torch.equal(fits[0].model(x), fits[1].model(x))


def test_dfas_own_encoder_gives_32_features_and_its_weights_rebuild(tmp_path, tiny_splits):
    """--set encoder=mlp-100-100-16: DFA's official CMNIST encoder (module/mlp.py:7-18) in
    place of the run's backbone; the kept weights name it, so they load back."""
    hparams = DFAHparams(epochs=1, batch_size=64, optimizer="adam", lr=1e-3,
                         encoder=DFA_MLP_ENCODER)
    fit = make_method(DFA, dataclasses.asdict(hparams)).fit(make_context(tiny_splits, limit=128))
    model = fit.model.eval()
    assert model.num_features == 32 and model.encoder == DFA_MLP_ENCODER
    assert model.intrinsic.num_features == model.bias.num_features == 16
    reloaded = load_model(save_model(model, "baseline", tmp_path / "w.pt"))
    x = make_context(tiny_splits, limit=8).val.images[:8]
    assert reloaded.encoder == DFA_MLP_ENCODER and torch.equal(reloaded(x), model(x))


def test_the_default_encoder_is_the_runs_backbone_and_others_are_refused():
    assert DFAHparams().encoder == "backbone"
    assert "encoder" not in spec_fields(DFAHparams())       # stored keys do not move
    assert spec_fields(DFAHparams(encoder=DFA_MLP_ENCODER))["encoder"] == DFA_MLP_ENCODER
    with pytest.raises(ConfigError, match="encoder must be one of backbone, mlp-100-100-16"):
        check_bounds(DFAHparams(encoder="resnet50"))
