"""The harness's training loop: selection on validation, NaN detection, determinism."""
from __future__ import annotations

import math

import pytest
import torch

from bench.data import Splits
from bench.harness import RunEnvironment, execute, make_spec
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.supervision import Supervision
from bench.evaluate import predict
from bench.errors import ConfigError
from bench.training import SGDConfig, check_train_step, train
from tests.conftest import make_context


def val_accuracy(model, ctx) -> float:
    return (predict(model, ctx.val.images) == ctx.val.labels).float().mean().item()


def test_selection_returns_the_best_validation_epoch(tiny_splits):
    ctx = make_context(tiny_splits, limit=400)
    model = ctx.new_model()
    scores = []
    fit = train(model, ctx, SGDConfig(epochs=4, batch_size=32, lr=0.2),
                on_epoch_end=lambda epoch: scores.append(val_accuracy(model, ctx)))
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))   # first of the best
    assert fit.logs["selected_epoch"] == best + 1
    assert fit.logs["selected_val_acc"] == scores[best]
    assert val_accuracy(fit.model, ctx) == scores[best]
    assert val_accuracy(fit.final_model, ctx) == scores[-1]


def test_selection_with_validation_bias_labels_uses_conflicting_accuracy(tiny_splits):
    ctx = make_context(tiny_splits, Supervision.VAL_BIAS, limit=300)
    fit = train(ctx.new_model(), ctx, SGDConfig(epochs=1, batch_size=32, lr=0.1))
    pred = predict(fit.model, ctx.val.images)
    conflicting = ctx.val.bias != ctx.val.labels
    expected = (pred[conflicting] == ctx.val.labels[conflicting]).float().mean().item()
    assert fit.logs["selected_val_conflicting_acc"] == expected


def test_without_selection_the_model_is_the_last_epoch(tiny_splits):
    ctx = make_context(tiny_splits, limit=200)
    model = ctx.new_model()
    fit = train(model, ctx, SGDConfig(epochs=1, batch_size=32, lr=0.1), select=False)
    assert fit.model is model and fit.final_model is None and fit.logs == {}


def test_non_finite_loss_raises_floating_point_error(tiny_splits):
    ctx = make_context(tiny_splits, limit=200)

    def exploding(model, x, y, index):
        return torch.nn.functional.cross_entropy(model(x), y) * float("nan")
    with pytest.raises(FloatingPointError, match="not finite"):
        train(ctx.new_model(), ctx, SGDConfig(epochs=1, batch_size=32, lr=0.1), exploding)


def test_sample_weights_draw_with_replacement_in_proportion(tiny_splits):
    ctx = make_context(tiny_splits, limit=200)
    seen = []

    def recording(model, x, y, index):
        seen.append(index.clone())
        return torch.nn.functional.cross_entropy(model(x), y)
    weights = torch.zeros(200)
    weights[:10] = 1.0                                     # only the first ten may be drawn
    train(ctx.new_model(), ctx, SGDConfig(epochs=1, batch_size=50, lr=0.1), recording,
          sample_weights=weights, select=False)
    drawn = torch.cat(seen)
    assert len(drawn) == 200 and drawn.max() < 10


def _small_splits(splits: Splits, n_train: int = 400, n_test: int = 300) -> Splits:
    head = lambda s, n: s.subset(torch.arange(min(n, len(s))))   # noqa: E731
    return Splits(head(splits.train, n_train), head(splits.val, 200),
                  {k: head(v, n_test) for k, v in splits.tests.items()}, info=splits.info)


def _spec(**overrides):
    return make_spec("erm", {"epochs": 1, "batch_size": 32, **overrides},
                     ColoredMNISTSpec(source="mnist-5k"))


def test_harness_records_a_nan_seed_as_failed_and_the_next_seed_runs(tiny_splits):
    env = RunEnvironment(torch.device("cpu"))
    small = _small_splits(tiny_splits)
    failed = execute(_spec(lr=1e30), 0, env, splits=small)
    assert failed.status == "failed"
    assert failed.error.startswith("FloatingPointError")
    assert "seconds_data" in failed.metrics and "acc_aligned" not in failed.metrics
    ok = execute(_spec(), 1, env, splits=small)
    assert ok.status == "completed" and ok.error is None


