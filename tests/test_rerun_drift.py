"""bench/studies/rerun_drift.py: pairing reruns with their reference, the changes, the spread."""
from __future__ import annotations

import math

import pytest

from bench.record import RunRecord, RunSpec
from bench.studies.rerun_drift import pair_reruns, row_drift

DATA = {"conflict_ratio": 0.05, "source": "mnist", "mode": "background"}
SPEC = RunSpec("erm", {"epochs": 10}, DATA)
OTHER = RunSpec("jtt", {"epochs": 20}, DATA)
AVX512 = {"cpu_model": "AMD EPYC", "torch_cpu_capability": "AVX512", "torch_num_threads": "1"}
AVX2 = {**AVX512, "torch_cpu_capability": "AVX2"}


def record(spec, seed, acc, versions=AVX512, created="2026-11-01T00:00:00+00:00",
           status="completed", **metrics):
    return RunRecord(spec, seed, status, "none", {"acc_conflicting": acc, **metrics},
                     versions=dict(versions), created_at=created)


def rerun(spec, seed, acc, **kwargs):
    return record(spec, seed, acc, AVX2, "2026-11-30T00:00:00+00:00", **kwargs)


REFERENCE = [record(SPEC, 0, 0.10), record(SPEC, 1, 0.20), record(SPEC, 2, 0.30),
             record(OTHER, 0, 0.90)]


def test_reruns_pair_by_key_and_only_completed_ones():
    reruns = [rerun(SPEC, 1, 0.25), rerun(SPEC, 0, 0.04), rerun(SPEC, 7, 0.5),
              rerun(OTHER, 0, 0.0, status="failed")]
    pairs = pair_reruns(REFERENCE, reruns)
    assert [(p.rerun.spec.method, p.rerun.seed) for p in pairs] == [("erm", 0), ("erm", 1)]
    assert pairs[0].delta("acc_conflicting") == pytest.approx(-0.06)
    assert pairs[1].delta("acc_conflicting") == pytest.approx(0.05)
    assert pairs[0].delta("color_following") is None   # neither side measured it


def test_the_same_record_read_twice_is_not_a_rerun():
    assert pair_reruns(REFERENCE, REFERENCE) == []


def test_changed_conditions_name_what_differs_and_count_unrecorded_ones():
    (pair,) = pair_reruns(REFERENCE, [rerun(SPEC, 0, 0.1)])
    assert pair.changed_conditions() == {"torch_cpu_capability": ("AVX512", "AVX2")}
    old = record(SPEC, 0, 0.1, versions={"torch_num_threads": "1"})
    (pair,) = pair_reruns([old], [rerun(SPEC, 0, 0.1)])
    assert pair.changed_conditions()["cpu_model"] == (None, "AMD EPYC")
    assert "torch_num_threads" not in pair.changed_conditions()
    capped = record(SPEC, 0, 0.1, {**AVX2, "onednn_max_cpu_isa": "AVX2"}, "2026-11-30T00:00:00+00:00")
    (pair,) = pair_reruns(REFERENCE, [capped])
    assert pair.changed_conditions()["onednn_max_cpu_isa"] == (None, "AVX2")


def test_row_drift_reads_the_largest_change_against_the_seed_std():
    pairs = pair_reruns(REFERENCE, [rerun(SPEC, 0, 0.04), rerun(SPEC, 1, 0.25),
                                    rerun(OTHER, 0, 0.92)])
    erm, jtt = row_drift(pairs, REFERENCE, "acc_conflicting")
    assert (erm.method, erm.reruns, erm.seeds) == ("erm", 2, 3)
    assert erm.mean_abs_delta == pytest.approx(0.055)
    assert erm.max_abs_delta == pytest.approx(0.06)
    assert erm.seed_std == pytest.approx(0.1)            # seeds 0.1, 0.2, 0.3
    assert erm.max_over_seed_std == pytest.approx(0.6)
    # one reference seed: no spread to read the change against
    assert jtt.seeds == 1 and math.isnan(jtt.seed_std) and math.isnan(jtt.max_over_seed_std)


def test_row_drift_skips_rows_without_the_metric():
    pairs = pair_reruns(REFERENCE, [rerun(SPEC, 0, 0.04)])
    assert row_drift(pairs, REFERENCE, "color_following") == []
