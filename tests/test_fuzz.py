"""Property-based fuzzing of the parsers the suite owns: ``--set`` values, grid files, records,
store rows, weights files and page slugs. Whatever the input: no traceback, a one-line message
and exit 2 (or success), nothing stored, nothing written outside the intended folder.

CI runs a fixed set of examples (the ``ci`` profile in conftest.py, seconds per parser);
``pytest tests/test_fuzz.py --hypothesis-profile slow`` explores far more.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pickle
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

import torch  # noqa: E402

from bench.cli import main  # noqa: E402
from bench.errors import BenchError, ConfigError  # noqa: E402
from bench.escape import confined  # noqa: E402
from bench.leaderboard import pages  # noqa: E402
from bench.leaderboard.catalog import MethodCatalog  # noqa: E402
from bench.leaderboard.protocol import protocol_of  # noqa: E402
from bench.leaderboard.sources import read_jsonl  # noqa: E402
from bench.record_schema import RecordError, record_from_dict  # noqa: E402
from bench.registry import RegistryError  # noqa: E402
from bench.store import Store  # noqa: E402
from bench.runs.grid import GRID_FIELDS  # noqa: E402
from bench.weights import WeightsMissing, load_model  # noqa: E402

DATA = Path(__file__).parent / "data" / "leaderboard_records.jsonl"
TEMPLATE = json.loads(DATA.read_text().splitlines()[0])
TAG = re.compile(r"<[A-Za-z/!?]")          # the start of an HTML tag or comment
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@contextlib.contextmanager
def _scratch():
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``bench ARGV`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:              # argparse's own errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _check_outcome(code: int, err: str, ok: tuple[int, ...] = (0,)) -> None:
    assert "Traceback" not in err, err
    assert code in (*ok, 2), (code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and "error:" in lines[-1], err
        assert sum("error:" in line for line in lines) == 1, err


# --set values: typed by each method's dataclass, checked against its bounds ------------------

SET_KEYS = st.sampled_from(["lr", "epochs", "batch_size", "upweight", "c_grid", "momentum",
                            "retrains", "nope"]) | st.text(max_size=8)


@given(key=SET_KEYS, value=st.text(max_size=30))
def test_any_set_value_is_run_or_refused_in_one_line(key, value):
    with _scratch() as folder:
        store = folder / "never" / "results.sqlite"
        code, _, err = _cli(["sweep", "--methods", "erm,jtt,dfr", "--images", "mnist-5k",
                             "--dry-run", "--store", str(store), "--set", f"{key}={value}"])
        _check_outcome(code, err)
        assert not store.parent.exists()          # a dry run stores nothing


# grid files: TOML text, well-formed or not --------------------------------------------------

def _toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)              # nan, inf and -inf are TOML floats too
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


ANY_VALUE = st.integers() | st.floats() | st.text(max_size=8) | st.booleans()
# each grid field with values a user might write, right and wrong
GRID_VALUES = {
    "methods": st.lists(st.sampled_from(["erm", "jtt", "dfr", "kmeans", "nope"]), max_size=3)
    | st.sampled_from(["erm", ""]),
    "seeds": st.integers(-1, 4) | st.integers(), "first_seed": st.integers(-2, 3) | st.integers(),
    "conflict_ratios": st.lists(st.floats(-0.5, 1.5) | st.floats(), max_size=3) | st.floats(),
    "source": st.sampled_from(["mnist-5k", "mnist", "nope", "auto"]),
    "data_root": st.sampled_from(["/nonexistent", ""]),
    "dataset": st.sampled_from(["colored", "greyscale", "nope"]),
    "mode": st.sampled_from(["background", "foreground", "nope"]),
    "jitter": st.floats(), "backbone": st.sampled_from(["baseline", "nope"]),
    "device": st.sampled_from(["cpu", "auto", "tpu"]),
    "diagnostics": st.sampled_from(["none", "all", "pgd,llc", "xyz"]),
    "diagnostic_settings": st.lists(st.sampled_from(["pgd.steps=3", "pgd.steps=0", "x.y=1",
                                                     "nonsense"]), max_size=2),
    "epochs": st.integers(-1, 3) | st.integers(), "selection": st.sampled_from(
        ["val-acc", "oracle-test", "nope"])}


@st.composite
def grid_texts(draw) -> str:
    """Mostly grids that parse (each field drawn from right and wrong values, some of any
    type, an unknown key now and then), sometimes raw text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=80))
    fields = {"methods": ["erm"], "source": "mnist-5k", "diagnostics": "none"}
    for key in draw(st.lists(st.sampled_from(sorted(GRID_VALUES)), max_size=6, unique=True)):
        fields[key] = draw(GRID_VALUES[key] if draw(st.integers(0, 4)) else ANY_VALUE)
    if draw(st.integers(0, 7)) == 0:
        fields[draw(st.text(max_size=5))] = draw(ANY_VALUE)          # an unknown key
    lines = [f"{_toml(key)} = {_toml(value)}" for key, value in fields.items()]
    if draw(st.booleans()):
        lines.append("[set]")
        for key in draw(st.lists(SET_KEYS, max_size=3, unique=True)):
            values = draw(st.lists(st.integers(-2, 100) | st.floats() | st.text(max_size=5),
                                   max_size=3))
            lines.append(f"{_toml(key)} = {_toml(values)}")
    return "\n".join(lines)


