"""The model zoo: export keeps weights and a manifest, loading checks every byte, the tools take
zoo models, and an outside model is evaluated like a run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.harness import RunEnvironment, execute, make_spec
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.protocol import protocol_of
from bench.leaderboard.sources import record_line
from bench.zoo_export import copy_weights, write_manifest, zoo_file
from bench.weights import keep_weights_hook, weights_path
from bench import zoo
from bench.weights import file_sha256
from bench.zoo import ZooError, find, load_model, parse_reference

SPEC = ColoredMNISTSpec(source="mnist-5k")


def _head(splits, n_train=300, n_val=200, n_test=200):
    from bench.data import Splits
    head = lambda s, n: s.subset(torch.arange(min(n, len(s))))   # noqa: E731
    return Splits(head(splits.train, n_train), head(splits.val, n_val),
                  {k: head(v, n_test) for k, v in splits.tests.items()}, info=splits.info)


@pytest.fixture(scope="module")
def small_zoo(tmp_path_factory, tiny_splits):
    """A leaderboards/ folder with two erm seeds and a jtt seed: records, weights, manifest."""
    tiny_splits = _head(tiny_splits)
    root = tmp_path_factory.mktemp("leaderboards")
    kept = root / "kept"
    env = RunEnvironment(torch.device("cpu"), after_fit=[keep_weights_hook(kept)])
    records = []
    for method, seed, hparams in (("erm", 0, {"epochs": 1}), ("erm", 1, {"epochs": 1}),
                                  ("jtt", 0, {"epochs": 1, "identification_epochs": 1})):
        spec = make_spec(method, {**hparams, "batch_size": 64}, SPEC,
                         extras={"diagnostics": {}})
        records.append(execute(spec, seed, env, splits=tiny_splits))
    (root / "records").mkdir()
    slug = protocol_of(records[0]).slug
    (root / "records" / f"{slug}.jsonl").write_text("".join(map(record_line, records)))
    models = root / "models"
    copied, missing = copy_weights(records, lambda key: weights_path(kept, key), models)
    assert len(copied) == 3 and missing == []
    write_manifest(records, MethodCatalog.from_registry(), models)
    return models, records, slug


@pytest.fixture
def use_zoo(small_zoo, monkeypatch):
    models, records, slug = small_zoo
    monkeypatch.setenv("BENCH_ZOO", str(models))
    return small_zoo


def test_the_manifest_lists_every_file_with_its_hash_size_and_record(small_zoo):
    models, records, slug = small_zoo
    manifest = json.loads((models / "manifest.json").read_text())
    assert {e["key"] for e in manifest["models"]} == {r.key for r in records}
    for entry in manifest["models"]:
        path = models / entry["file"]
        assert entry["bytes"] == path.stat().st_size and entry["sha256"] == file_sha256(path)
        assert entry["protocol"] == slug and entry["supervision"] == "none"
    assert manifest["total_bytes"] == sum(e["bytes"] for e in manifest["models"])


def test_one_line_loads_an_eval_model_and_its_record(use_zoo):
    models, records, slug = use_zoo
    model, record = load_model("erm", seed=1, protocol=slug)
    assert record.key == records[1].key and not model.training
    assert next(model.parameters()).device.type == "cpu"
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("damage", ["flip", "truncate", "other record"])
def test_a_damaged_or_swapped_file_is_a_one_line_error(small_zoo, tmp_path, monkeypatch, damage):
    models, records, slug = small_zoo
    copy = tmp_path / "models"
    import shutil
    shutil.copytree(models, copy)
    shutil.copytree(models.parent / "records", tmp_path / "records")
    monkeypatch.setenv("BENCH_ZOO", str(copy))
    target = copy / zoo_file(records[0], slug)
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[:len(data) // 2]))
    else:   # the file of erm seed 1, with the manifest's hash updated to match: the stamp
        other = copy / zoo_file(records[1], slug)
        target.write_bytes(other.read_bytes())
        manifest = json.loads((copy / "manifest.json").read_text())
        for entry in manifest["models"]:
            if entry["key"] == records[0].key:
                entry["sha256"], entry["bytes"] = file_sha256(target), target.stat().st_size
        (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError) as err:
        load_model("erm", seed=0, protocol=slug)
    assert "\n" not in str(err.value) and str(target) in str(err.value) or \
        records[0].key in str(err.value)


def test_missing_models_and_bad_references_say_what_exists(use_zoo):
    models, records, slug = use_zoo
    with pytest.raises(ZooError, match="seeds: 0, 1"):
        find("erm", seed=7, protocol=slug)
    with pytest.raises(ZooError, match="no lff model"):
        find("lff", protocol=slug)
    with pytest.raises(ZooError, match="zoo:METHOD/SEED"):
        parse_reference("zoo:jtt")
    assert parse_reference("zoo:jtt/0") == (None, "jtt", 0)
    assert parse_reference(f"zoo:{slug}/erm/1") == (slug, "erm", 1)


def test_zoo_cli_lists_and_shows(use_zoo, capsys):
    models, records, slug = use_zoo
    assert main(["zoo", "list", "--wide"]) == 0
    listed = capsys.readouterr().out
    assert "erm" in listed and "0,1" in listed and "jtt" in listed
    assert main(["zoo", "show", "erm", "--seed", "1", "--protocol", slug]) == 0
    shown = capsys.readouterr().out
    assert records[1].key in shown and "(verified)" in shown and "load_model('erm'" in shown


def test_bench_eval_of_a_zoo_file_reproduces_its_accuracies(use_zoo, tmp_path, tiny_splits):
    models, records, slug = use_zoo
    path = models / zoo_file(records[0], slug)
    store = tmp_path / "eval.sqlite"
    assert main(["eval", "--weights", str(path), "--images", "mnist-5k", "--store",
                 str(store)]) == 0
    from bench.store import Store
    with Store(store) as opened:
        (evaluated,) = opened.records()
    assert evaluated.spec.method == "external"
    assert evaluated.spec.hparams["weights_sha256"] == file_sha256(path)
    # The zoo record was scored on the first 200 test images (the fixture's splits); the
    # evaluation scored all 1,000: the same model scores those 200 identically.
    model, _ = load_model("erm", seed=0, protocol=slug)
    from bench.evaluate import evaluate_splits
    subset = _head(tiny_splits)
    again, _ = evaluate_splits(model, subset.all(), subset.info, torch.device("cpu"))
    for key, value in records[0].metrics.items():
        if key.startswith("acc_") or key == "worst_group_acc":
            assert again[key] == value, key
    whole, _ = evaluate_splits(model, tiny_splits.all(), tiny_splits.info, torch.device("cpu"))
    for key in whole:
        assert evaluated.metrics[key] == whole[key], key


def test_bench_eval_rejects_bad_files_in_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    assert main(["eval", "--weights", str(junk), "--images", "mnist-5k"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    wrong = tmp_path / "wrong.pt"
    torch.save({"layer.weight": torch.zeros(3, 3)}, wrong)
    assert main(["eval", "--weights", str(wrong), "--backbone", "baseline",
                 "--images", "mnist-5k"]) == 2
    assert "does not fit backbone" in capsys.readouterr().err
    assert main(["eval", "--weights", str(wrong), "--images", "mnist-5k"]) == 2
    assert "--backbone" in capsys.readouterr().err


def test_a_preset_that_excludes_its_models_is_neither_copied_nor_called_missing(tmp_path):
    """lff-cmnist's MLPs stay out of the zoo (bench.protocols: zoo_exclusion): export copies
    none of them, reports none as 'not kept', and its pages say why instead."""
    from bench.leaderboard.pages import models_lines
    from bench.leaderboard.tables import build_rows
    from bench.protocols import preset
    from tests.test_leaderboard_literature import record
    records = [record("erm", 0.01, 0, 0.9, 0.2), record("erm", 0.01, 1, 0.8, 0.3)]
    asked = []
    copied, missing = copy_weights(records, lambda key: asked.append(key), tmp_path / "models")
    assert (copied, missing, asked) == ([], [], [])
    protocol = protocol_of(records[0])
    lines = models_lines(protocol, build_rows(records, MethodCatalog.from_registry()), set())
    text = "\n".join(lines)
    assert "not in the zoo" in text and "not kept" not in text
    assert preset("lff-cmnist").zoo_exclusion and not preset("seed").zoo_exclusion
