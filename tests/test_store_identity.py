"""Stores are ours: an application id set at creation, other SQLite files refused unchanged,
earlier stores adopted, and read-only opening that creates nothing."""
from __future__ import annotations

import json
import sqlite3

import pytest

from bench.cli import main
from bench.errors import StoreError
from bench.record import RunRecord, RunSpec
from bench.store import Store
from bench.store_identity import APPLICATION_ID, FORMAT_VERSION, RUNS_TABLE

SPEC = RunSpec("erm", {"lr": 0.1}, {"source": "mnist-5k", "conflict_ratio": 0.05,
                                    "mode": "background"})


def _header_ids(path) -> tuple[int, int]:
    """(application id, user version) straight from the file's 100-byte header."""
    header = path.read_bytes()[:100]
    return int.from_bytes(header[68:72], "big"), int.from_bytes(header[60:64], "big")


def _other_program_db(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    con.execute("INSERT INTO notes (text) VALUES ('buy milk')")
    con.commit()
    con.close()
    return path.read_bytes()


def _legacy_store(path):
    """A store as earlier benches made it: our runs table, no application id."""
    con = sqlite3.connect(path)
    con.execute(RUNS_TABLE)
    record = RunRecord(SPEC, 0, "completed", "none", metrics={"acc_conflicting": 0.5})
    con.execute("INSERT INTO runs (key, spec_hash, seed, status, method, dataset, source, "
                "created_at, record) VALUES (?,?,?,?,?,?,?,?,?)",
                (record.key, SPEC.hash(), 0, "completed", "erm", "colored", "mnist-5k",
                 record.created_at, json.dumps(record.to_json_dict())))
    con.commit()
    con.close()
    return path.read_bytes()


def test_a_new_store_carries_the_application_id(tmp_path):
    path = tmp_path / "new" / "results.sqlite"
    Store(path).close()
    assert _header_ids(path) == (APPLICATION_ID, FORMAT_VERSION)


@pytest.mark.parametrize("readonly", [False, True])
def test_another_programs_database_is_refused_and_left_unchanged(tmp_path, readonly):
    path = tmp_path / "app.db"
    before = _other_program_db(path)
    with pytest.raises(StoreError, match="another program.*tables: notes.*not changed"):
        Store(path, readonly=readonly)
    assert path.read_bytes() == before


def test_a_database_with_another_application_id_is_refused(tmp_path):
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA application_id = 1234")
    con.execute(RUNS_TABLE)                 # even with a table that looks like ours
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="application id 0x4d2"):
        Store(path)
    assert path.read_bytes() == before


def test_an_earlier_store_is_read_as_it_is_and_stamped_when_opened_for_writing(tmp_path):
    path = tmp_path / "results.sqlite"
    before = _legacy_store(path)
    with Store(path, readonly=True) as store:
        assert [r.seed for r in store.records()] == [0]
    assert path.read_bytes() == before                    # reading changes nothing
    with Store(path) as store:
        assert [r.seed for r in store.records()] == [0]
    assert _header_ids(path) == (APPLICATION_ID, FORMAT_VERSION)


def test_a_store_of_a_newer_layout_is_refused(tmp_path):
    path = tmp_path / "results.sqlite"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {FORMAT_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer than this bench.*upgrade"):
        Store(path, readonly=True)


def test_reading_a_missing_store_creates_nothing(tmp_path):
    path = tmp_path / "typo" / "results.sqlite"
    with pytest.raises(StoreError, match="no results store at .*nothing was created"):
        Store(path, readonly=True)
    assert not (tmp_path / "typo").exists()
    with Store(path, readonly=True, missing_ok=True) as store:   # a dry run: reads as empty
        assert store.records() == [] and store.completed_keys() == set()
    assert not (tmp_path / "typo").exists()


def test_an_empty_file_becomes_a_store_only_when_written(tmp_path):
    path = tmp_path / "results.sqlite"
    path.touch()
    with pytest.raises(StoreError, match="empty file"):
        Store(path, readonly=True)
    assert path.read_bytes() == b""
    Store(path).close()
    assert _header_ids(path) == (APPLICATION_ID, FORMAT_VERSION)


@pytest.mark.parametrize("command", [["results"], ["explain", "1"],
                                     ["leaderboard", "--no-figures"]])
def test_read_commands_refuse_another_programs_database_unchanged(tmp_path, capsys, command):
    path = tmp_path / "app.db"
    before = _other_program_db(path)
    out = tmp_path / "pages"
    extra = ["--out", str(out)] if command[0] == "leaderboard" else []
    assert main([*command, "--store", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "another program" in err
    assert path.read_bytes() == before


@pytest.mark.parametrize("command", [["results"], ["explain", "1"]])
def test_read_commands_on_a_mistyped_store_create_nothing(tmp_path, capsys, command):
    path = tmp_path / "runz" / "results.sqlite"
    assert main([*command, "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no results store at" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runz").exists()


def test_run_refuses_another_programs_database_before_training(tmp_path, capsys):
    path = tmp_path / "app.db"
    before = _other_program_db(path)
    code = main(["run", "--method", "erm", "--images", "mnist-5k", "--epochs", "1",
                 "--diagnostics", "none", "--store", str(path)])
    assert code == 2 and "another program" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_a_sweep_dry_run_creates_no_store(tmp_path, capsys):
    path = tmp_path / "fresh" / "results.sqlite"
    assert main(["sweep", "--methods", "erm", "--images", "mnist-5k", "--dry-run",
                 "--store", str(path)]) == 0
    assert "1 to run" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "fresh").exists()