@given(text=grid_texts())
def test_any_grid_file_is_planned_or_refused_in_one_line(text):
    with _scratch() as folder:
        grid = folder / "grid.toml"
        grid.write_text(text, encoding="utf-8", errors="surrogatepass")
        store = folder / "never" / "results.sqlite"
        code, _, err = _cli(["sweep", str(grid), "--dry-run", "--store", str(store)])
        _check_outcome(code, err)
        assert not store.parent.exists()


# records: any change to a good one is read or refused; what is read renders safely ----------

FIELDS = ["method", "seed", "status", "supervision", "metrics", "hparams", "data", "backbone",
          "dataset", "device", "versions", "created_at", "error", "extras",
          "confusion_conflicting", "schema_version", "git_commit", "key", "selection_rule",
          "selection"]
# where a record carries free text, which the check lets through and pages must escape
TEXT_SLOTS = [("supervision",), ("error",), ("versions", "torch"), ("hparams", "note"),
              ("extras", "note"), ("diagnostic_errors", "pgd")]


@st.composite
def mutated_records(draw) -> dict:
    """The template record with 1-3 changes: free text anywhere it may go (mostly read), any
    JSON value in any field, or a field removed (mostly refused)."""
    record = json.loads(json.dumps(TEMPLATE))
    record["key"] = None                # changed records have other keys; checked elsewhere
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 5))
        if kind <= 2:
            *parents, field = draw(st.sampled_from(TEXT_SLOTS))
            target = record
            for key in parents:
                target = target.setdefault(key, {}) if isinstance(target.get(key), dict) \
                    or key not in target else {}
            target[field] = draw(st.text(max_size=40))
            if field == "error":
                record["status"] = "failed"
        elif kind <= 4:
            field = draw(st.sampled_from(FIELDS))
            target = record[field] if isinstance(record.get(field), dict) and \
                draw(st.booleans()) else record
            key = draw(st.sampled_from(sorted(target) or ["x"]) | st.text(max_size=6)) \
                if target is not record else field
            target[key] = draw(JSON | st.text(max_size=40))
        else:
            record.pop(draw(st.sampled_from(FIELDS)), None)
    return record


def _rendered_safely(records, out: Path) -> None:
    rendered, planned = pages.render(records, MethodCatalog.from_registry(), "bench leaderboard")
    written = pages.write(out, rendered, planned, draw_figures=False)
    for path in written:
        assert path.resolve().is_relative_to(out.resolve())
        text = re.sub(r"^```sh\n.*?^```$", "", path.read_text(), flags=re.M | re.S)
        for line in text.splitlines():
            assert line.startswith("<!-- Generated") or not TAG.search(line), line
        for table in re.findall(r"(?:^\|.*\n)+", text, flags=re.M):
            assert len({len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}) == 1


