"""End to end: ``bench run`` keeps weights, ``bench explain`` writes the report and figures."""
from __future__ import annotations

import re

import pytest

from bench.cli import main
from bench.store import Store

FIGURES = ("confusion", "units", "top-k", "pca", "nmi", "gradcam", "class-visualisation",
           "patching")
TINY_RUN = ["run", "--method", "erm", "--images", "mnist-5k", "--epochs", "1",
            "--set", "batch_size=64", "--diagnostics", "none", "--device", "cpu"]


@pytest.mark.slow
def test_run_then_explain_side_by_side(tmp_path, capsys, monkeypatch):
    # Activation maximisation has its own test; here a few steps keep the file quick.
    from bench.explain import analysis
    from bench.explain.activation_maximisation import MaximisationSettings
    fast = analysis.visualise_classes
    monkeypatch.setattr(analysis, "visualise_classes",
                        lambda model, settings, device: fast(model, settings=MaximisationSettings(
                            steps=5), device=device))
    store = tmp_path / "results.sqlite"
    assert main([*TINY_RUN, "--store", str(store)]) == 0
    assert main([*TINY_RUN, "--store", str(store), "--first-seed", "1",
                 "--no-keep-weights"]) == 0
    with Store(store) as s:
        kept, dropped = s.records()
    assert (tmp_path / "results.weights" / kept.spec.hash() / "0.pt").is_file()
    assert not (tmp_path / "results.weights" / kept.spec.hash() / "1.pt").exists()

    out = tmp_path / "report"
    assert main(["explain", str(kept.id), "--against", kept.key, "--out", str(out),
                 "--store", str(store), "--unit", "3", "--device", "cpu"]) == 0
    report = (out / "report.md").read_text()
    for prefix in "ab":
        for name in FIGURES:
            png = out / f"{prefix}-{name}.png"
            assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
            assert f"]({png.name})" in report
    assert "patching unit 3" in report
    # The reloaded model reproduces the stored accuracy exactly.
    stored = f"{kept.metrics['acc_conflicting']:.3f}"
    assert re.search(rf"accuracy conflicting / aligned \| {stored} / ", report)

    capsys.readouterr()
    assert main(["explain", str(dropped.id), "--store", str(store), "--out",
                 str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--no-keep-weights" in err


def test_unknown_run_is_a_one_line_error(tmp_path, capsys):
    from bench.store import Store
    Store(tmp_path / "r.sqlite").close()          # an empty store: the run is what is missing
    assert main(["explain", "99", "--store", str(tmp_path / "r.sqlite")]) == 2
    assert "no stored run '99'" in capsys.readouterr().err
    assert main(["explain", "99", "--store", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no results store" in err
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize("ref", ["0", "deadbeef/0"])
def test_refs_that_match_nothing(tmp_path, ref, capsys):
    assert main(["explain", ref, "--store", str(tmp_path / "r.sqlite")]) == 2
