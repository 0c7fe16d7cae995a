"""``bench`` end to end on the bundled digits with a tiny config, and its one-line errors."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from unittest import mock

import pytest

from bench.cli import main
from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.datasets.digits import resolve_source
from tests.conftest import copy_of_mnist

TINY = ["--images", "mnist-5k", "--epochs", "1", "--set", "batch_size=64", "--device", "cpu",
        "--diagnostics", "none", "--no-keep-weights"]


def _run(store, *extra: str) -> int:
    return main(["run", "--method", "erm", *TINY, "--store", str(store), *extra])


def _records(store) -> list[dict]:
    con = sqlite3.connect(store)
    try:
        return [json.loads(r[0]) for r in con.execute("SELECT record FROM runs ORDER BY id")]
    finally:
        con.close()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """One finished tiny run (seed 0), shared by the read-only tests of this module."""
    store = tmp_path_factory.mktemp("cli") / "results.sqlite"
    assert _run(store) == 0
    return store


def test_run_stores_a_completed_seed_with_the_headline_metrics(stored):
    [record] = _records(stored)
    assert record["status"] == "completed" and record["source"] == "mnist-5k"
    for name in ("acc_train", "acc_val", "acc_aligned", "acc_conflicting", "acc_cycled",
                 "acc_greyscale", "worst_group_acc", "seconds_data", "seconds_train",
                 "seconds_eval"):
        assert name in record["metrics"], name
    assert len(record["confusion_conflicting"]) == 10


def test_rerun_skips_stored_seeds_and_force_reruns(stored, capsys):
    assert _run(stored) == 0
    assert "already stored, skipped" in capsys.readouterr().err
    assert len(_records(stored)) == 1
    # Mark the stored row; only a real rerun can overwrite the mark.
    con = sqlite3.connect(stored, isolation_level=None)
    [(blob,)] = con.execute("SELECT record FROM runs").fetchall()
    marked = json.loads(blob)
    marked["metrics"]["acc_aligned"] = -1.0
    con.execute("UPDATE runs SET record = ?", (json.dumps(marked),))
    con.close()
    assert _run(stored) == 0
    assert _records(stored)[0]["metrics"]["acc_aligned"] == -1.0       # skipped: kept
    capsys.readouterr()
    assert _run(stored, "--force") == 0
    assert "already stored" not in capsys.readouterr().err
    [rerun] = _records(stored)
    assert 0.0 <= rerun["metrics"]["acc_aligned"] <= 1.0                 # rerun: replaced


def test_results_formats(stored, capsys):
    assert main(["results", "--format", "json", "--store", str(stored)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    for key in ("id", "method", "dataset", "source", "seed", "hparams", "metrics", "versions",
                "created_at"):
        assert key in row
    assert row["method"] == "erm" and row["hparams"]["batch_size"] == 64
    assert main(["results", "--format", "csv", "--store", str(stored)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["method"] == "erm"
    assert abs(float(rows[0]["acc_aligned"]) - row["metrics"]["acc_aligned"]) < 1e-12
    assert main(["results", "--format", "table", "--store", str(stored)]) == 0
    narrow = capsys.readouterr().out
    assert "erm" in narrow
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 100
    assert main(["results", "--format", "table", "--wide", "--store", str(stored)]) == 0
    wide = capsys.readouterr().out
    header = next(line for line in wide.splitlines() if line.lstrip().startswith("id"))
    for name in ("acc_aligned", "acc_conflicting", "acc_cycled", "acc_greyscale",
                 "worst_group_acc", "seconds_train", "color_following", "gradcam_shape_share",
                 "eps_to_flip_conflicting", "llc"):      # every header whole, on one line
        assert f" {name} " in f"{header} ", name
    assert "…" not in wide


def test_list_shows_methods_datasets_sources(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("erm", "conflicting", "mnist-5k", "baseline"):
        assert word in out
    assert "knowledge of the bias's form" in " ".join(out.split())   # greyscale's class


@pytest.mark.slow
def test_subprocess_run_and_results(tmp_path):
    """Two seeds on two workers, output to pipes (not a terminal): one plain line per seed as
    it finishes, with the count; the summary fits 100 columns, headers whole."""
    store = tmp_path / "r.sqlite"
    run = subprocess.run([sys.executable, "-m", "bench", "run", "--method", "erm", *TINY,
                          "--seeds", "2", "--workers", "2", "--store", str(store)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "2 in parallel × 1 torch threads each" in run.stderr
    finished = [line for line in run.stderr.splitlines() if line.startswith("seed ")]
    assert len(finished) == 2 and "[1/2 seeds, ETA" in finished[0] and \
        finished[1].endswith("[2/2 seeds]"), run.stderr
    assert "\x1b[" not in run.stderr and "\r" not in run.stderr      # nothing that redraws
    assert "mean ± std" in run.stdout
    assert max(len(line.rstrip()) for line in run.stdout.splitlines()) <= 100
    assert " acc_conflicting " in run.stdout and "…" not in run.stdout
    shown = subprocess.run([sys.executable, "-m", "bench", "results", "--format", "json",
                            "--store", str(store)], capture_output=True, text=True, timeout=300)
    assert sorted(r["seed"] for r in json.loads(shown.stdout)) == [0, 1]


def test_failed_seeds_are_stored_and_the_run_goes_on(tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    code = _run(store, "--set", "lr=1e30", "--seeds", "2")
    assert code == 1
    records = _records(store)
    assert sorted((r["seed"], r["status"]) for r in records) == [(0, "failed"), (1, "failed")]
    assert all("FloatingPointError" in r["error"] for r in records)


def _one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    # progress lines may come first; the error itself is the one last line, no traceback
    lines = [line for line in err.splitlines() if line.strip()]
    assert "error:" in lines[-1] and "Traceback" not in err, err
    assert sum("error" in line for line in lines) == 1, err
    return lines[-1]


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:          # argparse errors exit through sys.exit(2)
        return exc.code


@pytest.mark.parametrize("argv,expected", [
    (["run", "--method", "ermm", *TINY], "did you mean 'erm'"),
    (["run", "--method", "erm", "--train-split", "colord", *TINY], "did you mean 'colored'"),
    (["run", "--method", "erm", "--conflict-ratio", "1.5", *TINY], "--conflict-ratio 1.5"),
    (["run", "--method", "erm", "--seeds", "0", *TINY], "positive integer"),
    (["run", "--method", "erm", *TINY, "--set", "lr=abc"], "lr expects a float"),
    (["run", "--method", "erm", *TINY, "--set", "lrr=0.1"], "did you mean 'lr'"),
    (["run", "--method", "erm", *TINY, "--device", "tpu"], "expected auto, cpu or cuda"),
    (["run", "--method", "erm", *TINY[:2], "--set", "epochs=0"], "epochs must be >= 1"),
    (["run", "--method", "erm", *TINY, "--set", "epochs=3"], "give one of them"),
    (["run", "--method", "erm", *TINY, "--set", "batch_size=-5"], "batch_size must be >= 1"),
    (["run", "--method", "erm", *TINY, "--set", "batch_size=0"], "batch_size must be >= 1"),
    (["run", "--method", "erm", *TINY, "--set", "lr=-1"], "lr must be > 0"),
    (["run", "--method", "erm", *TINY, "--set", "lr=inf"], "lr must be > 0"),
    (["run", "--method", "erm", *TINY, "--set", "batch_size=100000"],
     "larger than the training set (3600 images)"),
    (["run", "--method", "erm", *TINY, "--set", "batch_size=100000", "--seeds", "2",
      "--workers", "2"], "larger than the training set (3600 images)"),   # from a worker
    (["run", "--method", "lff", *TINY, "--set", "optimizer=rmsprop"], "one of sgd, adam"),
    (["run", "--method", "erm", *TINY, "--diagnostics", "pgd", "--diagnostic", "pgd.steps=0"],
     "steps must be >= 1"),
    (["run", "--method", "erm", *TINY, "--diagnostic", "pgd.steps=3"], "pgd is not selected"),
    (["run", "--method", "erm", *TINY, "--diagnostics", "llc", "--diagnostic", "llc.chain=2"],
     "did you mean 'chains'"),
    (["run", "--method", "erm", *TINY, "--workers", "0"], "positive integer"),
    (["run", "--method", "erm", *TINY, "--train-step", "graphs"],
     "--train-step graphs: expected one of eager, fused, compiled"),
    (["run", "--method", "erm", *TINY, "--first-seed", str(2**64)], "seeds are at most"),
    (["run", "--method", "erm", *TINY, "--first-seed", str(2**63 - 1), "--seeds", "2"],
     "seed 9223372036854775808 is not usable"),
    (["run", "--method", "erm", *TINY, "--first-seed", "-1"], "seeds are 0 or more"),
    (["sweep", "--methods", "erm", *TINY[:2], "--first-seed", "-3"], "seeds are 0 or more"),
    (["run", "--method", "erm", *TINY, "--jitter", "-0.1"], "--jitter -0.1: must be 0 or more"),
])
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    store = tmp_path / "r.sqlite"
    line = _one_line_error(capsys, _exit_code([*argv, "--store", str(store)]))
    assert expected in line
    assert not store.exists() or _records(store) == []        # nothing stored as a result


def test_epochs_sets_each_methods_main_training_length(tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    assert main(["run", "--method", "dfr", *TINY, "--set", "retrains=1", "--store",
                 str(store)]) == 0
    [record] = _records(store)
    assert record["status"] == "completed" and record["hparams"]["erm_epochs"] == 1


def test_a_result_that_cannot_be_stored_is_kept_and_imported_later(tmp_path, capsys,
                                                                  monkeypatch):
    """The store passes the check, then refuses the write after training (it became
    read-only), and its pending folder cannot be made: the record goes to the unsaved folder,
    the one-line error names it, and the next command that opens the store for writing adds it
    (the same run again: it finds its seed stored and trains nothing). Read-only commands
    such as ``bench results`` never write, so they do not ingest it."""
    import os
    from bench.store import Store
    store = tmp_path / "r.sqlite"
    (tmp_path / "r.sqlite.pending").write_text("a file where the pending folder would go")

    def refuse(self, record, replace):
        raise sqlite3.OperationalError("attempt to write a readonly database")
    monkeypatch.setattr(Store, "_put", refuse)
    line = _one_line_error(capsys, _run(store))
    unsaved = os.environ["BENCH_UNSAVED_DIR"]
    assert "not writable" in line and unsaved in line
    monkeypatch.undo()
    monkeypatch.setenv("BENCH_UNSAVED_DIR", unsaved)
    assert main(["results", "--format", "json", "--store", str(store)]) == 0
    assert json.loads(capsys.readouterr().out) == []          # read-only: not ingested yet
    assert os.listdir(unsaved)
    assert _run(store) == 0
    assert not os.listdir(unsaved)
    capsys.readouterr()
    assert main(["results", "--format", "json", "--store", str(store)]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["status"] == "completed" and record["method"] == "erm"


def _flip_pixels(content: bytearray) -> bytes:
    content[16:16 + 784] = bytes(255 - b for b in content[16:16 + 784])
    return content


def _truncate_gz(raw) -> None:
    path = raw / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100000])


@pytest.mark.parametrize("edits, damage, names", [
    ({"train-images-idx3-ubyte": _flip_pixels}, None, "raw/train-images-idx3-ubyte"),
    ({"t10k-labels-idx1-ubyte": lambda c: c[:8] + b"\xff" * (len(c) - 8)}, None,
     "raw/t10k-labels-idx1-ubyte"),
    ({}, _truncate_gz, "raw/train-images-idx3-ubyte.gz"),
    ({"train-labels-idx1-ubyte": lambda c: None}, None, "train-labels-idx1-ubyte"),
    (None, None, "{root}/MNIST/raw/train-images-idx3-ubyte[.gz]"),     # holds nothing
    (None, None, "--data-root {root}x: no such folder"),               # a typo in the path
])
def test_bad_mnist_copies_are_one_line_naming_the_file_and_exit_2(tmp_path, capsys, edits,
                                                                  damage, names):
    root = tmp_path / "data"
    root.mkdir()
    if edits is not None:
        copy_of_mnist(root, edits)
    if damage is not None:
        damage(root / "MNIST" / "raw")
    data_root = f"{root}x" if "no such folder" in names else str(root)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = main(["run", "--method", "erm", *TINY, "--images", "auto", "--data-root", data_root,
                 "--store", str(tmp_path / "r.sqlite")])
    line = _one_line_error(capsys, code)
    assert names.format(root=root) in line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing made


def test_an_unofficial_copy_runs_when_allowed_and_says_so(tmp_path, capsys):
    copy_of_mnist(tmp_path, {"train-images-idx3-ubyte": _flip_pixels})
    store = tmp_path / "r.sqlite"
    argv = ["run", "--method", "erm", *TINY, "--images", "mnist", "--data-root", str(tmp_path),
            "--store", str(store), "--allow-unofficial-data"]
    source = resolve_source("mnist", tmp_path, allow_unofficial=True)
    # Full-MNIST training is not what this test is about: the run trains on the tiny splits.
    tiny = prepare_splits(ColoredMNISTSpec(source="mnist-5k"))
    with mock.patch("bench.harness.prepare_splits", return_value=tiny):
        assert main(argv) == 0
    [record] = _records(store)
    assert record["source"] == source and record["data"]["source"].startswith("mnist@unofficial-")


def test_unwritable_store_path(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    line = _one_line_error(capsys, _run(tmp_path / "a-file" / "r.sqlite"))
    assert "--store" in line


def test_locked_store_fails_fast_and_loses_nothing(stored, tmp_path, capsys):
    before = _records(stored)
    other = sqlite3.connect(stored, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        line = _one_line_error(capsys, _run(stored, "--first-seed", "5"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked" in line
    assert _records(stored) == before


def test_results_on_a_non_database_file(tmp_path, capsys):
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database\n" * 50)
    line = _one_line_error(capsys, main(["results", "--store", str(path)]))
    assert "not a readable results database" in line


def _store_with_a_bad_row(stored, tmp_path):
    import shutil
    path = tmp_path / "results.sqlite"
    shutil.copyfile(stored, path)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO runs (key, spec_hash, seed, status, method, dataset, source, "
                "created_at, record) VALUES ('x/1', '', 1, 'completed', 'erm', 'colored', "
                "'mnist-5k', '', '{\"schema_version\": 7}')")
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("command", [["results"], ["results", "--format", "jsonl"],
                                     ["leaderboard", "--no-figures"]])
def test_read_commands_skip_a_bad_store_row_with_a_warning(stored, tmp_path, capsys, caplog,
                                                           command):
    path = _store_with_a_bad_row(stored, tmp_path)
    extra = ["--out", str(tmp_path / "pages")] if command[0] == "leaderboard" else []
    assert main([*command, "--store", str(path), *extra]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert [r.getMessage() for r in caplog.records if "row 2" in r.getMessage()] == [
        f"warning: results store {path}, row 2: record schema 7 is newer than this bench "
        f"reads (2); upgrade lazy-artist-bench; skipped"]


def test_run_refuses_a_store_with_a_bad_row_before_training(stored, tmp_path, capsys):
    path = _store_with_a_bad_row(stored, tmp_path)
    before = path.read_bytes()
    assert _run(path, "--seeds", "2") == 2
    err = capsys.readouterr().err
    assert "row 2: record schema 7" in err and "nothing was run" in err
    assert len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before


@pytest.mark.parametrize("command", [["run", "--method", "erm"], ["sweep", "--methods", "erm",
                                                                  "--dry-run"]])
def test_a_zero_conflict_ratio_warns_why(tmp_path, capsys, command):
    """Legal, but no validation image is conflicting: the selection that reads them is NaN."""
    assert main([*command, *TINY, "--conflict-ratio", "0", "--store",
                 str(tmp_path / "r.sqlite")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: --conflict-ratio 0: no training or validation image is bias-conflicting" \
        in err and "scores NaN" in err