def test_same_seed_gives_identical_metrics_on_cpu(tiny_splits):
    env = RunEnvironment(torch.device("cpu"))
    small = _small_splits(tiny_splits)
    a = execute(_spec(), 3, env, splits=small)
    b = execute(_spec(), 3, env, splits=small)
    c = execute(_spec(), 4, env, splits=small)
    untimed = lambda r: {k: v for k, v in r.metrics.items()   # noqa: E731
                         if not k.startswith("seconds")}
    assert a.status == b.status == "completed"
    assert untimed(a) == untimed(b) and a.confusion == b.confusion
    assert untimed(a) != untimed(c)
    assert all(math.isfinite(v) for v in untimed(a).values())
    assert a.versions["torch_num_threads"] == str(torch.get_num_threads())


def test_make_optimizer_builds_the_named_optimizer_and_rejects_others():
    from bench.training import SGDConfig, make_optimizer
    params = [torch.nn.Parameter(torch.zeros(3))]
    adam = make_optimizer(params, SGDConfig(1, 4, 1e-3, momentum=0.9, optimizer="adam"))
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 1e-3
    sgd = make_optimizer(params, SGDConfig(1, 4, 0.1, momentum=0.5))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.5
    with pytest.raises(ValueError, match="adam"):
        make_optimizer(params, SGDConfig(1, 4, 0.1, optimizer="lbfgs"))


def _trained_with(tiny_splits, step: str, optimizer: str = "sgd"):
    ctx = make_context(tiny_splits, limit=320)
    ctx.train_step = step
    model = ctx.new_model()
    cfg = SGDConfig(epochs=1, batch_size=16, lr=0.1, momentum=0.9, optimizer=optimizer)
    train(model, ctx, cfg, select=False)
    return model, ctx


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fused_step_trains_the_same_model_as_eager(tiny_splits, optimizer):
    eager, ctx = _trained_with(tiny_splits, "eager", optimizer)
    fused, _ = _trained_with(tiny_splits, "fused", optimizer)
    for (name, a), b in zip(eager.state_dict().items(), fused.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3), name   # summation order only (fused Adam: ~2e-4 after 20 steps)
    assert torch.equal(predict(eager, ctx.val.images), predict(fused, ctx.val.images)) or \
        (predict(eager, ctx.val.images) != predict(fused, ctx.val.images)).float().mean() < 0.01


def test_the_train_step_switch_is_validated():
    assert check_train_step("compiled") == "compiled"
    with pytest.raises(ConfigError, match="eager, fused, compiled"):
        check_train_step("graphs")


@pytest.mark.slow
def test_compiled_step_on_cpu_agrees_with_eager(tiny_splits):
    """torch.compile on CPU (inductor; CUDA graphs only on a GPU): same training within
    floating-point reordering. Slow: the first compilation takes tens of seconds."""
    eager, ctx = _trained_with(tiny_splits, "eager")
    compiled, _ = _trained_with(tiny_splits, "compiled")
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name
    differ = (predict(eager, ctx.val.images) != predict(compiled, ctx.val.images)).float()
    assert differ.mean() < 0.01


def test_step_decay_follows_dfas_scheduler():
    """StepLR(step_size=10, gamma=0.5) stepped once per step from step 20 on (DFA's
    ``step >= curr_step`` rule): the lr of step t is halved at t = 30, 40, ..."""
    cfg = SGDConfig(1, 4, 0.01, decay_every=10, decay_factor=0.5, decay_start=20)
    assert [cfg.lr_at(t) for t in (0, 19, 20, 29, 30, 39, 40)] == \
        [0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]
    assert SGDConfig(1, 4, 0.01).lr_at(10**6) == 0.01           # no decay by default


def test_the_loop_applies_the_decay_to_the_optimiser(tiny_splits):
    ctx = make_context(tiny_splits, limit=64)
    seen = []

    def recording(model, x, y, index):
        return torch.nn.functional.cross_entropy(model(x), y)

    model = ctx.new_model()
    original = torch.optim.SGD.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.SGD, "step", step)
        train(model, ctx, SGDConfig(2, 16, 0.1, decay_every=3, decay_factor=0.1, decay_start=2),
              recording, select=False)
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])
