"""The Ray launcher against a real local Ray instance bound to loopback (not skipped: CI
installs the ``test`` extra, which includes ray)."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import ray

import sweep_probe  # noqa: F401  (registers "sweep-probe"; Ray workers import it by name)
from bench.cli import main
from bench.store import Store

pytestmark = pytest.mark.slow   # starts a Ray instance: end to end


def test_tiny_sweep_on_a_local_ray_instance(monkeypatch, capsys):
    # Ray workers start from the raylet's environment: put the tests folder on their path so
    # they can import the probe method (an installed method needs nothing of the sort).
    tests_dir = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p))
    init_kwargs, puts = [], []
    real_init, real_put = ray.init, ray.put
    monkeypatch.setattr(ray, "init", lambda *a, **kw: init_kwargs.append(kw) or real_init(*a, **kw))
    monkeypatch.setattr(ray, "put", lambda value: puts.append(value) or real_put(value))

    # 2 methods x 2 seeds x 2 ratios, plus 4 probe runs that fail at once (crash=data)
    code = main(["sweep", "--methods", "erm,sweep-probe", "--seeds", "2",
                 "--conflict-ratios", "0.02,0.05", "--set", "crash=no,data", "--set", "epochs=1",
                 "--set", "batch_size=256", "--images", "mnist-5k", "--diagnostics", "none",
                 "--no-keep-weights", "--device", "cpu", "--launcher", "ray", "--workers", "2"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1, err                                  # some runs failed, on purpose
    assert "8 completed, 4 failed" in err

    assert init_kwargs and init_kwargs[0]["_node_ip_address"] == "127.0.0.1"
    assert init_kwargs[0]["include_dashboard"] is False
    assert not ray.is_initialized()                         # the instance it started is gone
    # data went to workers through the object store: one put per (ratio, seed), not per run
    assert len(puts) == 4

    with Store() as store:
        records = store.records()
    assert len({r.key for r in records}) == len(records) == 12
    completed = [r for r in records if r.status == "completed"]
    assert Counter(r.spec.method for r in completed) == {"erm": 4, "sweep-probe": 4}
    failed = [r for r in records if r.status == "failed"]
    assert {r.error for r in failed} == {"DataError: probe asked for missing data"}
    assert {r.spec.hparams["crash"] for r in failed} == {"data"}
