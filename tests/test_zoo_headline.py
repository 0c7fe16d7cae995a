"""The committed zoo can never drift from the numbers: every model of the headline page,
loaded from its committed file (hash checked), gives exactly its record's test accuracies on
that record's own test data (the MNIST shipped with the suite, the seed's splits, eval mode)."""
import json
from functools import lru_cache

import pytest
import torch

from bench import zoo
from bench.data import data_spec_of, info_of, prepare_splits
from bench.evaluate import evaluate_splits
from bench.record import RunSpec

HEADLINE = [e for e in zoo.read_manifest() if e.protocol == zoo.headline_protocol()]
EXACT = ("acc_conflicting", "acc_aligned", "worst_group_acc")


@lru_cache(maxsize=None)
def _tests_of(data_json: str, dataset: str, seed: int):
    """The test splits of one seed, built once for every model trained on that seed."""
    spec = RunSpec("any", {}, json.loads(data_json), dataset)   # the record's own data
    info = info_of(spec)
    # the splits of the metrics checked (the headline split carries worst_group_acc): a
    # forward pass over every test split would double the time for nothing more
    wanted = (info.splits.headline, "aligned")
    return prepare_splits(data_spec_of(spec, seed), dataset, test_names=wanted).tests, info


def test_the_headline_page_ships_models_of_every_rerun_method():
    methods = {e.method for e in HEADLINE}
    assert {"erm", "jtt", "kmeans", "groupdro", "lff", "dfr", "group-balanced"} <= methods


@pytest.mark.parametrize("entry", HEADLINE, ids=lambda e: f"{e.row}/{e.seed}")
def test_a_headline_zoo_model_reproduces_its_record_exactly(entry):
    model, record = zoo.load_entry(entry)
    tests, info = _tests_of(json.dumps(record.spec.data, sort_keys=True), record.spec.dataset,
                            record.seed)
    measured, _ = evaluate_splits(model, tests, info, torch.device("cpu"))
    assert entry.acc_conflicting == record.metrics["acc_conflicting"]
    for metric in EXACT:
        assert measured[metric] == record.metrics[metric], metric
