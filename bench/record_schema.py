"""One check for every run record that arrives as data: a store row, a line of a committed
``.jsonl`` file, a record parked after a failed write, a SLURM task's leftover.

Records are data that anyone can send (a pull request adding a ``.jsonl``), and their fields
end up in file names, markdown pages, terminal output and suggested shell commands. So the
check is strict about the fields that name things (method, source, dataset, backbone, mode,
rule, hyperparameter keys: registry-style names only) and about shapes (numbers where numbers
go, a square confusion matrix, data fields that make a valid data spec), and leaves free text
(errors, version strings, string hyperparameter values) to be escaped where it is shown
(:mod:`bench.leaderboard.escape`). Schema 1 and 2 records are read; a newer schema is refused
with the advice to upgrade.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bench.errors import BenchError, DataError
from bench.record import SCHEMA_VERSION, RunRecord
from bench.registry import NAME_PATTERN
from bench.seeds import seed_problem

STATUSES = ("completed", "failed")
HPARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,63}")
GIT_COMMIT = re.compile(r"[0-9a-f]{4,64}")
MAX_TEXT = 10_000          # longest free-text field accepted (an error message)


class RecordError(DataError):
    """A run record that this bench cannot trust or read; the message says which field."""


def _shown(value: Any) -> str:
    """A value quoted for an error message: control characters escaped, long text cut."""
    text = ascii(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _require(ok: bool, field: str, value: Any, what: str) -> None:
    if not ok:
        raise RecordError(f"field {field!r} = {_shown(value)}: {what}")


def _name(field: str, value: Any) -> None:
    _require(isinstance(value, str) and NAME_PATTERN.fullmatch(value) is not None, field, value,
             "expected a name of letters, digits and . _ + @ - (at most 100)")


def _text(field: str, value: Any, optional: bool = True) -> None:
    ok = (value is None and optional) or (isinstance(value, str) and len(value) <= MAX_TEXT)
    _require(ok, field, value, f"expected text of at most {MAX_TEXT} characters")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_object(field: str, value: Any) -> None:
    _require(isinstance(value, dict) and all(isinstance(k, str) for k in value), field, value,
             "expected a JSON object")


def check_record_dict(d: Any) -> None:
    """Raises RecordError (one line naming the field) unless ``d`` is a record this bench
    reads: schema 1 or 2, every required field of the right shape."""
    _require(isinstance(d, dict), "record", d, "expected a JSON object")
    version = d.get("schema_version")
    _require(_number(version) and int(version) == version and version >= 1, "schema_version",
             version, f"expected a schema number 1..{SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise RecordError(f"record schema {version} is newer than this bench reads "
                          f"({SCHEMA_VERSION}); upgrade lazy-artist-bench")
    missing = [f for f in ("method", "hparams", "data", "dataset", "backbone", "seed", "status",
                           "supervision", "metrics", "created_at") if f not in d]
    if missing:
        raise RecordError(f"missing field(s) {', '.join(missing)}")
    for field in ("method", "dataset", "backbone"):
        _name(field, d[field])
    _check_spec_parts(d)
    problem = seed_problem(d["seed"])
    _require(problem is None, "seed", d["seed"], problem or "")
    _require(d["status"] in STATUSES, "status", d["status"], "expected completed or failed")
    _text("supervision", d["supervision"], optional=False)
    _check_results(d)
    _check_provenance(d)
    _check_selection(d)


def _check_spec_parts(d: dict) -> None:
    _json_object("hparams", d["hparams"])
    for key in d["hparams"]:
        _require(HPARAM_KEY.fullmatch(key) is not None, "hparams", key,
                 "expected hyperparameter names like batch_size")
    _json_object("data", d["data"])
    _name("data.source", d["data"].get("source"))
    _name("data.mode", d["data"].get("mode"))
    extras = d.get("extras", {})
    _json_object("extras", extras)
    for key in extras:
        _require(HPARAM_KEY.fullmatch(key) is not None, "extras", key, "expected names")
    diagnostics = extras.get("diagnostics")
    _require(diagnostics is None or (isinstance(diagnostics, dict) and all(
        isinstance(k, str) and NAME_PATTERN.fullmatch(k) and isinstance(v, dict)
        and all(HPARAM_KEY.fullmatch(str(s)) for s in v) for k, v in diagnostics.items())),
        "extras.diagnostics", diagnostics, "expected {diagnostic: {setting: value}}")
    if "selection" in extras:
        _name("extras.selection", extras["selection"])
    from bench.registry import DATASETS
    # the data spec of the record's training dataset, found through its registry entry; a
    # dataset this installation lacks is checked against the default family's
    dataset = d.get("dataset")
    entry = DATASETS.get(dataset if isinstance(dataset, str) and dataset in DATASETS
                         else "colored")
    spec_class = entry.spec_class
    known = set(spec_class.__dataclass_fields__) - {"seed"}
    unknown = sorted(set(d["data"]) - known)
    _require(not unknown, "data", unknown, "unknown data fields")
    try:
        spec_class(**d["data"])
    except (TypeError, ValueError, OverflowError, BenchError) as exc:
        raise RecordError(f"field 'data' does not make a data spec ({exc})") from None


def _check_results(d: dict) -> None:
    metrics = d["metrics"]
    _json_object("metrics", metrics)
    for key, value in metrics.items():
        _require(value is None or _number(value), f"metrics.{key}", value, "expected a number")
    confusion = d.get("confusion_conflicting")
    if confusion is not None:
        ok = (isinstance(confusion, list) and 0 < len(confusion) <= 1000 and all(
            isinstance(row, list) and len(row) == len(confusion)
            and all(_number(v) and int(v) == v and v >= 0 for v in row) for row in confusion))
        _require(ok, "confusion_conflicting", confusion,
                 "expected a square matrix of counts")
    _text("error", d.get("error"))
    errors = d.get("diagnostic_errors") or {}
    _require(isinstance(errors, dict) and all(isinstance(k, str) and isinstance(v, str)
                                              and len(v) <= MAX_TEXT for k, v in errors.items()),
             "diagnostic_errors", errors, "expected {name: error text}")


def _check_provenance(d: dict) -> None:
    device = d.get("device", "cpu")
    _require(isinstance(device, str) and DEVICE.fullmatch(device) is not None, "device",
             device, "expected a device name like cpu or cuda:0")
    versions = d.get("versions", {})
    _require(isinstance(versions, dict) and all(
        isinstance(k, str) and isinstance(v, str) and len(k) + len(v) <= 1000
        for k, v in versions.items()), "versions", versions, "expected {package: version}")
    commit = d.get("git_commit")
    _require(commit is None or (isinstance(commit, str) and GIT_COMMIT.fullmatch(commit)),
             "git_commit", commit, "expected a hexadecimal commit id")
    created = d["created_at"]
    try:
        ok = isinstance(created, str) and len(created) <= 40 and \
            datetime.fromisoformat(created) is not None
    except ValueError:
        ok = False
    _require(ok, "created_at", created, "expected an ISO date and time")
    _require(d.get("id") is None or (_number(d["id"]) and int(d["id"]) == d["id"]), "id",
             d.get("id"), "expected a row number or null")


def _check_selection(d: dict) -> None:
    rule = d.get("selection_rule")
    if rule is not None:
        _name("selection_rule", rule)
    picks = d.get("selection") or {}
    _require(isinstance(picks, dict) and all(
        isinstance(k, str) and NAME_PATTERN.fullmatch(k) and isinstance(v, dict)
        for k, v in picks.items()), "selection", picks, "expected {rule: pick}")


def record_from_dict(d: Any) -> RunRecord:
    """A checked record; its stored key, when it has one, must be the key of its spec and
    seed (a record cannot pass for another run)."""
    check_record_dict(d)
    record = RunRecord.from_json_dict(d)
    if d.get("key") is not None and d["key"] != record.key:
        raise RecordError(f"field 'key' = {_shown(d['key'])} is not the key of the record's "
                          f"spec and seed ({record.key})")
    return record


def record_from_text(text: str) -> RunRecord:
    """A checked record from one JSON text (a store row, a line of a ``.jsonl``)."""
    try:
        d = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"not JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    return record_from_dict(d)
