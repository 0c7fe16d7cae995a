"""One schema check for records from any source: every committed record passes, schema 1 and 2
are read, a future schema and every malformed field are one-line errors naming the field."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import DataError
from bench.leaderboard.sources import read_jsonl
from bench.record import SCHEMA_VERSION, RunRecord, RunSpec
from bench.record_schema import RecordError, record_from_dict, record_from_text

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "leaderboards" / "records").glob("*.jsonl")) + \
    [ROOT / "tests" / "data" / "leaderboard_records.jsonl"]


def test_every_committed_record_passes_the_check():
    lines = [(path, n, line) for path in COMMITTED
             for n, line in enumerate(path.read_text().splitlines(), start=1) if line.strip()]
    assert len(lines) > 200
    for path, n, line in lines:
        try:
            record = record_from_text(line)
        except RecordError as exc:
            pytest.fail(f"{path.name}:{n}: {exc}")
        assert record.key == json.loads(line)["key"]


def _schema_2() -> dict:
    spec = RunSpec("jtt", {"epochs": 2, "upweight": 20.0, "betas": [0.9, 0.99]},
                   {"source": "mnist-5k", "conflict_ratio": 0.05, "mode": "background",
                    "jitter": 0.0, "val_fraction": 0.1},
                   extras={"diagnostics": {"pgd": {"steps": 10}}, "selection": "val-worst-group"})
    record = RunRecord(spec, 3, "completed", "bias labels on validation",
                       metrics={"acc_conflicting": 0.8, "llc": float("nan")},
                       confusion=[[1, 2], [3, 4]], versions={"torch": "2.14.1+cpu"},
                       git_commit="0123abcd", selection_rule="val-worst-group",
                       selection={"val-acc": {"epoch": 2, "score": 0.9, "curve": [0.8, 0.9],
                                              "metrics": {"acc_val": 0.9}}})
    return json.loads(json.dumps(record.to_json_dict()))


def test_a_schema_2_record_round_trips():
    d = _schema_2()
    assert d["schema_version"] == SCHEMA_VERSION == 2
    record = record_from_dict(d)
    assert record.selection_rule == "val-worst-group" and record.seed == 3
    assert json.loads(json.dumps(record.to_json_dict())) == d


def test_a_future_schema_says_to_upgrade():
    with pytest.raises(RecordError, match=r"^record schema 3 is newer .*upgrade"):
        record_from_dict({**_schema_2(), "schema_version": 3})


def _set(path: str, value):
    def change(d: dict) -> dict:
        d = copy.deepcopy(d)
        *parents, last = path.split(".")
        target = d
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return d
    return change


BAD = {
    "method <script>": (_set("method", "<script>alert(1)</script>"), "'method'"),
    "method with a path": (_set("method", "../../etc"), "'method'"),
    "source with a path": (_set("data.source", "../../outside"), "'data.source'"),
    "backbone with a newline": (_set("backbone", "x\n# injected"), "'backbone'"),
    "mode not a name": (_set("data.mode", "back ground"), "'data.mode'"),
    "data that make no spec": (_set("data.conflict_ratio", 7), "'data' does not make"),
    "unknown data field": (_set("data.evil", 1), "unknown data fields"),
    "seed beyond 63 bits": (_set("seed", 2**64), "'seed'"),
    "negative seed": (_set("seed", -1), "'seed'"),
    "seed as text": (_set("seed", "0"), "'seed'"),
    "status": (_set("status", "done"), "'status'"),
    "metric as text": (_set("metrics.acc_conflicting", "0.9"), "'metrics.acc_conflicting'"),
    "metric as bool": (_set("metrics.acc_conflicting", True), "'metrics.acc_conflicting'"),
    "ragged confusion": (_set("confusion_conflicting", [[1, 2], [3]]), "'confusion_conflicting'"),
    "hparam key": (_set("hparams.a b", 1), "'hparams'"),
    "device": (_set("device", "cuda<b>"), "'device'"),
    "git commit": (_set("git_commit", "`rm -rf`"), "'git_commit'"),
    "created_at": (_set("created_at", "yesterday"), "'created_at'"),
    "version not text": (_set("versions.torch", 2), "'versions'"),
    "selection rule": (_set("selection_rule", "a|b"), "'selection_rule'"),
    "diagnostics shape": (_set("extras.diagnostics", "all"), "'extras.diagnostics'"),
    "missing metrics": (_set("metrics", KeyError), "missing field(s) metrics"),
    "key of another run": (_set("key", "0000000000000000/3"), "'key'"),
    "error too long": (_set("error", "x" * 20_000), "'error'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_field_is_a_one_line_error_naming_it(name):
    change, named = BAD[name]
    with pytest.raises(RecordError) as err:
        record_from_dict(change(_schema_2()))
    message = str(err.value)
    assert named in message and "\n" not in message and len(message) < 300


def test_text_that_is_not_json_or_too_deep_is_a_record_error():
    with pytest.raises(RecordError, match="not JSON"):
        record_from_text("{nope")
    with pytest.raises(RecordError, match="not JSON"):
        record_from_text("[" * 100_000)


def test_a_bad_line_in_a_records_file_names_file_and_line(tmp_path, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    good = json.dumps(_schema_2())
    bad = json.dumps({**_schema_2(), "method": "<img src=x onerror=alert(1)>"})
    (folder / "p.jsonl").write_text(f"{good}\n\n{bad}\n")
    with pytest.raises(DataError, match=r"p\.jsonl:3: not a run record \(field 'method'"):
        read_jsonl(folder / "p.jsonl")
    assert main(["leaderboard", "--no-store", "--records", str(folder), "--no-figures",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "p.jsonl:3" in err
    assert not (tmp_path / "out").exists()
