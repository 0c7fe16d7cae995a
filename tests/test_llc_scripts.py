"""The issue-27 scripts at small scale: stored runs read without writing, the LLC re-measured
from kept weights on the training split alone, the calibration rule on synthetic traces,
llc-guard's validation pick, and the trajectory's table."""
from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.backbones import build_backbone
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.diagnostics.llc import LLCSettings
from bench.diagnostics.llc_remeasured import overlay, read_remeasured
from bench.diagnostics.llc_sources import find_runs, read_records, training_subset
from bench.errors import BenchError
from bench.harness import make_spec
from bench.record import RunRecord
from bench.store import Store
from bench.weights import save_model, weights_dir_for, weights_path
from tests.conftest import generated_block_and_output, load_script

DATA = ColoredMNISTSpec(source="mnist-5k", conflict_ratio=0.05)
TINY = LLCSettings(subset=128, batch_size=64, chains=2, burnin=2, draws=8)


def keep(store_path, method="erm", seed=0, overrides=None, metrics=None, weights=True,
         stamped=False):
    spec = make_spec(method, overrides or {}, DATA)
    record = RunRecord(spec, seed, "completed", "none", metrics=dict(metrics or {}))
    with Store(store_path) as store:
        store.put(record)
    if weights:
        torch.manual_seed(seed)
        save_model(build_backbone(spec.backbone), spec.backbone,
                   weights_path(weights_dir_for(store_path), spec.key(seed)),
                   record=record if stamped else None)
    return record


def test_runs_are_read_without_writing_the_store(tmp_path):
    store = tmp_path / "runs.sqlite"
    keep(store, seed=0)
    keep(store, seed=1, weights=False)
    keep(store, "jtt", seed=0)
    store.chmod(0o444)                     # a writer would fail on a read-only file
    assert {r.spec.method for r in read_records(store)} == {"erm", "jtt"}
    found = find_runs(store, method="erm")
    assert [r.record.seed for r in found] == [0]          # seed 1 kept no weights
    assert len(find_runs(store, method="erm", weights_only=False)) == 2
    assert find_runs(store, conflict_ratio=0.1) == []


def test_the_subset_is_the_diagnostics_and_no_test_split_is_built(tmp_path, splits_touched):
    from bench.data import prepare_splits
    from bench.diagnostics.pgd import sample_positions
    record = keep(tmp_path / "runs.sqlite")
    images, labels = training_subset(record, TINY, None)
    assert "aligned" not in splits_touched and "conflicting" not in splits_touched
    assert set(splits_touched) <= {"train", "val", "colored"}
    train = prepare_splits(ColoredMNISTSpec(**{**record.spec.data, "seed": 0})).train
    index = sample_positions(len(train), TINY.subset, TINY.seed)
    assert torch.equal(labels, train.labels[index])
    assert torch.equal(images, train.images[index].float() / 255)


def test_remeasure_writes_a_file_a_page_can_overlay(tmp_path):
    remeasure = load_script("llc_remeasure")
    store = tmp_path / "runs.sqlite"
    a = keep(store, seed=0, metrics={"llc": 9.0, "llc_converged": 0.0, "acc_conflicting": 0.1})
    b = keep(store, seed=1, metrics={"llc": 8.0, "acc_conflicting": 0.2})
    parts = []
    for shard in ("0/2", "1/2"):
        parts.append(tmp_path / f"part{shard[0]}.json")
        remeasure.main(["--store", str(store), "--conflict-ratio", "0.05", "--source",
                        "mnist-5k", "--backbone", a.spec.backbone, "--settings",
                        json.dumps({"subset": 128, "batch_size": 64, "chains": 2,
                                    "burnin": 2, "draws": 8}),
                        "--shard", shard, "--out", str(parts[-1])])
    merged = tmp_path / "llc.json"
    remeasure.main(["--merge", *map(str, parts), "--out", str(merged)])
    body = read_remeasured(merged)
    assert set(body["runs"]) == {a.key, b.key} and body["settings"]["draws"] == 8
    for run in body["runs"].values():
        assert {"llc", "llc_mcse", "llc_rhat", "llc_converged"} <= set(run)
    c = keep(store, seed=2, metrics={"llc": 7.0})
    shown = {r.key: r for r in overlay([a, b, c], body)}
    assert shown[a.key].metrics["llc"] == body["runs"][a.key]["llc"]
    assert shown[a.key].metrics["acc_conflicting"] == 0.1          # the rest untouched
    assert "llc" not in shown[c.key].metrics                         # never mixed settings
    assert a.metrics["llc"] == 9.0                                   # the records unchanged


