"""SQLite store: exact round trip, resume, --force, locks and the pending folder."""
from __future__ import annotations

import os
import sqlite3
import time

import pytest

from bench.errors import StoreError
from bench.record import RunRecord, RunSpec
from bench.store import Store

SPEC = RunSpec("erm", {"lr": 0.1, "epochs": 2, "betas": [0.9, 0.99]},
               {"source": "mnist-5k", "conflict_ratio": 0.05, "mode": "background"},
               extras={"diagnostics": {"pgd": {"steps": 10}}})


def _record(seed: int = 0, status: str = "completed", acc: float = 0.25) -> RunRecord:
    return RunRecord(SPEC, seed, status, "none",
                     metrics={"acc_aligned": 0.9912345678901234, "acc_conflicting": acc},
                     confusion=[[seed + i for i in range(10)] for _ in range(10)],
                     error=None if status == "completed" else "FloatingPointError: nan",
                     versions={"torch": "2.14.1"}, git_commit="abc123")


def test_record_round_trips_exactly(tmp_path):
    record = _record()
    with Store(tmp_path / "r.sqlite") as store:
        assert store.put(record)
        assert record.id is not None
    with Store(tmp_path / "r.sqlite") as store:
        [loaded] = store.records()
    assert loaded == record
    assert loaded.to_json_dict() == record.to_json_dict()


