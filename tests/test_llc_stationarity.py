"""scripts/llc_stationarity.py: the loss and its gradient at kept weights (a known answer, and
independent of how the images are chunked), measured on a tiny zoo with the page's row labels,
and the docs' table as the script's output from the committed rows."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import generated_block_and_output, load_script
from tests.test_llc_scripts import keep


class LogitsAreABias(nn.Module):
    """Every image gets the same logits: the cross-entropy's minimum is at the log of the
    label frequencies, where the gradient is exactly zero."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.bias = nn.Parameter(logits.clone())

    def forward(self, x):
        return self.bias.expand(len(x), -1)


def test_the_gradient_is_zero_at_the_minimum_and_known_away_from_it():
    check = load_script("llc_stationarity")
    labels = torch.tensor([0] * 6 + [1] * 3 + [2] * 1)
    frequency = torch.tensor([0.6, 0.3, 0.1])
    images = torch.zeros(len(labels), 1)
    loss, norm = check.loss_and_gradient_norm(LogitsAreABias(frequency.log()), images, labels,
                                              chunk=3)
    assert norm == pytest.approx(0.0, abs=1e-6)
    assert loss == pytest.approx(-(frequency * frequency.log()).sum().item(), rel=1e-6)
    # uniform logits: the gradient is softmax - frequency = 1/3 - frequency
    loss, norm = check.loss_and_gradient_norm(LogitsAreABias(torch.zeros(3)), images, labels)
    assert loss == pytest.approx(math.log(3))
    assert norm == pytest.approx(torch.linalg.norm(1 / 3 - frequency).item(), rel=1e-5)


def test_chunking_changes_nothing_but_memory():
    check = load_script("llc_stationarity")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    images, labels = torch.randn(37, 3, 2, 2), torch.randint(0, 5, (37,))
    whole = F.cross_entropy(model(images), labels)
    grads = torch.autograd.grad(whole, list(model.parameters()))
    expected = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
    for chunk in (1, 8, 37, 100):
        loss, norm = check.loss_and_gradient_norm(model, images, labels, chunk=chunk)
        assert loss == pytest.approx(whole.item(), rel=1e-5)
        assert norm == pytest.approx(expected, rel=1e-5)


def test_measure_labels_rows_as_the_page_and_reads_the_committed_estimates(tmp_path):
    from bench.cli import main as bench_main
    check = load_script("llc_stationarity")
    store = tmp_path / "runs.sqlite"
    a = keep(store, seed=0, metrics={"acc_conflicting": 0.1}, stamped=True)
    b = keep(store, seed=0, overrides={"epochs": 20}, metrics={"acc_conflicting": 0.2},
             stamped=True)
    records = tmp_path / "board" / "records"
    assert bench_main(["leaderboard", "--store", str(store), "--records", str(records),
                       "--out", str(tmp_path / "board" / "pages"), "--export",
                       "--no-figures"]) == 0
    remeasured = tmp_path / "llc.json"
    remeasured.write_text(json.dumps({"settings": {}, "runs": {
        a.key: {"llc": 2.5, "llc_converged": 1.0}}}))
    rows = check.measure(records.parent / "models", None, remeasured, check.CALIBRATED,
                         0.05, "mnist-5k", a.spec.backbone, log=lambda line: None)
    by_key = {r["key"]: r for r in rows}
    assert by_key[a.key]["row"].startswith("erm") and "epochs=20" in by_key[b.key]["row"]
    assert (by_key[a.key]["llc"], by_key[a.key]["llc_converged"]) == (2.5, 1)
    assert math.isnan(by_key[b.key]["llc"]) and by_key[b.key]["llc_converged"] == 0
    assert all(r["grad_norm"] > 0 and r["loss"] > 0 and r["llc_defined"] == 1 for r in rows)


def test_summary_shows_declared_methods_as_not_defined_and_correlates_the_rest(tmp_path,
                                                                                capsys):
    check = load_script("llc_stationarity")
    rows = [{"row": "erm", "seed": s, "key": f"e/{s}", "llc_defined": 1, "loss": 0.2,
             "grad_norm": 0.1 * (s + 1), "llc": 2.0 + s, "llc_converged": int(s < 2)}
            for s in range(3)]
    rows.append({"row": "ablate", "seed": 0, "key": "a/0", "llc_defined": 0, "loss": 0.5,
                 "grad_norm": 3.0, "llc": float("nan"), "llc_converged": 0})
    path = tmp_path / "rows.csv"
    check.write_csv(rows, path)
    check.main(["--from-csv", str(path)])
    out = capsys.readouterr().out
    assert "| erm | 3 | 0.200 ± 0.000 | 0.200 ± 0.100 | 3.00 ± 1.00 | 2/3 |" in out
    assert "| ablate | 1 | 0.500 | 3.000 | n/a (declared) | — |" in out
    assert "over the 3 models" in out and ": 1.00 (p" in out


def test_the_docs_stationarity_table_is_the_scripts_output_from_the_committed_rows(capsys):
    block, generated = generated_block_and_output(capsys, "llc_stationarity",
                                                  "leaderboards/records/llc-stationarity.csv")
    assert block == generated