def test_remeasure_refuses_files_of_other_settings(tmp_path):
    from bench.diagnostics.llc_remeasured import write_remeasured
    remeasure = load_script("llc_remeasure")
    write_remeasured(tmp_path / "a.json", {"draws": 8}, {"k/0": {"llc": 1.0}})
    write_remeasured(tmp_path / "b.json", {"draws": 9}, {"k/1": {"llc": 1.0}})
    with pytest.raises(SystemExit) as exit_info:
        remeasure.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                        "--out", str(tmp_path / "c.json")])
    assert exit_info.value.code == 2


def test_calibration_rule_on_synthetic_traces():
    cal = load_script("llc_calibration")
    rng = np.random.default_rng(0)
    flat = 3.0 + rng.standard_normal((4, 700))
    good = cal.score(flat, True, 100, 250, 4, per_pass=1)
    assert all(good[c] for c in cal.CRITERIA)
    climbing = flat + np.linspace(0, 20, 700)
    assert not cal.score(climbing, True, 100, 100, 4, per_pass=1)["doubling"]
    assert not cal.score(flat - 6.0, True, 100, 250, 4, per_pass=1)["positive"]
    noisy = 0.5 + 20 * rng.standard_normal((2, 700))
    assert not cal.score(noisy, True, 50, 100, 2, per_pass=1)["mcse"]
    # the pick: fewest failures, then fewest steps
    scores = {(50, 100, 2): {"m": {c: c != "mcse" for c in cal.CRITERIA}},
              (100, 200, 4): {"m": {c: True for c in cal.CRITERIA}},
              (50, 150, 4): {"m": {c: True for c in cal.CRITERIA}}}
    assert cal.choose(scores) == ((50, 150, 4), 0)
    assert all(b + 2 * t <= 700 for b, t, _ in cal.configurations(700))