@given(record=mutated_records())
def test_any_record_is_read_or_refused_and_renders_inside_its_folder(record):
    try:
        loaded = record_from_dict(record)
    except RecordError as exc:
        assert "\n" not in str(exc)
        return
    with _scratch() as folder:
        second = record_from_dict({**TEMPLATE, "seed": 1, "key": None})
        _rendered_safely([loaded, second], folder / "out")


@given(lines=st.lists(st.text(max_size=80) | JSON.map(json.dumps), max_size=3))
def test_any_records_file_is_read_or_refused_naming_file_and_line(lines):
    with _scratch() as folder:
        path = folder / "p.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        try:
            read_jsonl(path)
        except BenchError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)


# store rows: whatever a row holds, reading skips it with a warning --------------------------

@given(key=st.text(max_size=20), blob=st.text(max_size=80) | JSON.map(json.dumps)
       | mutated_records().map(json.dumps))
def test_any_store_row_is_read_or_skipped(key, blob):
    with _scratch() as folder:
        path = folder / "results.sqlite"
        Store(path).close()
        con = sqlite3.connect(path)
        con.execute("INSERT INTO runs (key, spec_hash, seed, status, method, dataset, source, "
                    "created_at, record) VALUES (?, '', 0, 'completed', 'm', 'd', 's', '', ?)",
                    (key, blob))
        con.commit()
        con.close()
        with Store(path, readonly=True) as store:
            records = store.records()
            bad = store.bad_rows()
        assert len(records) + len(bad) == 1
        code, _, err = _cli(["results", "--store", str(path)])
        _check_outcome(code, err)
        assert code == 0


# weights files: random bytes and payloads never run code and never crash --------------------

@given(content=st.binary(max_size=200))
def test_any_weights_bytes_are_refused_in_one_line(content):
    with _scratch() as folder:
        path = folder / "0.pt"
        path.write_bytes(content)
        with pytest.raises(WeightsMissing) as err:
            load_model(path)
        assert "\n" not in str(err.value).strip()


@given(payload=st.dictionaries(st.sampled_from(["backbone", "state_dict", "feature_mask",
                                                "key", "created_at", "x"]),
                               JSON | st.builds(torch.zeros, st.integers(0, 3)), max_size=4))
def test_any_weights_payload_is_loaded_or_refused(payload):
    with _scratch() as folder:
        path = folder / "0.pt"
        torch.save(payload, path)
        try:
            load_model(path)
        except WeightsMissing:
            pass


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_payload_that_runs_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "0.pt"
    path.write_bytes(pickle.dumps({"backbone": "baseline", "state_dict": _Exploit(marker)}))
    with pytest.raises(WeightsMissing, match="cannot read kept weights"):
        load_model(path)
    assert not marker.exists()


# page slugs and output names ------------------------------------------------------------------

NAMES = st.text(max_size=20)


@given(source=NAMES, mode=NAMES, backbone=NAMES, dataset=NAMES)
def test_any_protocol_gets_a_page_name_inside_the_folder(source, mode, backbone, dataset):
    record = record_from_dict({**TEMPLATE, "key": None})     # then changed past the check
    spec = dataclasses.replace(record.spec, data={**record.spec.data, "source": source,
                                                  "mode": mode},
                               dataset=dataset, backbone=backbone)
    slug = protocol_of(dataclasses.replace(record, spec=spec)).slug
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._+@-]*", slug), slug
    folder = Path("/srv/pages")
    assert confined(folder, f"{slug}.md").parent == folder


@given(name=st.text(max_size=30))
def test_confined_names_never_leave_the_folder(name):
    folder = Path("/srv/pages")
    try:
        path = confined(folder, name)
    except ConfigError:
        return
    assert os.path.normpath(path).startswith(str(folder) + os.sep)


@given(name=st.text(max_size=30))
def test_a_registered_name_is_its_own_slug_part(name):
    """What the registry accepts as a name passes the record check and names a file as is."""
    from bench.escape import slug_part
    from bench.registry import Registry
    try:
        Registry("thing").add(name, object())
    except RegistryError:
        return
    assert slug_part(name) == name
