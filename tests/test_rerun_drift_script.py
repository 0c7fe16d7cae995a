"""scripts/rerun_drift.py: reads stores and record folders, prints both tables, clear errors."""
from __future__ import annotations

import pytest

from bench.leaderboard.sources import export
from bench.store import Store
from tests.conftest import load_script
from tests.test_rerun_drift import REFERENCE, SPEC, rerun


@pytest.fixture(scope="module")
def script():
    return load_script("rerun_drift")


def test_a_store_of_reruns_against_a_records_folder(script, tmp_path, capsys):
    folder = tmp_path / "records"
    export(REFERENCE, folder, lambda r: "page")
    store_path = tmp_path / "rerun.sqlite"
    with Store(store_path) as store:
        store.put(rerun(SPEC, 2, 0.33))
    script.main(["--rerun", str(store_path), "--reference", str(folder),
                 "--metrics", "acc_conflicting"])
    out = capsys.readouterr().out
    assert "+3.00" in out                                  # 0.30 -> 0.33
    assert "torch_cpu_capability: AVX512 → AVX2" in out
    assert "10.00 (n=3)" in out and "| 0.30 " in out      # seed std 10 points; 3 / 10


def test_nothing_to_pair_is_a_one_line_error(script, tmp_path, capsys):
    folder = tmp_path / "records"
    export(REFERENCE, folder, lambda r: "page")
    with pytest.raises(SystemExit) as stopped:
        script.main(["--rerun", str(folder), "--reference", str(folder)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("rerun_drift: error: no completed run") and err.count("\n") == 1


def test_a_missing_store_is_a_one_line_error(script, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        script.main(["--rerun", str(tmp_path / "nope.sqlite")])
    assert stopped.value.code == 2
    assert "does not exist" in capsys.readouterr().err
