"""The literature page's coverage: seeds per cell, runs left to the target, their run time."""
from __future__ import annotations

from bench.leaderboard.literature_coverage import coverage_lines, run_seconds, seeds_left
from bench.record import RunRecord, RunSpec

RATIOS = (0.005, 0.01)
HEADER = ["| method | 0.5% | 1% |", "|---|---|---|"]
NAMES = {"erm": "Vanilla (`erm`)", "dfa": "DFA (`dfa`)", "jtt": "`jtt`"}


def record(method: str, ratio: float, seed: int) -> RunRecord:
    return RunRecord(RunSpec(method, {}, {"conflict_ratio": ratio}), seed, "completed", "none",
                     {"acc_conflicting": 0.5, "seconds_train": 1500.0, "seconds_eval": 300.0},
                     device="cuda")


def cells(records):
    by_cell = {}
    for rec in records:
        by_cell.setdefault((rec.spec.method, rec.spec.data["conflict_ratio"]), []).append(rec)
    return by_cell


def test_run_seconds_sums_every_phase():
    assert run_seconds(record("erm", 0.01, 0)) == 1800.0     # 1,500 training + 300 eval


def test_seeds_left_counts_distinct_seeds_up_to_the_target():
    by_cell = cells([record("erm", 0.005, s) for s in (0, 1, 2, 3)]
                    + [record("erm", 0.01, 0), record("erm", 0.01, 0)])
    # 0.5% is past the target (4 seeds: no negative credit); 1% holds seed 0 twice: 2 left
    assert seeds_left(by_cell, ("erm", "jtt"), RATIOS, target=3) == {"erm": 2, "jtt": 6}


def test_the_section_counts_estimates_and_names_methods_without_runs():
    by_cell = cells([record("erm", 0.005, 0), record("erm", 0.01, 1),
                     record("dfa", 0.01, 0)])
    text = "\n".join(coverage_lines(by_cell, ("erm", "dfa", "jtt"), RATIOS, NAMES, HEADER))
    assert "| Vanilla (`erm`) | 1 | 1 |" in text and "| `jtt` | 0 | 0 |" in text
    assert "Left for 3 seeds a cell: 15 runs (`erm` 4, `dfa` 5, `jtt` 6)." in text
    # 1,800 s a run: erm 4 x 0.5 h, dfa 5 x 0.5 h; jtt has no run to time
    assert "about 4.5 h (`erm` 2.0, `dfa` 2.5)" in text and "on cuda" in text
    assert "No run yet, so no estimate: `jtt`." in text


def test_a_full_table_says_so():
    by_cell = cells([record("erm", r, s) for r in RATIOS for s in range(3)])
    text = "\n".join(coverage_lines(by_cell, ("erm",), RATIOS, NAMES, HEADER))
    assert "Every cell has 3 seeds or more." in text and "Left for" not in text
