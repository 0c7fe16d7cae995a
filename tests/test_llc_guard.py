import pytest
import torch

import bench.methods.llc_guard as guard_module
from bench.method import make_method
from bench.methods.erm import ERM
from bench.methods.llc_guard import LLCGuard, hardest_upweighted
from tests.conftest import make_context

FAST = {"epochs": 3, "batch_size": 32, "probe_subset": 64, "probe_chains": 1,
        "probe_burnin": 0, "probe_draws": 4}


def scripted_probe(monkeypatch, values):
    """Replaces the SGLD probe by a list of LLC values, one per call, and counts the calls."""
    calls = []

    def probe(model, images, labels, settings, device):
        calls.append(len(images))
        return {"llc": values[len(calls) - 1]}
    monkeypatch.setattr(guard_module, "estimate_llc", probe)
    return calls


def fit(method, splits, overrides, seed=0):
    ctx = make_context(splits, seed=seed, limit=600)
    return make_method(method, overrides).fit(ctx)


def test_hardest_examples_are_upweighted():
    weights = hardest_upweighted(torch.tensor([0.1, 3.0, 0.2, 2.0, 0.0]), 0.4, 5.0)
    assert weights.tolist() == [1.0, 5.0, 1.0, 5.0, 1.0]
    assert hardest_upweighted(torch.tensor([0.1, 0.2]), 0.01, 5.0).tolist() == [1.0, 5.0]


def test_a_rising_llc_never_intervenes_and_the_run_is_erm(monkeypatch, tiny_splits):
    calls = scripted_probe(monkeypatch, [1.0, 5.0])
    guarded = fit(LLCGuard, tiny_splits, FAST)
    plain = fit(ERM, tiny_splits, {"epochs": 3, "batch_size": 32})
    assert len(calls) == 2 and calls[0] == 64           # epochs 1 and 2; none after the last
    assert guarded.logs["guard_interventions"] == 0
    assert guarded.logs["guard_llc_epoch_1"] == 1.0 and guarded.logs["guard_llc_epoch_2"] == 5.0
    for a, b in zip(guarded.final_model.parameters(), plain.final_model.parameters()):
        assert torch.equal(a, b)


def test_an_llc_at_the_lazy_level_upweights_the_next_epoch(monkeypatch, tiny_splits):
    scripted_probe(monkeypatch, [2.0, 2.1])          # under 2.0 + 0.2 * 2.0: intervene
    seen = []
    real = guard_module.hardest_upweighted
    monkeypatch.setattr(guard_module, "hardest_upweighted",
                        lambda losses, f, u: seen.append(len(losses)) or real(losses, f, u))
    guarded = fit(LLCGuard, tiny_splits, FAST)
    plain = fit(ERM, tiny_splits, {"epochs": 3, "batch_size": 32})
    assert guarded.logs["guard_interventions"] == 1
    assert guarded.logs["guard_first_intervention"] == 2   # decided after epoch 2, for epoch 3
    assert seen == [600]                                   # every training example scored
    assert any(not torch.equal(a, b) for a, b in zip(guarded.final_model.parameters(),
                                                     plain.final_model.parameters()))


def test_the_real_probe_runs_and_leaves_the_model_alone(tiny_splits):
    ctx = make_context(tiny_splits, limit=300)
    model = make_method(ERM, {"epochs": 1, "batch_size": 32}).fit(ctx).model
    before = [p.detach().clone() for p in model.parameters()]
    guard = guard_module.Guard(model, ctx, make_method(LLCGuard, FAST).hparams)
    guard.after_epoch(0)
    assert len(guard.llcs) == 1 and guard.next_weights is None     # the reference epoch
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_bounds_reject_a_fraction_outside_0_1():
    from bench.errors import ConfigError
    from bench.hparams import parse_overrides
    with pytest.raises(ConfigError):
        from bench.hparams import resolve
        resolve(guard_module.LLCGuardHparams,
                parse_overrides(guard_module.LLCGuardHparams, ["top_fraction=1.5"]))


def test_per_example_losses_do_not_depend_on_the_inference_batch():
    from bench.backbones import build_backbone
    from bench.methods.llc_guard import per_example_loss
    torch.manual_seed(0)
    model = build_backbone("baseline", num_classes=10)
    images = torch.rand(300, 3, 28, 28)
    labels = torch.randint(0, 10, (300,))
    default = per_example_loss(model, images, labels)
    assert default.shape == (300,)
    assert torch.equal(default, per_example_loss(model, images, labels, batch=7))
    assert torch.equal(default, per_example_loss(model, images, labels, batch=4096))