def test_completed_key_is_skipped_and_failed_one_replaced(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        assert store.put(_record(0, acc=0.25))
        assert not store.put(_record(0, acc=0.5))            # resume: finished, kept
        assert store.put(_record(1, status="failed"))
        assert store.completed_keys() == {SPEC.key(0)}
        assert store.status(SPEC.key(1)) == "failed"
        assert store.put(_record(1, acc=0.75))               # a failed seed is rerun
        assert store.completed_keys() == {SPEC.key(0), SPEC.key(1)}
        by_seed = {r.seed: r.metrics["acc_conflicting"] for r in store.records()}
    assert by_seed == {0: 0.25, 1: 0.75}


def test_force_replaces_a_completed_row_in_place(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        store.put(_record(0, acc=0.25))
        first_id = store.records()[0].id
        assert store.put(_record(0, acc=0.5), replace=True)
        [only] = store.records()
    assert only.metrics["acc_conflicting"] == 0.5 and only.id == first_id


def test_records_filter_by_method_and_status(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        store.put(_record(0))
        store.put(_record(1, status="failed"))
        assert [r.seed for r in store.records(status="failed")] == [1]
        assert store.records(method="jtt") == []
        assert len(store.records(method="erm")) == 2


@pytest.fixture
def locked(tmp_path):
    """Another process holding the write lock of an existing store with one stored run."""
    path = tmp_path / "r.sqlite"
    with Store(path) as store:
        store.put(_record(0))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield path, other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def test_locked_store_fails_fast(locked):
    path, _ = locked
    start = time.perf_counter()
    with pytest.raises(StoreError, match="locked"):
        store = Store(path)
        store.check_writable(timeout=0.2)
    assert time.perf_counter() - start < 10


def test_check_writable_fails_fast_when_locked_after_opening(tmp_path):
    path = tmp_path / "r.sqlite"
    store = Store(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    start = time.perf_counter()
    with pytest.raises(StoreError, match="locked"):
        store.check_writable(timeout=0.2)
    assert time.perf_counter() - start < 5
    other.execute("ROLLBACK")
    store.check_writable(timeout=0.2)   # free again
    store.close()
    other.close()


def test_put_while_locked_parks_the_record_and_the_next_open_ingests_it(tmp_path):
    path = tmp_path / "r.sqlite"
    store = Store(path, timeout=0.2)
    store.put(_record(0))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError, match="pending"):
        store.put(_record(1, acc=0.5))
    parked = list((tmp_path / "r.sqlite.pending").glob("*.json"))
    assert len(parked) == 1
    other.execute("ROLLBACK")
    other.close()
    store.close()
    with Store(path) as reopened:
        assert {r.seed: r.metrics["acc_conflicting"] for r in reopened.records()} == {
            0: 0.25, 1: 0.5}
    assert not list((tmp_path / "r.sqlite.pending").glob("*.json"))


def test_a_file_that_is_not_a_database_is_an_error(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="not a readable results database"):
        Store(path)
    assert path.read_text().startswith("these are my notes")   # untouched


def test_unwritable_location_is_an_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="--store"):
        Store(blocker / "results.sqlite")


def _make_read_only(store: Store) -> None:
    """From now on every write through this store fails as on a read-only file or folder
    (SQLITE_READONLY) while reads still work; unlike permission bits, this holds for root."""
    store._conn.execute("PRAGMA query_only = 1")


def test_check_writable_fails_before_training_on_a_read_only_store(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        _make_read_only(store)
        with pytest.raises(StoreError, match="not writable.*nothing was run") as err:
            store.check_writable()
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders; the next test covers it")
def test_an_existing_store_in_a_read_only_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    Store(folder / "r.sqlite").close()
    folder.chmod(0o555)
    try:
        with Store(folder / "r.sqlite") as store:     # reading still works
            with pytest.raises(StoreError, match="read-only"):
                store.check_writable()
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("target", ["file", "folder"])
def test_check_writable_names_a_read_only_file_or_folder(tmp_path, monkeypatch, target):
    path = tmp_path / "r.sqlite"
    store = Store(path)
    denied = path if target == "file" else tmp_path
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == os.fspath(denied)
                        else real_access(p, mode))
    with pytest.raises(StoreError, match=f"its {target} .* is read-only"):
        store.check_writable()
    store.close()


def test_a_record_that_cannot_be_written_or_parked_goes_to_the_unsaved_folder(tmp_path,
                                                                              monkeypatch):
    unsaved = tmp_path / "unsaved"
    monkeypatch.setenv("BENCH_UNSAVED_DIR", str(unsaved))
    path = tmp_path / "r.sqlite"
    store = Store(path)
    store.put(_record(0))
    _make_read_only(store)
    (tmp_path / "r.sqlite.pending").write_text("a file where the pending folder would go")
    with pytest.raises(StoreError, match=str(unsaved)) as err:
        store.put(_record(1, acc=0.5))
    assert "\n" not in str(err.value)
    store.close()
    assert len(list(unsaved.glob("*.json"))) == 1
    with Store(path) as writable:
        assert {r.seed: r.metrics["acc_conflicting"] for r in writable.records()} == {
            0: 0.25, 1: 0.5}
        assert len(writable.ingested) == 1
    assert not list(unsaved.glob("*.json"))


def test_a_runs_table_of_another_schema_is_named(tmp_path):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER, name TEXT)")
    con.close()
    with pytest.raises(StoreError, match=r"columns \(id, name\).*missing key") as err:
        Store(path)
    assert "--store" in str(err.value) and "\n" not in str(err.value)


def _insert_raw(path, key: str, blob: str, status: str = "completed") -> None:
    con = sqlite3.connect(path)
    con.execute("INSERT INTO runs (key, spec_hash, seed, status, method, dataset, source, "
                "created_at, record) VALUES (?, '', 0, ?, 'erm', 'colored', 'mnist-5k', '', ?)",
                (key, status, blob))
    con.commit()
    con.close()


def _bad_rows_store(path) -> dict[int, str]:
    """A store with one good record and four rows that are not: row id -> what is wrong."""
    import json
    with Store(path) as store:
        store.put(_record(0))
    good = json.loads(json.dumps(_record(1).to_json_dict()))
    _insert_raw(path, "k/1", "{not json")
    _insert_raw(path, "k/2", json.dumps({k: v for k, v in good.items() if k != "metrics"}))
    _insert_raw(path, "k/3", json.dumps({**good, "schema_version": 99}))
    _insert_raw(path, "k/4", json.dumps(good))            # its key column is not its key
    return {2: "not JSON", 3: "missing field(s) metrics", 4: "schema 99 is newer",
            5: "key column"}


def test_bad_rows_are_named_by_id_and_skipped_with_one_warning_each(tmp_path, caplog):
    path = tmp_path / "r.sqlite"
    expected = _bad_rows_store(path)
    with caplog.at_level("WARNING", logger="bench.store"):
        with Store(path, readonly=True) as store:
            assert [r.seed for r in store.records()] == [0]
            store.records()                                 # read again: no second warning
            bad = dict(store.bad_rows())
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == len(expected)
    for (row, what), warning in zip(sorted(expected.items()), warnings):
        assert f"row {row}:" in warning and what in warning and "\n" not in warning
        assert what in bad[row]


def test_a_store_with_bad_rows_is_refused_before_training(tmp_path):
    path = tmp_path / "r.sqlite"
    _bad_rows_store(path)
    with Store(path) as store:
        with pytest.raises(StoreError, match=r"4 row\(s\).*row 2: not JSON.*IN \(2, 3, 4, 5\)"):
            store.check_rows()
