import json
import math

import pytest

from bench.cli import main
from bench.diagnostics import (DIAGNOSTICS, Diagnostic, diagnostic_settings, make_after_fit,
                               parse_diagnostics, parse_settings, settings_label)
from bench.diagnostics.pgd import PGDSettings
from bench.errors import ConfigError
from bench.hooks import HookOptions, spec_extras


def test_parse_all_none_and_lists():
    assert parse_diagnostics("all") == tuple(DIAGNOSTICS)
    assert parse_diagnostics("none") == ()
    assert parse_diagnostics("llc, color,llc") == ("color", "llc")


def test_unknown_name_is_one_line_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'gradcam'") as err:
        parse_diagnostics("pgd,gradcm")
    assert "\n" not in str(err.value)


def test_selected_settings_go_into_the_spec_extras():
    extras = spec_extras(HookOptions(diagnostics="pgd"))
    assert extras == {"diagnostics": diagnostic_settings(("pgd",))}
    assert extras["diagnostics"]["pgd"]["eps_max"] == 0.5
    assert spec_extras(HookOptions(diagnostics="none")) == {"diagnostics": {}}


CHEAP = ("pgd.sample_per_split=16", "pgd.bisection_steps=4", "pgd.steps=5", "llc.subset=256",
         "llc.batch_size=64", "llc.chains=2", "llc.draws=16", "llc.burnin=4", "gradcam.sample=32")


