"""Every rule's pick from one run: the harness records them, a run that selects by one rule
alone reports what the all-rules run recorded for it, and no non-oracle pick reads the test
split."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.data import Splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.errors import ConfigError
from bench.harness import RunEnvironment, execute, make_spec
from bench.selection import rule, rule_names
from bench.supervision import Supervision

SMALL = dict(epochs=5, batch_size=32, lr=0.05)


def _small(splits: Splits, n_train=600, n_val=300, n_test=300) -> Splits:
    head = lambda s, n: s.subset(torch.arange(min(n, len(s))))   # noqa: E731
    return Splits(head(splits.train, n_train), head(splits.val, n_val),
                  {k: head(v, n_test) for k, v in splits.tests.items()}, info=splits.info)


def _run(splits, method="erm", selection=None, seed=0, hparams=None):
    spec = make_spec(method, SMALL if hparams is None else hparams,
                     ColoredMNISTSpec(source="mnist-5k"), selection=selection)
    return execute(spec, seed, RunEnvironment(torch.device("cpu")), splits=splits)


@pytest.fixture(scope="module")
def small(tiny_splits):
    return _small(tiny_splits)


@pytest.fixture(scope="module")
def all_rules(small):
    return _run(small)


def test_a_run_records_every_rule_with_epoch_score_curve_and_metrics(all_rules):
    assert all_rules.selection_rule == "val-acc"
    assert set(all_rules.selection) == set(rule_names())
    for name, pick in all_rules.selection.items():
        assert 1 <= pick["epoch"] <= SMALL["epochs"] and len(pick["curve"]) == SMALL["epochs"]
        assert pick["score"] == max(pick["curve"])
        assert {"acc_val", "acc_conflicting", "acc_aligned", "worst_group_acc"} <= \
            set(pick["metrics"])
    primary = all_rules.selection["val-acc"]
    assert primary["epoch"] == all_rules.metrics["selected_epoch"]
    assert primary["metrics"]["acc_conflicting"] == all_rules.metrics["acc_conflicting"]
    assert all_rules.selection["last-epoch"]["epoch"] == SMALL["epochs"]
    assert all_rules.selection["last-epoch"]["metrics"]["acc_conflicting"] == \
        all_rules.metrics["final_acc_conflicting"]


@pytest.mark.parametrize("name", ["worst-class", "pseudo-group", "last-epoch",
                                  "val-worst-group"])
def test_selecting_by_one_rule_alone_reports_what_the_all_rules_run_recorded(small, all_rules,
                                                                               name):
    alone = _run(small, selection=name)
    assert alone.selection_rule == name and alone.spec.extras["selection"] == name
    assert alone.spec.hash() != all_rules.spec.hash()      # another number, another key
    recorded = all_rules.selection[name]
    assert alone.metrics["selected_epoch"] == recorded["epoch"]
    for metric, value in recorded["metrics"].items():
        assert alone.metrics[metric] == value, metric
    # the trajectory is the same run: every rule's pick is too
    assert {k: v["epoch"] for k, v in alone.selection.items()} == \
        {k: v["epoch"] for k, v in all_rules.selection.items()}
    expected = Supervision.VAL_BIAS if rule(name).supervision is Supervision.VAL_BIAS \
        else Supervision.NONE
    assert alone.supervision == expected.value


def test_the_default_rule_keeps_the_spec_as_it_always_was(small):
    default = make_spec("erm", SMALL, ColoredMNISTSpec(source="mnist-5k"), selection="val-acc")
    plain = make_spec("erm", SMALL, ColoredMNISTSpec(source="mnist-5k"))
    assert default == plain and "selection" not in plain.extras
    labelled = make_spec("groupdro", SMALL, ColoredMNISTSpec(source="mnist-5k"),
                         selection="val-conflicting")
    assert "selection" not in labelled.extras


def test_the_oracle_never_chooses_the_reported_model(small):
    with pytest.raises(ConfigError, match="oracle"):
        _run(small, selection="oracle-test")


def _with_permuted_test_labels(splits: Splits) -> Splits:
    tests = {}
    for name, split in splits.tests.items():
        order = torch.randperm(len(split), generator=torch.Generator().manual_seed(1))
        tests[name] = dataclasses.replace(split, labels=split.labels[order])
    return Splits(splits.train, splits.val, tests, info=splits.info)


def test_permuted_test_labels_change_no_pick_but_the_oracle(small, all_rules):
    permuted = _run(_with_permuted_test_labels(small))
    for name in rule_names():
        a, b = all_rules.selection[name], permuted.selection[name]
        if rule(name).oracle:
            continue
        assert (a["epoch"], a["score"], a["curve"]) == (b["epoch"], b["score"], b["curve"])
        assert a["metrics"]["acc_val"] == b["metrics"]["acc_val"]
    assert all_rules.metrics["acc_val"] == permuted.metrics["acc_val"]
    assert all_rules.selection["oracle-test"]["curve"] != \
        permuted.selection["oracle-test"]["curve"]


def test_a_method_without_epochs_to_choose_records_no_picks(small):
    record = _run(small, method="dfr", hparams=dict(erm_epochs=2, retrains=2, c_grid=(1.0,)))
    assert record.status == "completed", record.error
    assert record.selection == {} and record.selection_rule == "val-conflicting"


@pytest.mark.parametrize("primary", ["val-acc", "pseudo-group"])
def test_permuted_test_labels_leave_the_reported_model_and_its_true_metrics_unchanged(small,
                                                                                      primary):
    """The model a non-oracle rule reports is the same whatever the test labels say: scored
    against the true labels it gives the same numbers, so no stored metric of it and no
    ranking built from them can move."""
    from bench.evaluate import predict
    from bench.supervision import to_float_images

    def true_scores(model, splits, ctx, record):
        out = {}
        for name, split in small.tests.items():          # the true labels, whatever the run saw
            hits = predict(model, to_float_images(split.images, torch.device("cpu"))) \
                == split.labels
            out[f"true_acc_{name}"] = hits.double().mean().item()
        return out

    def run(splits):
        spec = make_spec("erm", SMALL, ColoredMNISTSpec(source="mnist-5k"), selection=primary)
        env = RunEnvironment(torch.device("cpu"), after_fit=[true_scores])
        return execute(spec, 0, env, splits=splits)

    plain, permuted = run(small), run(_with_permuted_test_labels(small))
    assert plain.diagnostic_errors == {} and permuted.diagnostic_errors == {}
    true = {k: v for k, v in plain.metrics.items() if k.startswith("true_acc_")}
    assert len(true) == len(small.tests)
    assert {k: permuted.metrics[k] for k in true} == true
    assert plain.metrics["selected_epoch"] == permuted.metrics["selected_epoch"]
    assert plain.metrics["acc_conflicting"] != permuted.metrics["acc_conflicting"]  # labels did move
