"""Record sources: jsonl export/import, deduplication (committed records win), CLI end to end."""
import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import DataError
from bench.leaderboard.protocol import protocol_of
from bench.leaderboard.sources import (conflicts, export, failures, merge, read_jsonl,
                                     read_records_dir)
from bench.store import Store

pytestmark = pytest.mark.usefixtures("synthetic_main")

FIXTURE = Path(__file__).parent / "data" / "leaderboard_records.jsonl"


@pytest.fixture
def records():
    return read_jsonl(FIXTURE)


def test_results_jsonl_round_trips_through_the_store(records, tmp_path):
    store_path = tmp_path / "s.sqlite"
    with Store(store_path) as store:
        store.put_many(records[:3])
    out = tmp_path / "out" / "r.jsonl"
    assert main(["results", "--format", "jsonl", "--store", str(store_path), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    back = read_jsonl(out)
    for original, line, again in zip(records[:3], lines, back):
        assert line == json.dumps(json.loads(line), sort_keys=True)   # sorted keys, one line
        assert {**again.to_json_dict(), "id": None} == {**original.to_json_dict(), "id": None}


def test_only_completed_records_and_a_committed_record_is_never_silently_replaced(records):
    failed = [r for r in records if r.status == "failed"]
    assert failed and not {r.key for r in failed} & {r.key for r in merge(records, [])}
    rerun = read_jsonl(FIXTURE)[0]
    rerun.metrics = {**rerun.metrics, "acc_conflicting": 0.5}
    same = read_jsonl(FIXTURE)[1]
    merged = {r.key: r for r in merge(records, [rerun, same])}
    assert merged[rerun.key].metrics["acc_conflicting"] == records[0].metrics["acc_conflicting"]
    assert len(merged) == len({r.key for r in records if r.status == "completed"})
    assert conflicts(records, [rerun, same]) == [(records[0], rerun)]   # same record: none
    replaced = {r.key: r for r in merge(records, [rerun], store_wins=True)}
    assert replaced[rerun.key].metrics["acc_conflicting"] == 0.5


def test_leaderboard_writes_into_the_users_folder_and_reports_conflicts(records, tmp_path,
                                                                       capsys, monkeypatch):
    """With no flags: pages for the user's store go to runs/leaderboard/, the committed
    folder is not touched, and a local rerun of a committed run is a reported conflict."""
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "leaderboards" / "records"
    export(records, committed, lambda r: protocol_of(r).slug)
    before = {p: p.read_bytes() for p in (tmp_path / "leaderboards").rglob("*")
              if p.is_file()}
    rerun = read_jsonl(FIXTURE)[0]
    rerun.metrics = {**rerun.metrics, "acc_conflicting": 0.5}
    with Store(tmp_path / "runs" / "results.sqlite") as store:
        store.put(rerun)
    monkeypatch.setenv("BENCH_STORE", str(tmp_path / "runs" / "results.sqlite"))
    assert main(["leaderboard", "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "1 stored run(s) differ from the committed record" in err
    assert f"conflict: {rerun.spec.method} seed {rerun.seed}" in err and "yours 0.5000" in err
    assert (tmp_path / "runs" / "leaderboard" / "README.md").exists()
    after = {p: p.read_bytes() for p in (tmp_path / "leaderboards").rglob("*") if p.is_file()}
    assert after == before
    page = "".join(p.read_text() for p in (tmp_path / "runs" / "leaderboard").glob("*.md"))
    assert "{" not in page.split("## Environment")[0].split("```")[0]   # no JSON in labels


def test_failures_are_kept_apart_until_their_seed_completes(records):
    failed = [r for r in records if r.status == "failed"]
    assert {r.key for r in failures(records, [])} == {r.key for r in failed}
    rerun = read_jsonl(FIXTURE)[[r.status for r in records].index("failed")]
    rerun.status, rerun.metrics = "completed", {"acc_conflicting": 0.5}
    assert rerun.key not in {r.key for r in failures(records, [rerun])}


def test_export_keeps_failed_runs_so_committed_pages_count_them(records, tmp_path):
    folder = tmp_path / "records"
    export(records, folder, lambda r: protocol_of(r).slug)
    stored = read_records_dir(folder)
    assert {r.key for r in stored if r.status == "failed"} == {
        r.key for r in records if r.status == "failed"}


def test_a_bad_line_names_its_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(FIXTURE.read_text().splitlines()[0] + "\n{not json\n")
    with pytest.raises(DataError, match="bad.jsonl:2"):
        read_jsonl(path)


def test_export_merges_into_protocol_files_without_store_ids(records, tmp_path):
    folder = tmp_path / "records"
    written = export(records[:5], folder, lambda r: protocol_of(r).slug)
    again = export(records[3:8], folder, lambda r: protocol_of(r).slug)
    assert written and set(written) <= set(again) | set(written)
    keys = {r.key for r in read_records_dir(folder) if r.status == "completed"}
    assert keys == {r.key for r in records[:8] if r.status == "completed"}
    assert all(json.loads(line)["id"] is None
               for p in folder.glob("*.jsonl") for line in p.read_text().splitlines())


def test_cli_export_then_regenerate_from_files_alone(records, tmp_path, capsys):
    store_path = tmp_path / "s.sqlite"
    with Store(store_path) as store:
        store.put_many(records)
    folder, out = tmp_path / "records", tmp_path / "board"
    assert main(["leaderboard", "--store", str(store_path), "--records", str(folder),
                 "--out", str(out), "--export", "--no-figures"]) == 0
    first = {p.name: p.read_bytes() for p in out.glob("*.md")}
    assert "README.md" in first and len(first) == 4
    assert main(["leaderboard", "--no-store", "--records", str(folder), "--out", str(out),
                 "--no-figures"]) == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.md")} == first
    stated = f"bench leaderboard --no-store --records {folder.as_posix()} --out {out.as_posix()}"
    assert stated in first["README.md"].decode()
    shutil.rmtree(folder)
    assert main(["leaderboard", "--no-store", "--records", str(folder), "--out", str(out),
                 "--no-figures", "--export"]) == 2


def test_committed_remeasured_llcs_beside_the_records_replace_the_page_llcs(records, tmp_path):
    from bench.diagnostics.llc_remeasured import REMEASURED_FILE, write_remeasured
    folder, out = tmp_path / "records", tmp_path / "board"
    export(records, folder, lambda r: protocol_of(r).slug)
    completed = [r for r in records if r.status == "completed"]
    target = completed[0]
    settings = {"chains": 2, "burnin": 50, "draws": 100, "lr": 1e-3, "localization": 100.0,
                "nbeta": None, "batch_size": 256, "subset": 4096, "convergence": "noise-aware"}
    write_remeasured(folder / REMEASURED_FILE, settings,
                     {target.key: {"llc": 12.345, "llc_converged": 1.0, "llc_mcse": 0.5,
                                   "llc_rhat": 1.01}})
    assert main(["leaderboard", "--no-store", "--records", str(folder), "--out", str(out),
                 "--no-figures"]) == 0
    page = (out / f"{protocol_of(target).slug}.md").read_text()
    assert "These LLCs were re-measured" in page and "12.35" in page
    others = [p.read_text() for p in out.glob("*.md")
              if p.name not in ("README.md", f"{protocol_of(target).slug}.md")]
    assert all("re-measured" not in text for text in others)
