"""scripts/calibrate_backbone.py: test-free by construction, resumable, and its choice."""
from __future__ import annotations


import pytest

import bench.data as data
from bench.studies.calibration import CalibrationRule
from bench.data import prepare_splits
from bench.backbones import CANDIDATES
from tests.conftest import TINY_SPEC, load_script


@pytest.fixture(scope="module")
def script():
    return load_script("calibrate_backbone")


def test_a_calibration_job_never_builds_or_reads_a_test_split(script, request):
    prepare_splits(TINY_SPEC)   # test splits now sit in the cache, ready to be (wrongly) read
    touched = request.getfixturevalue("splits_touched")
    rows = script.run_job(CANDIDATES[-1].name, "erm", 0, "mnist-5k", None, 0.05,
                          CalibrationRule(protocol_epoch=1), erm_epochs=2)
    assert {"train", "val"} <= set(touched)
    assert not set(touched) & set(data.test_dataset_names())
    assert [r["epoch"] for r in rows] == [1, 2]
    assert 0 <= rows[0]["train_acc"] <= 1 and rows[1]["train_acc"] is None
    assert all(0 <= r["val_conflicting_acc"] <= 1 for r in rows)


def fake_rows(backbone, method, seed, *rest):
    """ERM is lazy on every candidate but the first; group-balanced capacity grows with the
    candidate's index."""
    index = [c.name for c in CANDIDATES].index(backbone)
    acc = 0.5 if (method == "erm" and index == 0) else 0.1
    if method == "group-balanced":
        acc = 0.85 + 0.02 * index
    return [{"backbone": backbone, "method": method, "seed": seed, "epoch": e,
             "val_conflicting_acc": acc, "train_acc": 0.95 if e == 10 else None}
            for e in range(1, 13 if method == "erm" else 11)]


def test_calibrate_stages_resumes_and_chooses(script, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(script, "run_job", lambda *a: calls.append(a[:3]) or fake_rows(*a))
    csv_path = tmp_path / "calibration.csv"
    verdicts = script.calibrate(2, "mnist-5k", None, csv_path, workers=1, log=lambda s: None)
    erm_jobs = [c for c in calls if c[1] == "erm"]
    balanced_jobs = [c for c in calls if c[1] == "group-balanced"]
    assert len(erm_jobs) == 2 * len(CANDIDATES)
    # stage (b) only for candidates that passed (a): not the first
    assert {c[0] for c in balanced_jobs} == {c.name for c in CANDIDATES[1:]}
    assert verdicts[0].capable is None and not verdicts[0].lazy
    chosen = script.choose(verdicts)
    assert chosen.backbone == CANDIDATES[-1].name
    table = script.format_table(verdicts, chosen)
    assert "**chosen**" in table and "not run" in table
    calls.clear()
    again = script.calibrate(2, "mnist-5k", None, csv_path, workers=1, log=lambda s: None)
    assert calls == [] and [v.backbone for v in again] == [v.backbone for v in verdicts]


def test_bad_arguments_exit_2(script, capsys):
    assert script.main(["--seeds", "0"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
