"""scripts/feature_probe.py: validation data only, controls that need no store, clear errors."""
from __future__ import annotations

import pytest

import bench.data as data
from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.errors import BenchError
from tests.conftest import TINY_SPEC, load_script


@pytest.fixture(scope="module")
def script():
    return load_script("feature_probe")


def test_probing_never_builds_or_reads_a_test_split(script, request):
    # half the images conflicting: enough of them in the 5k sample's validation to probe
    spec = ColoredMNISTSpec(**{**TINY_SPEC.to_dict(), "conflict_ratio": 0.5})
    prepare_splits(spec)   # test splits now sit in the cache, ready to be (wrongly) read
    touched = request.getfixturevalue("splits_touched")
    rows = script.rows_for([script.UNTRAINED], [spec.seed], spec, None, "baseline",
                           None, lambda line: None)
    assert {"train", "val"} <= set(touched)
    assert not set(touched) & set(data.test_dataset_names())
    (row,) = rows
    assert row["method"] == script.UNTRAINED and row["conflicting_images"] > 0
    # real digits, random convolutions: some class survives, above the bias-only floor
    assert 0 <= row["bias_only_floor"] < row["class_on_conflicting"] <= 1


def test_a_trained_method_without_a_store_is_a_one_line_error(script, capsys):
    with pytest.raises(SystemExit) as stopped:
        script.main(["--methods", "erm", "--seeds", "1", "--source", "mnist-5k"])
    assert stopped.value.code == 2
    assert "needs --store" in capsys.readouterr().err


def test_summary_gives_mean_and_std_per_method(script):
    rows = [{"method": "erm", "seed": s, "class_on_conflicting": v, "bias_only_floor": 0.1,
             "bias_value": 1.0, "conflicting_images": 50} for s, v in enumerate((0.2, 0.4))]
    (line,) = script.summary(rows, ["erm"])
    assert line["n"] == 2 and line["class_on_conflicting"] == "0.300 ± 0.141"
