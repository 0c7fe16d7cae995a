"""Rows whose seeds ran different training code are named on their page."""
import json

from bench.datasets.colored_mnist import PALETTE
from bench.leaderboard import code_versions
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.code_versions import code_version_lines, fingerprint_of
from bench.leaderboard.tables import build_rows
from bench.record import RunRecord, RunSpec

DATA = {"source": "mnist", "conflict_ratio": 0.05, "mode": "background", "jitter": 0.0,
        "val_fraction": 0.1, "palette": [list(c) for c in PALETTE]}


def rec(seed, commit, fingerprint=None, method="erm"):
    versions = {"training_code": fingerprint} if fingerprint else {}
    return RunRecord(RunSpec(method, {"epochs": 10}, dict(DATA)), seed, "completed", "none",
                     {"acc_conflicting": 0.1}, versions=versions, git_commit=commit,
                     created_at="2025-01-01T00:00:00+00:00")


def test_a_record_s_own_fingerprint_wins_and_older_ones_are_looked_up():
    known = {"c1": {"erm": "aaaa"}}
    assert fingerprint_of(rec(0, "c1", "bbbb"), known) == "bbbb"
    assert fingerprint_of(rec(0, "c1"), known) == "aaaa"
    assert fingerprint_of(rec(0, "c2"), known) is None


def test_one_version_says_nothing_two_or_unknown_are_named():
    catalog = MethodCatalog({"erm": {"epochs": 10}})
    same = build_rows([rec(0, "c1", "f1"), rec(1, "c2", "f1")], catalog)
    assert code_version_lines(same, {}) == []
    mixed = build_rows([rec(0, "c1", "f1"), rec(1, "c2", "f2"), rec(2, "c3")], catalog)
    lines = code_version_lines(mixed, {})
    assert lines[0] == "## Code versions"
    assert lines[-2] == ("- `erm`: `f1` (seeds 0; commits c1); `f2` (seeds 1; commits c2); "
                         "unknown (seeds 2; commits c3).")


def test_the_committed_file_covers_every_committed_record_without_its_own():
    from pathlib import Path
    from bench.leaderboard.sources import read_records_dir
    folder = Path(__file__).resolve().parents[1] / "leaderboards" / "records"
    known = code_versions.load(folder)
    missing = [r.key for r in read_records_dir(folder) if fingerprint_of(r, known) is None]
    assert missing == []
    assert json.loads((folder / code_versions.CODE_VERSIONS_FILE).read_text()) == known
