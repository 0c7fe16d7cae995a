"""Protocol presets: what each sets, that the seed preset changes nothing, that a fixing
preset refuses flags that contradict it, and that run and sweep build the same specs."""
from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.protocols import LFF_PALETTE, PROTOCOLS, SEED, preset
from bench.runs.grid import SweepGrid, expand

LFF = "lff-cmnist"


def test_the_registry_holds_the_seed_and_the_lff_protocol():
    assert {SEED, LFF} <= set(PROTOCOLS.names())
    seed = preset(SEED)
    assert seed.extras() == {} and not seed.fixes_data and seed.data_fields() == {}
    assert seed.settle({}) == {"mode": "background", "jitter": 0.0, "dataset": "colored",
                               "backbone": "baseline", "diagnostics": "all"}
    assert seed.overrides_for("erm") == {} and seed.overrides_for("dfa") == {}


def test_lff_cmnist_sets_lffs_construction_network_and_optimiser():
    lff = preset(LFF)
    assert lff.extras() == {"protocol": LFF}
    assert lff.settle({}) == {"mode": "foreground", "jitter": 0.005, "dataset": "colored-exact",
                              "backbone": "mlp-3x100", "diagnostics": "color"}
    assert lff.data_fields() == {"palette": LFF_PALETTE}
    assert lff.conflict_ratios == (0.005, 0.01, 0.02, 0.05)
    adam = {"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 100}
    assert lff.overrides_for("erm") == adam == lff.overrides_for("lff-paper")
    assert lff.overrides_for("jtt") == adam        # its upweight and T stay its own
    assert lff.overrides_for("dfa") == {**adam, "lr": 0.01, "epochs": 237,
                                        "decay_every": 10_000, "decay_factor": 0.5}
    assert "optimizer" not in lff.overrides_for("dfr")   # a method without the field keeps its


def test_a_fixing_preset_refuses_flags_that_change_it_and_keeps_the_others():
    lff = preset(LFF)
    with pytest.raises(ConfigError, match="lff-cmnist protocol sets mode = foreground"):
        lff.settle({"mode": "background"})
    with pytest.raises(ConfigError, match="backbone"):
        lff.settle({"backbone": "baseline"})
    assert lff.settle({"backbone": "mlp-3x100", "diagnostics": "none"})["diagnostics"] == "none"
    assert preset(SEED).settle({"mode": "foreground", "jitter": 0.1})["jitter"] == 0.1


def test_the_sweep_expands_a_preset_into_its_ratios_and_settings():
    jobs = expand(SweepGrid(("erm", "dfa"), protocol=LFF, sets=(("lr", ("0.005",)),)),
                  "mnist-5k")
    assert sorted({j.spec.data["conflict_ratio"] for j in jobs}) == [0.005, 0.01, 0.02, 0.05]
    erm = next(j.spec for j in jobs if j.spec.method == "erm")
    assert erm.backbone == "mlp-3x100" and erm.dataset == "colored-exact"
    assert erm.data["mode"] == "foreground" and erm.data["jitter"] == 0.005
    assert [tuple(c) for c in erm.data["palette"]] == list(LFF_PALETTE)
    assert erm.extras["protocol"] == LFF and list(erm.extras["diagnostics"]) == ["color"]
    # the preset's settings, then the user's over them
    assert {k: erm.hparams[k] for k in ("optimizer", "lr", "batch_size", "epochs")} == \
        {"optimizer": "adam", "lr": 0.005, "batch_size": 256, "epochs": 100}
    dfa = next(j.spec for j in jobs if j.spec.method == "dfa")
    assert dfa.hparams["epochs"] == 237 and dfa.hparams["lr"] == 0.005
    with pytest.raises(ConfigError, match="sets mode"):
        expand(SweepGrid(("erm",), protocol=LFF, mode="background"), "mnist-5k")


def test_bench_run_refuses_a_contradicting_flag_in_one_line(capsys):
    assert main(["run", "--protocol", LFF, "--method", "erm", "--mode", "background",
                 "--images", "mnist-5k", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lff-cmnist protocol sets mode = foreground" in err
    assert main(["run", "--protocol", "lff-cnmist", "--method", "erm"]) == 2
    assert "did you mean 'lff-cmnist'" in capsys.readouterr().err


def test_bench_run_and_bench_sweep_store_the_same_key(tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    assert main(["run", "--protocol", LFF, "--method", "erm", "--images", "mnist-5k",
                 "--conflict-ratio", "0.02", "--epochs", "1", "--device", "cpu",
                 "--diagnostics", "none", "--no-keep-weights", "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["results", "--format", "json", "--store", str(store)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    (job,) = expand(SweepGrid(("erm",), protocol=LFF, conflict_ratios=(0.02,), epochs=1,
                              diagnostics="none"), "mnist-5k")
    assert record["key"] == job.key and record["extras"]["protocol"] == LFF
    assert record["hparams"]["optimizer"] == "adam"
    # the same command again skips the stored seed
    assert main(["sweep", "--protocol", LFF, "--methods", "erm", "--images", "mnist-5k",
                 "--conflict-ratios", "0.02", "--epochs", "1", "--device", "cpu",
                 "--diagnostics", "none", "--store", str(store)]) == 0
    assert "0 to run" in capsys.readouterr().err


def test_bench_list_shows_the_protocols_and_what_each_sets(capsys):
    assert main(["list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "protocols" in out and LFF in out and "mlp-3x100" in out
    assert "colored-exact" in out and "optimizer=adam" in out