def test_calibration_analysis_writes_the_settings_it_picked(tmp_path):
    cal = load_script("llc_calibration")
    rng = np.random.default_rng(1)
    for label in ("erm seed 0", "jtt seed 0"):
        for name, level in (("A1", 0.30), ("A2", 0.30)):
            losses = 0.2 + level / 46.17 * 3 + 0.005 * rng.standard_normal((4, 700))
            meta = {"label": label, "nbeta": 46.17, "per_pass": 16, "explode_ok": True,
                    "settings": {}}
            np.savez(tmp_path / f"{label.replace(' ', '-')}--{name}.npz", losses=losses,
                     init_loss=0.2, meta=json.dumps(meta))
    pick = cal.analyse(tmp_path, log=lambda *_: None)
    assert pick["good_on_every_model"] and pick["larger_step"]
    burnin, draws, chains = pick["config"]
    assert pick["settings"] == {"lr": 3e-3, "localization": 100.0, "chains": chains,
                                "burnin": burnin // 2, "draws": draws // 2}
    LLCSettings(**pick["settings"])                      # valid settings


def test_guard_pick_reads_validation_only_and_breaks_ties_towards_erm(tmp_path):
    pick = load_script("llc_guard_pick").pick
    records = []
    for (q, u), vals in {(0.05, 5.0): [0.95, 0.96], (0.05, 20.0): [0.955, 0.9555],
                         (0.2, 5.0): [0.90, 0.91]}.items():
        for seed, v in enumerate(vals):
            spec = make_spec("llc-guard", {"top_fraction": q, "upweight": u}, DATA)
            records.append(RunRecord(spec, seed, "completed", "none",
                                     metrics={"acc_val": v, "acc_conflicting": 1.0 - q}))
    chosen = pick(records)
    assert chosen["hparams"] == {"top_fraction": 0.05, "upweight": 5.0}   # tie -> smaller ×
    assert math.isclose(chosen["acc_val"], 0.955)
    assert len(chosen["grid"]) == 3


def test_trajectory_recorder_table_and_figure(tmp_path, tiny_splits):
    traj = load_script("llc_trajectory")
    recorder = traj.LLCRecorder(tiny_splits.train, TINY, torch.device("cpu"), probe=False)
    model = build_backbone("baseline")
    before = [p.detach().clone() for p in model.parameters()]
    recorder("train", 1, model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    row = recorder.rows[0]
    assert row["epoch"] == 1 and math.isfinite(row["llc"]) and "llc_mcse" in row
    rows = [{"method": m, "seed": s, "phase": "train", "epoch": e, "llc": float(e + s),
             "llc_mcse": 0.1} for m in ("erm", "jtt") for s in (0, 1) for e in (1, 2)]
    traj.write_csv(rows, tmp_path / "t.csv")
    again = traj.read_csv([tmp_path / "t.csv"])
    assert again == rows
    text = traj.table(again)
    assert "| erm | train | 2 | 2.50 ± 0.71 | 0.10 | 2 |" in text
    traj.plot(again, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0


def test_trajectory_table_counts_converged_seeds_and_says_how_the_probe_tracked(tmp_path):
    traj = load_script("llc_trajectory")
    # seed 0's probe rises with the full estimate, seed 1's falls as it rises
    rows = [{"method": "erm", "seed": s, "phase": "train", "epoch": e, "llc": float(e),
             "llc_mcse": 0.1, "llc_converged": float(e > 1 or s == 0),
             "probe_llc": float(e if s == 0 else 4 - e)} for s in (0, 1) for e in (1, 2, 3)]
    traj.write_csv(rows, tmp_path / "t.csv")
    text = traj.table(traj.read_csv([tmp_path / "t.csv"]))
    assert "| erm | train | 1 | 1.00 ± 0.00 | 0.10 | 2 | 1/2 | 2.00 ± 1.41 |" in text
    assert "| erm | train | 3 | 3.00 ± 0.00 | 0.10 | 2 | 2/2 | 2.00 ± 1.41 |" in text
    assert "- erm: seed 0 1.00, seed 1 -1.00" in text
    # each seed's LLC climbs 1 -> 2 -> 3: a mean step of 1; none negative
    assert "- erm: mean |change| between consecutive epochs 1.00; negative estimate at 0 of 6" \
        in text
    wobbly = [{**r, "llc": [2.0, -1.0, 2.0][r["epoch"] - 1]} for r in rows]
    assert traj.movement(wobbly)["erm"] == (3.0, 2, 6)
    flat = [{**r, "probe_llc": 1.0} for r in rows]
    assert math.isnan(traj.probe_tracking(flat)["erm"][0])     # a constant probe: no r


def test_equal_budget_summary_reads_the_remeasured_llcs(tmp_path, capsys):
    from bench.diagnostics.llc_remeasured import write_remeasured
    script = load_script("llc_equal_budget")
    store = tmp_path / "runs.sqlite"
    runs = {}
    for seed in range(3):
        for method, level in (("erm", 2.0), ("group-balanced", 5.0)):
            record = keep(store, method, seed, metrics={"llc": 99.0, "llc_converged": 0.0,
                                                         "acc_conflicting": 0.5},
                          weights=False)
            runs[record.key] = {"llc": level + 0.1 * seed, "llc_converged": 1.0,
                                "llc_mcse": 0.1, "llc_rhat": 1.01}
    write_remeasured(tmp_path / "llc.json", {}, runs)
    script.main(["--store", str(store), "--remeasured", str(tmp_path / "llc.json"),
                 "--source", "mnist-5k", "--backbone", make_spec("erm", {}, DATA).backbone])
    out = capsys.readouterr().out
    assert "| erm | 3 | 3 | 2.10 ± 0.10 | 0.10 | 1.010 |" in out
    assert "| group-balanced | erm | 10, 16 | 3 | +3.00 ± 0.00 |" in out


def test_overlay_where_measured_touches_only_protocols_holding_a_remeasured_run():
    from bench.diagnostics.llc_remeasured import overlay_where_measured
    from bench.record import RunRecord, RunSpec

    def record(ratio, seed, llc):
        spec = RunSpec("erm", {"epochs": 10}, {"source": "mnist", "conflict_ratio": ratio,
                                               "mode": "background"})
        return RunRecord(spec, seed, "completed", "none", {"llc": llc, "llc_converged": 1.0})

    a0, a1, b0 = record(0.05, 0, 1.0), record(0.05, 1, 2.0), record(0.1, 0, 3.0)
    body = {"settings": {}, "runs": {a0.key: {"llc": 7.0, "llc_converged": 1.0,
                                              "llc_mcse": 0.2}}}
    out, groups = overlay_where_measured([a0, a1, b0], body,
                                         lambda r: r.spec.data["conflict_ratio"])
    assert groups == {0.05}
    assert out[0].metrics["llc"] == 7.0 and out[0].metrics["llc_mcse"] == 0.2
    assert "llc" not in out[1].metrics            # same protocol, not re-measured: no old LLC
    assert out[2] is b0 and out[2].metrics["llc"] == 3.0
    assert a0.metrics["llc"] == 1.0               # the inputs are not modified


def test_remeasure_from_the_zoo_gives_the_stores_numbers_and_refuses_a_changed_file(tmp_path):
    from bench.cli import main as bench_main
    remeasure = load_script("llc_remeasure")
    store = tmp_path / "runs.sqlite"
    a = keep(store, seed=0, metrics={"acc_conflicting": 0.1}, stamped=True)
    keep(store, seed=1, metrics={"acc_conflicting": 0.2}, stamped=True)
    records = tmp_path / "board" / "records"
    assert bench_main(["leaderboard", "--store", str(store), "--records", str(records),
                       "--out", str(tmp_path / "board" / "pages"), "--export",
                       "--no-figures"]) == 0
    zoo = records.parent / "models"
    common = ["--conflict-ratio", "0.05", "--source", "mnist-5k", "--backbone",
              a.spec.backbone, "--settings", json.dumps({"subset": 128, "batch_size": 64,
                                                         "chains": 2, "burnin": 2,
                                                         "draws": 8})]
    remeasure.main(["--store", str(store), *common, "--out", str(tmp_path / "s.json")])
    remeasure.main(["--zoo", str(zoo), *common, "--out", str(tmp_path / "z.json")])
    from_store, from_zoo = (read_remeasured(tmp_path / n) for n in ("s.json", "z.json"))
    assert len(from_zoo["runs"]) == 2 and from_zoo["zoo"] == zoo.as_posix()
    for key, run in from_store["runs"].items():
        assert from_zoo["runs"][key]["llc"] == run["llc"]
    weights = next(p for p in zoo.rglob("*") if p.is_file() and p.name != "manifest.json")
    weights.write_bytes(weights.read_bytes()[:-1])
    with pytest.raises(SystemExit) as exit_info:
        remeasure.main(["--zoo", str(zoo), *common, "--out", str(tmp_path / "bad.json")])
    assert exit_info.value.code == 2


COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards"


def test_the_committed_remeasured_llcs_are_at_the_calibrated_settings_for_every_headline_model():
    from bench.diagnostics.llc import CALIBRATED
    from bench.diagnostics.llc_remeasured import REMEASURED_FILE
    from bench.zoo import headline_protocol, read_manifest
    body = read_remeasured(COMMITTED / "records" / REMEASURED_FILE)
    assert body["settings"] == dataclasses.asdict(CALIBRATED)
    zoo = {e.key: e for e in read_manifest(COMMITTED / "models")}
    assert set(body["runs"]) <= set(zoo)             # every estimate has its model committed
    headline = {k for k, e in zoo.items() if e.protocol == headline_protocol()}
    assert headline <= set(body["runs"])             # and every headline model is measured
    for run in body["runs"].values():
        assert {"llc", "llc_mcse", "llc_rhat", "llc_converged"} <= set(run)


@pytest.mark.slow
def test_one_committed_estimate_is_reproduced_from_the_zoo(tmp_path):
    """Re-measures the headline's `erm` seed 0 from the zoo on the shipped MNIST (about a
    minute on one core) and compares with the committed file (same build: equal; the
    estimate's own noise, its MCSE, is the bound across builds)."""
    from bench.diagnostics.llc_remeasured import REMEASURED_FILE
    from bench.zoo import find
    body = read_remeasured(COMMITTED / "records" / REMEASURED_FILE)
    key = find("erm", 0).key
    remeasure = load_script("llc_remeasure")
    remeasure.main(["--zoo", str(COMMITTED / "models"), "--methods", "erm",
                    "--out", str(tmp_path / "erm.json")])
    again = read_remeasured(tmp_path / "erm.json")["runs"][key]
    committed = body["runs"][key]
    assert abs(again["llc"] - committed["llc"]) <= committed["llc_mcse"]


def test_update_measures_only_what_the_file_lacks_and_never_reuses_a_replaced_runs_entry(tmp_path):
    remeasure = load_script("llc_remeasure")
    store = tmp_path / "runs.sqlite"
    a = keep(store, seed=0)
    b = keep(store, seed=1)
    common = ["--store", str(store), "--conflict-ratio", "0.05", "--source", "mnist-5k",
              "--backbone", a.spec.backbone, "--settings",
              json.dumps({"subset": 128, "batch_size": 64, "chains": 2, "burnin": 2,
                          "draws": 8})]
    remeasure.main([*common, "--methods", "erm", "--out", str(tmp_path / "first.json")])
    first = read_remeasured(tmp_path / "first.json")
    assert first["runs"][a.key]["created_at"] == a.created_at
    # pretend a's entry is old and b's was made from a record since replaced
    from bench.diagnostics.llc_remeasured import write_remeasured
    runs = {a.key: {**first["runs"][a.key], "llc": 123.0},
            b.key: {**first["runs"][b.key], "llc": 456.0, "created_at": "1999-01-01"}}
    write_remeasured(tmp_path / "old.json", first["settings"], runs)
    remeasure.main([*common, "--update", str(tmp_path / "old.json"),
                    "--out", str(tmp_path / "new.json")])
    new = read_remeasured(tmp_path / "new.json")["runs"]
    assert new[a.key]["llc"] == 123.0                       # kept, not measured again
    assert new[b.key]["llc"] == first["runs"][b.key]["llc"]  # the replaced run's entry redone
    shown = {r.key: r for r in overlay([a, b], {"runs": runs})}
    assert shown[a.key].metrics["llc"] == 123.0
    assert "llc" not in shown[b.key].metrics                # never another record's estimate
    with pytest.raises(SystemExit):
        remeasure.main([*common[:-1], json.dumps({"draws": 9}), "--update",
                        str(tmp_path / "old.json"), "--out", str(tmp_path / "x.json")])


def test_remeasure_skips_methods_that_declare_the_llc_undefined_and_uses_each_methods_view(
        tmp_path, monkeypatch):
    from bench.methods.greyscale import decolorize
    remeasure = load_script("llc_remeasure")
    seen = {}

    def fake_estimate(model, images, labels, settings, device):
        seen[len(seen)] = images
        return {"llc": 1.0, "llc_mcse": 0.1, "llc_rhat": 1.0, "llc_converged": 1.0}
    monkeypatch.setattr(remeasure, "estimate_llc", fake_estimate)
    store = tmp_path / "runs.sqlite"
    erm = keep(store, "erm", metrics={"acc_conflicting": 0.1})
    grey = keep(store, "greyscale", metrics={"acc_conflicting": 0.3})
    ablated = keep(store, "ablate-texture", metrics={"acc_conflicting": 0.2})
    lines = []
    out = remeasure.measure(store, None, TINY, torch.device("cpu"), (0, 1), None, 0.05,
                            "mnist-5k", erm.spec.backbone, log=lines.append)
    assert set(out) == {erm.key, grey.key}
    skipped = [line for line in lines if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].startswith("ablate-texture")
    assert "LLC not defined for this method" in skipped[0]
    first, second = seen[0], seen[1]                  # same subset; one of them decolourised
    assert torch.equal(first, decolorize(second)) or torch.equal(second, decolorize(first))
    assert not torch.equal(first, second)
    assert ablated.key not in out


def test_trajectory_measures_each_method_as_it_was_fitted(tiny_splits):
    from bench.diagnostics import NotApplicable, method_class
    from bench.methods.greyscale import decolorize
    traj = load_script("llc_trajectory")
    plain = traj.LLCRecorder(tiny_splits.train, TINY, torch.device("cpu"), probe=False,
                             method=method_class("erm"))
    grey = traj.LLCRecorder(tiny_splits.train, TINY, torch.device("cpu"), probe=False,
                            method=method_class("greyscale"))
    (plain_images, plain_labels), = plain._subsets.values()
    (grey_images, grey_labels), = grey._subsets.values()
    assert torch.equal(plain_labels, grey_labels)
    assert torch.equal(grey_images, decolorize(plain_images))
    assert not torch.equal(grey_images, plain_images)
    with pytest.raises(NotApplicable, match="LLC not defined"):
        traj.LLCRecorder(tiny_splits.train, TINY, torch.device("cpu"), probe=False,
                         method=method_class("ablate-texture"))


def test_probe_check_summarises_how_the_probe_follows_the_full_estimate():
    from bench.methods.llc_guard import LLCGuardHparams
    check = load_script("llc_probe_check")
    assert check.probe_at(0) == LLCGuardHparams().probe()      # seed 0 is the guard's own probe
    assert check.probe_at(3).seed == 3
    full = [1.0, 2.0, 3.0, 4.0]
    rows = [{"method": "erm" if i < 2 else "jtt", "full": f, "probe_0": 2 * f + 1,
             "probe_1": 2 * f + 1 + (0.5 if i % 2 else -0.5)} for i, f in enumerate(full)]
    summary = check.tracking(rows, [0, 1])
    assert summary["pearson"] == pytest.approx(1.0) and summary["spearman"] == pytest.approx(1.0)
    assert summary["probe_seed_std"] == pytest.approx(np.sqrt(0.125))  # two values 0.5 apart
    assert summary["full_between_std"] == pytest.approx(np.std(full, ddof=1))
    assert summary["mean_probe_minus_full"] == pytest.approx(np.mean([f + 1 for f in full]))
    reversed_rows = [{**r, "probe_0": -r["probe_0"]} for r in rows]
    assert check.tracking(reversed_rows, [0, 1])["spearman"] == pytest.approx(-1.0)
    assert list(check._ranks(np.array([3.0, 1.0, 3.0]))) == [1.5, 0.0, 1.5]
    text = check.table(rows, [0, 1])
    assert "| erm | 2 | 1.50 ± 0.71 | 4.00 ± 1.41 | 0.35 |" in text
    with pytest.raises(BenchError):
        check.tracking(rows[:2], [0, 1])


def test_probe_check_summary_from_its_csv_leaves_out_negative_full_estimates(tmp_path, capsys):
    check = load_script("llc_probe_check")
    rows = [{"method": "erm", "seed": float(i), "key": f"k/{i}", "full": f, "full_mcse": 0.1,
             "probe_0": f + 0.1 * i, "probe_1": f - 0.1} for i, f in enumerate([1.0, 2.0, 3.0])]
    rows.append({"method": "lff", "seed": 0.0, "key": "l/0", "full": -2.0, "full_mcse": 0.1,
                 "probe_0": 9.0, "probe_1": 9.0})
    path = tmp_path / "rows.csv"
    import csv
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert check.read_csv(path) == rows
    check.main(["--from-csv", str(path), "--probe-seeds", "0,1"])
    out = capsys.readouterr().out
    assert "| lff |" not in out and "| erm | 3 |" in out
    assert "models 3.000" in out and "pearson 1.000" in out


def test_the_docs_probe_table_is_the_scripts_output_from_the_committed_rows(capsys):
    block, generated = generated_block_and_output(capsys, "llc_probe_check",
                                                  "leaderboards/records/llc-probe-check.csv")
    assert block == generated


def test_the_docs_guard_grid_table_is_the_committed_pick():
    repo = Path(__file__).resolve().parents[1]
    pick = json.loads((repo / "leaderboards" / "records" / "llc-guard-pick.json").read_text())
    doc = (repo / "docs" / "llc-calibration.md").read_text()
    for cell in pick["grid"]:
        value = f"{100 * cell['acc_val']:.2f}%"
        if (cell["top_fraction"], cell["upweight"]) == tuple(pick["hparams"].values()):
            value = f"**{value}**"
        row = (f"| {cell['top_fraction']:g} | {cell['upweight']:g} | {value} | "
               f"{cell['interventions'][0]:.0f} |")
        assert row in doc, row


def test_probe_check_measures_each_zoo_model_at_every_probe_seed_from_one_split(tmp_path,
                                                                              monkeypatch):
    from bench.cli import main as bench_main
    check = load_script("llc_probe_check")
    store = tmp_path / "runs.sqlite"
    a = keep(store, seed=0, metrics={"acc_conflicting": 0.1}, stamped=True)
    b = keep(store, seed=1, metrics={"acc_conflicting": 0.2}, stamped=True)
    c = keep(store, "color-kl", seed=0, metrics={"acc_conflicting": 0.3}, stamped=True)
    records = tmp_path / "board" / "records"
    assert bench_main(["leaderboard", "--store", str(store), "--records", str(records),
                       "--out", str(tmp_path / "board" / "pages"), "--export",
                       "--no-figures"]) == 0
    built, seen = [], []
    real_split = check.training_split
    monkeypatch.setattr(check, "training_split",
                        lambda record, root: built.append(record.key) or real_split(record, root))
    monkeypatch.setattr(check, "estimate_llc", lambda model, images, labels, settings, device:
                        seen.append(settings.seed) or {"llc": 1.0 + settings.seed})
    full = {a.key: {"llc": 2.0, "llc_mcse": 0.1, "llc_converged": 1.0},
            b.key: {"llc": 3.0, "llc_mcse": 0.1, "llc_converged": 0.0}}     # b: not converged
    # c: a converged estimate on file for a method that declares the LLC undefined
    full[c.key] = {"llc": -4.0, "llc_mcse": 0.1, "llc_converged": 1.0}
    rows = check.measure(records.parent / "models", full, None, [0, 1, 2], 0.05, "mnist-5k",
                         a.spec.backbone, torch.device("cpu"), log=lambda line: None)
    assert [r["key"] for r in rows] == [a.key]
    assert (rows[0]["full"], rows[0]["probe_0"], rows[0]["probe_2"]) == (2.0, 1.0, 3.0)
    assert built == [a.key] and seen == [0, 1, 2]       # one split, three probe seeds


def test_the_docs_trajectory_table_is_the_scripts_output_from_the_committed_rows(capsys):
    block, generated = generated_block_and_output(capsys, "llc_trajectory",
                                                  "leaderboards/records/llc-trajectory.csv")
    assert block == generated
    repo = Path(__file__).resolve().parents[1]
    assert (repo / "docs" / "images" / "llc-trajectory.png").stat().st_size > 0


def test_the_committed_trajectory_meets_the_pages_llc_at_each_runs_selected_epoch():
    """The trajectory retrains each run exactly as its record did, so at the epoch the run
    selected its model is the zoo's model, measured on the same subset with the same chains:
    its LLC is the page's (the committed re-measured file), not merely close to it."""
    from bench.diagnostics.llc_sources import find_zoo_runs
    traj = load_script("llc_trajectory")
    repo = Path(__file__).resolve().parents[1]
    rows = traj.read_csv([repo / "leaderboards" / "records" / "llc-trajectory.csv"])
    page = read_remeasured(repo / "leaderboards" / "records" / "llc-remeasured.json")["runs"]
    runs = {(r.record.spec.method, r.record.seed): r.record
            for r in find_zoo_runs(repo / "leaderboards" / "models", conflict_ratio=0.05,
                                   source="mnist", backbone="k3-4-16-16-pool-end")
            if r.record.spec.method != "erm" or r.record.spec.hparams.get("epochs") == 10}
    checked = 0
    for method, seed in {(r["method"], r["seed"]) for r in rows}:
        record = runs[(method, seed)]
        run = [r for r in rows if r["method"] == method and r["seed"] == seed]
        last_phase = run[-1]["phase"]
        (at,) = [r for r in run if r["phase"] == last_phase
                 and r["epoch"] == record.metrics["selected_epoch"]]
        assert at["llc"] == pytest.approx(page[record.key]["llc"], rel=1e-9), (method, seed)
        checked += 1
    assert checked >= 8
