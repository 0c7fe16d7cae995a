"""Sweep grids: flags and TOML agree, expansion matches ``bench run`` specs, plans skip what is
stored, estimates come from similar runs. No training here (``execute`` is faked where a CLI
path would train)."""
from __future__ import annotations

import dataclasses

import pytest

import sweep_probe  # noqa: F401  (registers "sweep-probe")
from bench.cli import main
from bench.errors import ConfigError
from bench.record import RunRecord
from bench.store import Store
from bench.runs.grid import SweepGrid, expand, load_grid_file, parse_set_flags, split_values
from bench.runs.plan import Estimator, estimate_total, plan
from bench.runs.worker import GPU_WORKERS_CAP, default_workers, threads_per_worker

GRID_TOML = """
methods = ["erm", "sweep-probe"]
seeds = 2
first_seed = 3
conflict_ratios = [0.01, 0.05]
source = "mnist-5k"
diagnostics = "none"
[set]
epochs = 1
lr = [0.1, 0.01]
limit = [128, 256]
"""


def test_flags_expand_to_the_product_per_method():
    grid = SweepGrid(("erm", "sweep-probe"), seeds=2, conflict_ratios=(0.01, 0.05),
                     sets=parse_set_flags(["lr=0.1,0.01", "limit=128,256"]), diagnostics="none")
    jobs = expand(grid, "mnist-5k")
    # erm has lr but not limit: 2 combos; the probe has both: 4; times 2 seeds x 2 ratios
    assert len(jobs) == (2 + 4) * 2 * 2
    assert len({j.key for j in jobs}) == len(jobs)
    erm = [j for j in jobs if j.spec.method == "erm"]
    assert {j.spec.hparams["lr"] for j in erm} == {0.1, 0.01}
    assert all("limit" not in j.spec.hparams for j in erm)
    assert {j.seed for j in jobs} == {0, 1}
    assert {j.spec.data["conflict_ratio"] for j in jobs} == {0.01, 0.05}
    assert {j.method_module for j in jobs} == {"bench.methods.erm", "sweep_probe"}
    # jobs sharing data (ratio, seed) are adjacent, so launchers prepare each once
    order = [(j.spec.data["conflict_ratio"], j.seed) for j in jobs]
    assert len([k for i, k in enumerate(order) if i == 0 or order[i - 1] != k]) == 4


def test_toml_file_equals_the_same_flags(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID_TOML)
    from_file = load_grid_file(path)
    from_flags = SweepGrid(("erm", "sweep-probe"), seeds=2, first_seed=3,
                           conflict_ratios=(0.01, 0.05), source="mnist-5k", diagnostics="none",
                           sets=parse_set_flags(["epochs=1", "lr=0.1,0.01", "limit=128,256"]))
    assert [j.key for j in expand(from_file, "mnist-5k")] == \
        [j.key for j in expand(from_flags, "mnist-5k")]
    assert load_grid_file(path, {"seeds": 1}).seeds == 1     # command-line flags win


def test_sweep_spec_hash_equals_bench_run(monkeypatch, capsys):
    """``bench run`` stores a record; a sweep with the same settings finds it and has nothing
    to run. ``execute`` is faked so no training happens (in this process: ``--workers 1``);
    the spec comes from run_cmd itself."""
    def fake_execute(spec, seed, env, splits=None):
        metrics = {"acc_aligned": 1.0, "acc_conflicting": 0.5, "seconds_train": 2.0,
                   "seconds_data": 0.5, "seconds_eval": 0.5}
        return RunRecord(spec, seed, "completed", "none", metrics=metrics)
    monkeypatch.setattr("bench.runs.worker.execute", fake_execute)
    common = ["--images", "mnist-5k", "--diagnostics", "none", "--set", "lr=0.05"]
    assert main(["run", "--method", "erm", "--seeds", "2", "--conflict-ratio", "0.02",
                 "--no-keep-weights", "--workers", "1", *common]) == 0
    capsys.readouterr()
    assert main(["sweep", "--methods", "erm", "--seeds", "2", "--conflict-ratios", "0.02",
                 "--dry-run", *common]) == 0
    err = capsys.readouterr().err
    assert "2 already stored, 0 to run" in " ".join(err.split())
    # and a different value is a different spec
    assert main(["sweep", "--methods", "erm", "--seeds", "2", "--conflict-ratios", "0.02",
                 "--dry-run", "--images", "mnist-5k", "--diagnostics", "none",
                 "--set", "lr=0.05,0.2"]) == 0
    out = capsys.readouterr()
    assert "2 already stored, 2 to run" in " ".join(out.err.split())
    assert "lr=0.2" in out.out and "no estimate" not in out.out   # estimated from stored runs


