"""The contract every registered method keeps, checked for all of them on a tiny CPU context.

Parametrised over ``METHODS.names()``: a method added by anyone (a built-in file or a plugin
entry point) is covered without writing a test.
"""
from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest
import torch

from bench.datasets.colored_mnist import Split
from bench.diagnostics import make_after_fit
from bench.errors import SupervisionError
from bench.evaluate import predict
from bench.harness import make_spec
from bench.hooks import HookOptions, spec_extras
from bench.hparams import added_later, resolve, spec_fields
from bench.method import FitResult, Method, RunContext, make_method
from bench.record import RunRecord
from bench.registry import METHODS, Registry
from bench.supervision import SplitView, Supervision
from bench.weights import load_model, save_model
from conftest import TINY_SPEC, make_context

TRAIN_LIMIT = 400   # enough digits for every method to form groups, clusters and error sets
ALL_METHODS = METHODS.names()


def tiny_overrides(cls: type[Method]) -> dict[str, typing.Any]:
    """Shrinks a method generically: every int field whose name contains 'epochs' -> 1."""
    hints = typing.get_type_hints(cls.Hparams)
    return {f.name: 1 for f in dataclasses.fields(cls.Hparams)
            if "epochs" in f.name and hints[f.name] is int}


def fit_tiny(name: str, splits, seed: int = 0) -> tuple[FitResult, RunContext]:
    cls = METHODS.get(name)
    ctx = make_context(splits, cls.supervision, seed=seed, limit=TRAIN_LIMIT)
    return make_method(cls, tiny_overrides(cls)).fit(ctx), ctx


@pytest.mark.parametrize("name", ALL_METHODS)
def test_declares_its_contract(name):
    cls = METHODS.get(name)
    assert dataclasses.is_dataclass(cls.Hparams) and cls.Hparams.__dataclass_params__.frozen
    assert (cls.Hparams.__doc__ or "").strip(), "cite the source of the defaults in the docstring"
    assert isinstance(cls.supervision, Supervision)
    assert cls.reference.strip() and cls.summary.strip()
    # the LLC declarations: a reason in words, or none; a view that keeps the batch's shape
    assert isinstance(cls.llc_not_defined, str)
    images = torch.rand(4, 3, 28, 28)
    assert cls.llc_training_images(images).shape == images.shape


@pytest.mark.parametrize("name", ALL_METHODS)
def test_fit_gives_logits_and_features_determinism_and_untouched_rng(name, tiny_splits,
                                                                    tmp_path):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    first, ctx = fit_tiny(name, tiny_splits)
    assert torch.equal(torch.get_rng_state(), torch_state), "fit changed the global torch RNG"
    assert np.array_equal(np.random.get_state()[1], numpy_state), "fit changed numpy's RNG"
    x = ctx.val.images[:8]
    with torch.no_grad():
        assert first.model(x).shape == (8, 10)
        # the baseline's 16 pooled units; DFA's model concatenates two encoders' (32)
        assert first.model.features(x).shape == (8, first.model.num_features)
        assert first.model.num_features % 16 == 0
    second, _ = fit_tiny(name, tiny_splits)
    assert torch.equal(predict(first.model, ctx.val.images), predict(second.model, ctx.val.images))
    # The cheap diagnostics and weight keeping accept every method's model (ablate-texture's
    # unit-masked wrapper once failed Grad-CAM in a real run).
    spec = make_spec(name, tiny_overrides(METHODS.get(name)), TINY_SPEC,
                     extras=spec_extras(HookOptions(diagnostics="color,gradcam")))
    record = RunRecord(spec, 0, "completed", ctx.supervision.value)
    diagnostics = make_after_fit()(first.model, tiny_splits, ctx, record)
    assert record.diagnostic_errors == {}
    assert 0 <= diagnostics["color_following"] <= 1
    assert 0 <= diagnostics["gradcam_shape_share"] <= 1
    reloaded = load_model(save_model(first.model, "baseline", tmp_path / "w.pt"))
    assert torch.equal(predict(reloaded, ctx.val.images), predict(first.model, ctx.val.images))


@pytest.mark.parametrize("supervision", list(Supervision))
def test_context_withholds_what_is_not_declared(supervision, tiny_splits):
    """The contexts the fit test hands each method withhold every label their supervision
    does not allow, so a fit there that does not raise proves the method reads only what it
    declared (a method declaring NONE never sees a colour). This depends on the supervision
    level alone, so it is parametrised over the levels, not the methods."""
    ctx = make_context(tiny_splits, supervision, limit=TRAIN_LIMIT)
    for view in (ctx.train, ctx.val):
        if supervision.allows(view.name):
            assert len(view.bias) == len(view)
        else:
            with pytest.raises(SupervisionError):
                view.bias


LESS_SUPERVISION = {Supervision.TRAIN_BIAS: Supervision.VAL_BIAS,
                    Supervision.VAL_BIAS: Supervision.NONE}
SUPERVISED = [n for n in ALL_METHODS if METHODS.get(n).supervision in LESS_SUPERVISION]


@pytest.mark.parametrize("name", SUPERVISED)
def test_declared_supervision_is_used(name, tiny_splits):
    """The other half of honest declarations: a method that declares bias labels reads them,
    so the same fit with one level less supervision is refused."""
    cls = METHODS.get(name)
    ctx = make_context(tiny_splits, LESS_SUPERVISION[cls.supervision], limit=TRAIN_LIMIT)
    with pytest.raises(SupervisionError):
        make_method(cls, tiny_overrides(cls)).fit(ctx)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_hyperparameters_round_trip(name):
    cls = METHODS.get(name)
    hparams = resolve(cls.Hparams, tiny_overrides(cls))
    assert resolve(cls.Hparams, dataclasses.asdict(hparams)) == hparams
    spec = make_spec(name, tiny_overrides(cls), TINY_SPEC)
    # a field added after runs were stored is left out at its default, and resolves back
    assert spec.hparams == spec_fields(hparams)
    assert resolve(cls.Hparams, spec.hparams) == hparams
    default = make_spec(name, {}, TINY_SPEC).hparams
    assert {**cls.defaults(), **default} == cls.defaults()
    assert set(cls.defaults()) - set(default) == added_later(cls.Hparams)


@dataclasses.dataclass(frozen=True)
class CheatingHparams:
    """No hyperparameters."""


def test_a_method_reading_undeclared_colours_is_caught(tiny_splits):
    """A deliberately cheating method (declares NONE, reads training colours), registered in a
    fresh registry so that it never joins the real one."""
    registry: Registry = Registry("method")

    @registry.register("cheater")
    class Cheater(Method):
        Hparams = CheatingHparams
        supervision = Supervision.NONE
        reference = summary = "test double"

        def fit(self, ctx: RunContext) -> FitResult:
            ctx.train.bias   # what the supervision withholds
            raise AssertionError("unreachable: the view must have raised")

    cls = registry.get("cheater")
    with pytest.raises(SupervisionError, match="withheld"):
        cls().fit(make_context(tiny_splits, cls.supervision, limit=50))
    # The same method, declared honestly, is handed the colours.
    honest = make_context(tiny_splits, Supervision.TRAIN_BIAS, limit=50)
    assert torch.equal(honest.train.bias, tiny_splits.train.bias[:50])


def test_groups_are_withheld_with_colours():
    split = Split("train", torch.zeros(2, 3, 28, 28, dtype=torch.uint8),
                  torch.tensor([1, 2]), torch.tensor([1, 5]))
    view = SplitView(split, torch.device("cpu"), bias_visible=False)
    with pytest.raises(SupervisionError):
        view.groups
