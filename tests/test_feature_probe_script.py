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


def test_summary_gives_mean_std_and_a_paired_test_against_the_untrained_control(script):
    def row(method, seed, value, images=50):
        return {"method": method, "seed": seed, "class_on_conflicting": value,
                "bias_only_floor": 0.1, "bias_value": 1.0, "conflicting_images": images}
    rows = [row("erm", 0, 0.2, 48), row("erm", 1, 0.4, 52), row("erm", 2, 0.3),
            row("untrained", 0, 0.1), row("untrained", 1, 0.3), row("untrained", 2, 0.2)]
    erm, untrained = script.summary(rows, ["erm", "untrained"])
    assert erm["n"] == 3 and erm["class_on_conflicting"] == "0.300 ± 0.100"
    assert erm["conflicting images"] == "48–52"
    # every seed's difference is +0.1: paired, the difference is certain (p = 0)
    assert erm["vs untrained (paired t, p)"] == "+0.100 (0.000)"
    assert not any(key.startswith("vs") for key in untrained)