@pytest.mark.slow
def test_bench_run_with_all_diagnostics_stores_every_metric(capsys):
    # Tiny: 1 epoch on mnist-5k; the expensive diagnostics with small samples and chains,
    # chosen the way a user would (--diagnostic), so they are also what the spec records.
    code = main(["run", "--method", "erm", "--images", "mnist-5k", "--epochs", "1",
                 "--set", "batch_size=64", "--device", "cpu", "--no-keep-weights",
                 "--diagnostics", "all", *(f"--diagnostic={pair}" for pair in CHEAP)])
    assert code == 0
    capsys.readouterr()
    assert main(["results", "--format", "json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    m = record["metrics"]
    expected = ["color_following", "gradcam_shape_share", "gradcam_stroke_pixel_share", "llc",
                "llc_std", "llc_converged", "peak_memory_mb",
                *(f"seconds_{n}" for n in DIAGNOSTICS),
                *(f"eps_to_flip_{s}{q}" for s in ("aligned", "conflicting")
                  for q in ("", "_q10", "_q25", "_q75", "_q90", "_unflipped_share"))]
    for name in expected:
        assert name in m and math.isfinite(m[name]), name
    assert set(record["extras"]["diagnostics"]) == set(DIAGNOSTICS)
    assert record["extras"]["diagnostics"]["llc"]["chains"] == 2


def test_settings_are_typed_and_range_checked_like_hyperparameters():
    assert parse_settings(["pgd.steps=100", "llc.nbeta=none"], ("pgd", "llc")) == \
        {"pgd": {"steps": 100}, "llc": {"nbeta": None}}
    for pairs, message in [(["pgd.steps=0"], "steps must be >= 1"),
                           (["pgd.steps=many"], "steps expects a int"),
                           (["pgd.stepz=3"], "did you mean 'steps'"),
                           (["pgd=3"], "expected NAME.KEY=VALUE"),
                           (["pdg.steps=3"], "unknown diagnostic 'pdg'"),
                           (["llc.chains=2"], "llc is not selected")]:
        with pytest.raises(ConfigError, match=message) as err:
            parse_settings(pairs, ("pgd",))
        assert "\n" not in str(err.value)


def _committed_record(method: str = "erm"):
    """A committed full-MNIST record made with today's default diagnostics settings."""
    from pathlib import Path
    from bench.leaderboard.sources import read_jsonl
    path = Path(__file__).parents[1] / "leaderboards" / "records" / \
        "mnist-background-r0.05-k3-16-32-16-pool-between.jsonl"
    defaults = spec_extras(HookOptions(diagnostics="all"))
    for record in read_jsonl(path):
        if record.spec.method == method and \
                json.dumps(record.spec.extras, sort_keys=True) == json.dumps(defaults,
                                                                             sort_keys=True):
            return record
    raise AssertionError(f"no committed {method} record with the default diagnostics")


def test_default_settings_hash_exactly_as_the_committed_records():
    from bench.datasets.colored_mnist import ColoredMNISTSpec
    from bench.harness import make_spec
    from bench.registry import METHODS
    record = _committed_record()
    defaults = METHODS.get("erm").defaults()
    overrides = {k: v for k, v in record.spec.hparams.items() if v != defaults[k]}
    rebuilt = make_spec("erm", overrides, ColoredMNISTSpec(**record.spec.data),
                        record.spec.dataset, record.spec.backbone,
                        extras=spec_extras(HookOptions(diagnostics="all")))
    assert rebuilt.key(record.seed) == record.key


def test_a_changed_setting_changes_the_hash_and_reaches_the_computation(monkeypatch):
    from types import SimpleNamespace
    from bench.datasets.colored_mnist import ColoredMNISTSpec
    from bench.harness import make_spec
    from bench.method import Progress
    from bench.record import RunRecord
    seen = []
    monkeypatch.setitem(DIAGNOSTICS, "pgd", Diagnostic(
        PGDSettings, lambda model, splits, ctx, settings: seen.append(settings) or {}))
    data = ColoredMNISTSpec(source="mnist-5k")
    default = make_spec("erm", {}, data, extras=spec_extras(HookOptions(diagnostics="pgd")))
    stronger = make_spec("erm", {}, data, extras=spec_extras(
        HookOptions(diagnostics="pgd", diagnostic_settings=("pgd.steps=100",))))
    assert default.hash() != stronger.hash()
    ctx = SimpleNamespace(progress=Progress(), device=__import__("torch").device("cpu"))
    for spec in (default, stronger):
        make_after_fit()(None, None, ctx, RunRecord(spec, 0, "completed", "none"))
    assert [s.steps for s in seen] == [10, 100]
    assert seen[1] == PGDSettings(steps=100)        # tuples come back as tuples, not lists


def test_short_label_names_what_ran_and_what_changed():
    assert settings_label(diagnostic_settings(tuple(DIAGNOSTICS))) == "all diagnostics"
    assert settings_label({}) == "no diagnostics"
    changed = spec_extras(HookOptions(diagnostics="color,pgd",
                                      diagnostic_settings=("pgd.steps=100",)))
    assert settings_label(changed["diagnostics"]) == "diagnostics color,pgd; pgd.steps=100"


def test_a_failing_diagnostic_is_recorded_on_a_completed_run(tiny_splits, monkeypatch):
    import torch
    from bench.datasets.colored_mnist import ColoredMNISTSpec
    from bench.harness import RunEnvironment, execute, make_spec
    from bench.hooks import after_fit_hooks

    def broken(model, splits, ctx, settings):
        raise RuntimeError("out of\nmemory")
    monkeypatch.setitem(DIAGNOSTICS, "gradcam", Diagnostic(DIAGNOSTICS["gradcam"].settings,
                                                           broken))
    options = HookOptions(diagnostics="color,gradcam", keep_weights=False)
    spec = make_spec("erm", {"epochs": 1, "batch_size": 64}, ColoredMNISTSpec(source="mnist-5k"),
                     extras=spec_extras(options))
    env = RunEnvironment(torch.device("cpu"), after_fit=after_fit_hooks(options))
    record = execute(spec, 0, env, splits=tiny_splits)
    assert record.status == "completed" and record.error is None
    assert record.diagnostic_errors == {"gradcam": "RuntimeError: out of memory"}
    assert "color_following" in record.metrics and "acc_conflicting" in record.metrics
    assert "peak_memory_mb" in record.metrics


def test_the_llc_is_measured_as_the_method_trained_and_not_where_it_is_undefined(
        tiny_splits, monkeypatch):
    """The hook hands the LLC diagnostic the run's method: greyscale's LLC is measured on the
    grey digits it was fitted to; ablate-texture's is recorded as not defined, with its
    reason, instead of a number."""
    import torch
    from bench.datasets.colored_mnist import ColoredMNISTSpec
    from bench.diagnostics import llc as llc_module
    from bench.harness import RunEnvironment, execute, make_spec
    from bench.hooks import after_fit_hooks
    from bench.methods.greyscale import decolorize

    seen = []

    def fake_estimate(model, images, labels, settings, device):
        seen.append(images)
        return {"llc": 1.0, "llc_converged": 1.0}
    monkeypatch.setattr(llc_module, "estimate_llc", fake_estimate)
    options = HookOptions(diagnostics="llc", diagnostic_settings=("llc.subset=64",),
                          keep_weights=False)
    env = RunEnvironment(torch.device("cpu"), after_fit=after_fit_hooks(options))

    def run(method):
        spec = make_spec(method, {"epochs": 1, "batch_size": 64},
                         ColoredMNISTSpec(source="mnist-5k"), extras=spec_extras(options))
        return execute(spec, 0, env, splits=tiny_splits)

    erm, grey = run("erm"), run("greyscale")
    assert erm.metrics["llc"] == grey.metrics["llc"] == 1.0
    assert torch.equal(seen[1], decolorize(seen[0]))      # same subset, as greyscale saw it
    assert not torch.equal(seen[0], seen[1])
    ablated = run("ablate-texture")
    assert len(seen) == 2 and "llc" not in ablated.metrics
    assert ablated.status == "completed" and not ablated.diagnostic_errors
    assert ablated.diagnostic_notes["llc"].startswith("LLC not defined for this method: its "
                                                      "unit mask is applied after training")