@pytest.mark.parametrize("text, fragment", [
    ("methods = [\"erm\"\nseeds = 2", "not valid TOML"),
    ("methods = [\"erm\"]\nseedz = 2", "unknown key(s) seedz"),
    ("methods = [\"erm\"]\nseeds = \"two\"", "seeds must be an integer"),
    ("seeds = 2", "missing 'methods'"),
    ("methods = [\"erm\"]\nset = 3", "'set' must be a table"),
])
def test_bad_grid_files_are_one_line_config_errors(tmp_path, capsys, text, fragment):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="grid.toml") as info:
        load_grid_file(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench sweep: error:") and len(err.splitlines()) == 1


def test_a_set_key_no_method_has_is_an_error():
    grid = SweepGrid(("erm",), sets=parse_set_flags(["limt=3"]), diagnostics="none")
    with pytest.raises(ConfigError, match="limt"):
        expand(grid, "mnist-5k")
    with pytest.raises(ConfigError, match="lr expects a float"):
        expand(SweepGrid(("erm",), sets=parse_set_flags(["lr=fast"]), diagnostics="none"),
               "mnist-5k")


def test_split_values_keeps_bracketed_commas():
    assert split_values("0.1, 0.01") == ("0.1", "0.01")
    assert split_values("(1,2),(3,4)") == ("(1,2)", "(3,4)")
    assert parse_set_flags(["lr=0.1", "lr=0.2,0.3"]) == (("lr", ("0.2", "0.3")),)
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_flags(["lr"])


def _record(job, status="completed", seconds=(1.0, 2.0, 3.0), extra=None):
    metrics = dict(zip(("seconds_data", "seconds_train", "seconds_eval"), seconds))
    return RunRecord(job.spec, job.seed, status, "none", metrics={**metrics, **(extra or {})})


def test_plan_skips_completed_and_retries_failed():
    jobs = expand(SweepGrid(("erm",), seeds=3, diagnostics="none"), "mnist-5k")
    with Store() as store:
        store.put(_record(jobs[0]))
        store.put(_record(jobs[1], status="failed"))
        p = plan(jobs, store.completed_keys())
    assert [j.key for j in p.done] == [jobs[0].key]
    assert [j.key for j in p.todo] == [jobs[1].key, jobs[2].key]


def test_estimates_use_same_method_and_source_nearest_ratio():
    grid = SweepGrid(("erm", "sweep-probe"), conflict_ratios=(0.01, 0.04, 0.2),
                     diagnostics="none")
    erm01, probe01, erm04, probe04, erm2, probe2 = expand(grid, "mnist-5k")
    est = Estimator([_record(erm01, seconds=(1, 1, 1)),
                     _record(erm2, seconds=(5, 5, 5), extra={"seconds_pgd": 5.0}),
                     _record(erm04, status="failed", seconds=(100, 100, 100))])
    assert est.seconds(erm04) == pytest.approx(3.0)       # 0.01 is nearer than 0.2
    assert est.seconds(dataclasses.replace(erm2)) == pytest.approx(20.0)  # diagnostics count
    assert est.seconds(probe04) is None                   # no probe run stored
    other_source = dataclasses.replace(
        erm04, spec=dataclasses.replace(erm04.spec, data={**erm04.spec.data, "source": "mnist"}))
    assert est.seconds(other_source) is None
    total = estimate_total([3.0, None, 5.0], workers=2)
    assert (total.total_seconds, total.wall_seconds, total.unestimated) == (8.0, 4.0, 1)
    assert "no estimate" in estimate_total([None], 2).describe()


def test_threads_per_worker_never_oversubscribe():
    assert threads_per_worker(2, cores=2, environ={}) == 1
    assert threads_per_worker(1, cores=2, environ={}) == 2
    assert threads_per_worker(4, cores=16, environ={}) == 4
    assert threads_per_worker(8, cores=2, environ={}) == 1


def test_epochs_sets_each_methods_main_training_length():
    grid = SweepGrid(methods=("erm", "dfr"), epochs=2, sets=(("lr", ("0.05",)),))
    specs = {job.spec.method: job.spec.hparams for job in expand(grid, "mnist-5k")}
    assert specs["erm"]["epochs"] == 2 and specs["dfr"]["erm_epochs"] == 2
    assert specs["dfr"]["lr"] == 0.05
    listed = SweepGrid(methods=("erm",), epochs=2, sets=(("epochs", ("1", "3")),))
    assert sorted(j.spec.hparams["epochs"] for j in expand(listed, "mnist-5k")) == [1, 3]


def test_grid_values_are_range_checked_before_any_data():
    for sets in ((("lr", ("0.1", "-1")),), (("batch_size", ("0",)),)):
        with pytest.raises(ConfigError, match="out of range"):
            expand(SweepGrid(methods=("erm",), sets=sets), "mnist-5k")


def test_diagnostic_settings_reach_every_spec(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('methods = ["erm"]\ndiagnostics = "pgd"\n'
                    'diagnostic_settings = ["pgd.steps=100"]\nepochs = 1\n')
    [job] = expand(load_grid_file(path), "mnist-5k")
    assert job.spec.extras["diagnostics"]["pgd"]["steps"] == 100
    assert job.spec.hparams["epochs"] == 1
    bad = dataclasses.replace(load_grid_file(path), diagnostic_settings=("pgd.steps=0",))
    with pytest.raises(ConfigError, match="steps must be >= 1"):
        expand(bad, "mnist-5k")


def test_default_workers_per_device():
    # CPU: one per core, never more than there are runs
    assert default_workers("cpu", runs=4, cores=2) == 2
    assert default_workers("cpu", runs=1, cores=2) == 1
    assert default_workers("cpu", runs=40, cores=16) == 16
    # CUDA: one per core up to the cap, as GPU memory allows
    gib = 1 << 30
    assert default_workers("cuda", runs=5, cores=16, gpu_free_bytes=140 * gib) == 5
    assert default_workers("cuda", runs=100, cores=64, gpu_free_bytes=140 * gib) == \
        GPU_WORKERS_CAP
    assert default_workers("cuda", runs=100, cores=16, gpu_free_bytes=3 * gib) == 3
    assert default_workers("cuda", runs=100, cores=16, gpu_free_bytes=gib // 2) == 1


def test_threads_per_worker_obeys_omp_num_threads():
    # the documented way to run side-by-side one-thread processes must not be overridden
    assert threads_per_worker(1, cores=2, environ={"OMP_NUM_THREADS": "1"}) == 1
    assert threads_per_worker(1, cores=16, environ={"OMP_NUM_THREADS": "4"}) == 4
    assert threads_per_worker(8, cores=16, environ={"OMP_NUM_THREADS": "4"}) == 2
    for unusable in ("", "0", "two", "-1"):
        assert threads_per_worker(1, cores=2, environ={"OMP_NUM_THREADS": unusable}) == 2
