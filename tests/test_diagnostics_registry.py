import json
import math

import pytest

from bench.cli import main
from bench.diagnostics import DIAGNOSTICS, Diagnostic, diagnostic_settings, parse_diagnostics
from bench.diagnostics.gradcam import GradCAMSettings
from bench.diagnostics.llc import LLCSettings
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


CHEAP = {"pgd": PGDSettings(sample_per_split=16, bisection_steps=4, steps=5),
         "llc": LLCSettings(subset=256, batch_size=64, chains=2, draws=16, burnin=4),
         "gradcam": GradCAMSettings(sample=32)}


@pytest.mark.slow
def test_bench_run_with_all_diagnostics_stores_every_metric(capsys, monkeypatch):
    # Tiny: 1 epoch on mnist-5k; the expensive diagnostics with small samples and chains.
    for name, settings in CHEAP.items():
        monkeypatch.setitem(DIAGNOSTICS, name, Diagnostic(lambda s=settings: s,
                                                          DIAGNOSTICS[name].run))
    code = main(["run", "--method", "erm", "--source", "mnist-5k", "--epochs", "1",
                 "--set", "batch_size=64", "--device", "cpu", "--no-keep-weights",
                 "--diagnostics", "all"])
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
