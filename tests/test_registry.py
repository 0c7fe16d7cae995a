"""The generic registry: decorator registration, duplicates, suggestions, and a real
third-party plugin installed with pip and found through its entry point."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.method import Method
from bench.registry import METHODS, Registry, RegistryError

FIXTURE = Path(__file__).parent / "plugin_fixture"


def test_decorator_registers_under_the_written_name():
    reg: Registry = Registry("widget")

    @reg.register("alpha")
    class Alpha:
        pass

    assert reg.get("alpha") is Alpha
    assert "alpha" in reg and "beta" not in reg
    assert reg.names() == ["alpha"]
    assert reg.items() == [("alpha", Alpha)]


def test_duplicate_name_raises_but_re_adding_the_same_object_does_not():
    reg: Registry = Registry("widget")
    obj = object()
    reg.add("alpha", obj)
    reg.add("alpha", obj)          # idempotent: a module imported twice is harmless
    with pytest.raises(RegistryError, match="registered twice"):
        reg.add("alpha", object())


def test_unknown_name_suggests_the_closest_and_lists_the_known():
    reg: Registry = Registry("widget")
    reg.add("groupdro", 1)
    reg.add("erm", 2)
    with pytest.raises(RegistryError) as info:
        reg.get("grupdro")
    assert "did you mean 'groupdro'?" in str(info.value)
    assert "known: erm, groupdro" in str(info.value)
    with pytest.raises(RegistryError) as info:
        reg.get("zzzzzzzz")
    assert "did you mean" not in str(info.value)


def test_builtin_methods_are_registered():
    assert "erm" in METHODS
    assert issubclass(METHODS.get("erm"), Method)


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """Installs tests/plugin_fixture with pip (offline: no deps, no build isolation) into a
    temporary target folder, as a user's ``pip install`` of a plugin package would."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(FIXTURE, work / "src")   # keep build files out of the repo
    target = work / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--no-build-isolation", "--no-index", "--target", str(target),
                          str(source)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert list(target.glob("bench_plugin_fixture-*.dist-info"))
    return target


def test_entry_point_plugin_is_found_by_a_fresh_registry(plugin_path, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_path))
    fresh: Registry = Registry("method", "bench.methods", ())
    assert "plugin-erm" in fresh.names()
    cls = fresh.get("plugin-erm")
    assert issubclass(cls, Method) and cls.__module__ == "bench_plugin_fixture"


@pytest.mark.slow
def test_entry_point_plugin_runs_through_bench_run(plugin_path, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(plugin_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    store = tmp_path / "results.sqlite"
    run = subprocess.run([sys.executable, "-m", "bench", "run", "--method", "plugin-erm",
                          "--images", "mnist-5k", "--device", "cpu", "--diagnostics", "none",
                          "--no-keep-weights", "--store", str(store)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    shown = subprocess.run([sys.executable, "-m", "bench", "results", "--format", "json",
                            "--store", str(store)], capture_output=True, text=True, env=env,
                           timeout=300)
    rows = json.loads(shown.stdout)
    assert [(r["method"], r["status"]) for r in rows] == [("plugin-erm", "completed")]
    assert rows[0]["hparams"] == {"epochs": 1, "batch_size": 64, "lr": 0.1}


def _broken_plugin(folder: Path) -> Path:
    """An installed distribution whose entry point names a module that does not import:
    the metadata pip would write, without installing anything else."""
    dist = folder / "broken_bench_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-bench-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.methods]\n"
                                           "broken-method = no_such_module_for_bench:Method\n")
    return folder


def test_a_broken_plugin_is_skipped_with_one_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.syspath_prepend(str(_broken_plugin(tmp_path)))
    fresh: Registry = Registry("method", "bench.methods", ("bench.methods",))
    with caplog.at_level("WARNING", logger="bench.registry"):
        fresh.names()                              # loads; does not raise
    [warning] = [r.getMessage() for r in caplog.records]
    assert "broken-method" in warning and "ModuleNotFoundError" in warning
    assert "broken-bench-plugin" in warning and "\n" not in warning
    with pytest.raises(RegistryError, match="plugin that failed to load"):
        fresh.get("broken-method")


def test_bench_list_works_with_a_broken_plugin_installed(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(_broken_plugin(tmp_path)), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    shown = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "erm" in shown.stdout and "Traceback" not in shown.stderr
    [line] = [line for line in shown.stderr.splitlines() if line.strip()]
    assert line.startswith("warning: skipped the method plugin 'broken-method'")


def _plugins_that_are_not_methods(folder: Path) -> Path:
    """Two installed entry points that pass the import but are not usable methods: one names
    an object that is not a Method, one module calls sys.exit when imported."""
    dist = folder / "odd_bench_plugins-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: odd-bench-plugins\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.methods]\n"
                                           "not-a-method = json:dumps\n"
                                           "exits-on-import = exits_on_import:Method\n")
    (folder / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    return folder


def test_plugins_that_are_not_methods_or_exit_on_import_are_skipped(tmp_path, monkeypatch,
                                                                     caplog):
    monkeypatch.syspath_prepend(str(_plugins_that_are_not_methods(tmp_path)))
    fresh: Registry = Registry("method", "bench.methods", ("bench.methods",),
                               plugin_check="bench.method:check_method_class")
    with caplog.at_level("WARNING", logger="bench.registry"):
        names = fresh.names()                      # neither raises nor exits
    assert "not-a-method" not in names and "exits-on-import" not in names
    warnings = sorted(r.getMessage() for r in caplog.records)
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert "'exits-on-import'" in warnings[0] and "SystemExit: 3" in warnings[0]
    assert "'not-a-method'" in warnings[1] and "not a bench.method.Method" in warnings[1]


def test_bench_list_works_with_plugins_that_are_not_methods(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(_plugins_that_are_not_methods(tmp_path)), os.environ.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)}
    shown = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "erm" in shown.stdout and "Traceback" not in shown.stderr
    lines = [line for line in shown.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("warning: skipped the method plugin")
                                   for line in lines)


def test_a_name_that_is_not_a_plain_name_is_refused():
    reg: Registry = Registry("widget")
    for bad in ("has space", "../up", "<b>", "a|b", "", "x" * 101):
        with pytest.raises(RegistryError, match="use letters, digits"):
            reg.add(bad, object())
