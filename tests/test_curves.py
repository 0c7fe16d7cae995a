"""Learning curves: the epoch observer reports without changing the run, and the summary."""
from __future__ import annotations

import csv
import math

import pytest
import torch

from bench.studies.curves import CurveRecorder, summarize_curves
from bench.harness import RunEnvironment, execute, make_spec
from tests.conftest import TINY_SPEC, load_script

CPU = torch.device("cpu")

def _run(method, overrides, splits, observer=None):
    spec = make_spec(method, overrides, TINY_SPEC)
    return execute(spec, 0, RunEnvironment(CPU, epoch_observer=observer), splits)


def test_observing_a_run_changes_none_of_its_numbers(tiny_splits):
    overrides = {"epochs": 3, "batch_size": 128}
    plain = _run("erm", overrides, tiny_splits)
    recorder = CurveRecorder(tiny_splits, CPU)
    observed = _run("erm", overrides, tiny_splits, recorder)
    assert observed.metrics | {k: 0 for k in observed.metrics if k.startswith("seconds")} == \
        plain.metrics | {k: 0 for k in plain.metrics if k.startswith("seconds")}
    assert [(r["phase"], r["epoch"]) for r in recorder.rows] == [("train", 1), ("train", 2),
                                                                  ("train", 3)]
    last, selected = recorder.rows[-1], recorder.rows[int(plain.metrics["selected_epoch"]) - 1]
    assert last["acc_conflicting"] == plain.metrics["final_acc_conflicting"]
    assert last["acc_aligned"] == plain.metrics["final_acc_aligned"]
    assert selected["acc_conflicting"] == plain.metrics["acc_conflicting"]
    assert 0.0 <= last["color_following"] <= 1.0


def test_two_stage_methods_report_each_phase_in_order(tiny_splits):
    recorder = CurveRecorder(tiny_splits, CPU, names=("conflicting",))
    _run("jtt", {"identification_epochs": 1, "epochs": 2, "batch_size": 128}, tiny_splits,
         recorder)
    assert [(r["phase"], r["epoch"]) for r in recorder.rows] == [("identify", 1), ("final", 1),
                                                                  ("final", 2)]
    assert set(recorder.rows[0]) == {"phase", "epoch", "acc_conflicting"}


def test_an_unknown_split_is_refused(tiny_splits):
    with pytest.raises(ValueError, match="no test split"):
        CurveRecorder(tiny_splits, CPU, names=("conflicted",))


def test_summary_is_mean_std_and_n_over_seeds_in_training_order():
    rows = [{"conflict_ratio": 0.05, "seed": s, "phase": p, "epoch": e, "acc_conflicting": v}
            for s, p, e, v in [(0, "identify", 1, 0.1), (1, "identify", 1, 0.3),
                               (0, "final", 1, 0.5), (1, "final", 1, 0.9)]]
    summary = summarize_curves(rows)
    assert [(r["phase"], r["epoch"], r["n"]) for r in summary] == [("identify", 1, 2),
                                                                    ("final", 1, 2)]
    assert summary[0]["acc_conflicting"] == pytest.approx(0.2)
    assert summary[1]["acc_conflicting_std"] == pytest.approx(math.sqrt(0.08))
    single = summarize_curves(rows[:1])
    assert math.isnan(single[0]["acc_conflicting_std"]) and single[0]["n"] == 1


def _load_script():
    return load_script("epoch_curves")


@pytest.mark.parametrize("args, says", [
    (["--method", "jttt"], "did you mean"),
    (["--set", "lr=abc"], "lr expects a float"),
    (["--source", "mnist", "--data-root", "{corrupt}"], "is not the official"),
    (["--set", "lr=1e12", "--set", "epochs=1", "--set", "batch_size=256"], "not finite"),
])
def test_the_script_refuses_bad_input_in_one_line(args, says, tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"   # corrupt files: an error naming the first of them
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03garbage")
    args = [a.format(corrupt=tmp_path) for a in args]
    with pytest.raises(SystemExit) as exit_:
        _load_script().main(["--source", "mnist-5k", "--seeds", "1", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and says in err and err.count("\n") == 1, err


def test_the_script_writes_rows_and_a_figure(tmp_path, capsys):
    script = _load_script()
    out_csv, out_png = tmp_path / "curves.csv", tmp_path / "curves.png"
    script.main(["--source", "mnist-5k", "--ratios", "0.05,0.2", "--seeds", "2", "--set",
                 "epochs=2", "--set", "batch_size=128", "--csv", str(out_csv), "--png",
                 str(out_png)])
    with open(out_csv) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2 * 2   # ratios x seeds x epochs
    assert {r["conflict_ratio"] for r in rows} == {"0.05", "0.2"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr()
    assert "final_acc_conflicting" in printed.err
    assert "acc_conflicting" in printed.out and "± " in printed.out
    replot = tmp_path / "again.png"
    script.main(["--source", "mnist-5k", "--from-csv", str(out_csv), "--png", str(replot)])
    assert capsys.readouterr().out == printed.out   # the same table, without training
    assert replot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
