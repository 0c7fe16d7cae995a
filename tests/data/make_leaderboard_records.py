"""Writes ``leaderboard_records.jsonl``: synthetic run records for the leaderboard tests.

Not real results. Run ``python tests/data/make_leaderboard_records.py`` only to change the
fixture on purpose (then regenerate the golden files, see tests/test_leaderboard_golden.py).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from bench.datasets.colored_mnist import PALETTE
from bench.record import RunRecord, RunSpec

HERE = Path(__file__).parent
ERM_HP = {"epochs": 10, "batch_size": 16, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}
HPARAMS = {
    "erm": ERM_HP, "greyscale": ERM_HP, "group-balanced": ERM_HP,
    "jtt": {**ERM_HP, "id_epochs": 1, "upweight": 20.0, "epochs": 20},
    "kmeans": {**ERM_HP, "clusters": 2, "upweight": 20.0},
    "groupdro": {**ERM_HP, "eta": 0.01},
    "dfr": {**ERM_HP, "l1": 0.1},
    "lff": {**ERM_HP, "q": 0.7, "ema_alpha": 0.7},
}
SUPERVISION = {"groupdro": "bias labels on train", "group-balanced": "bias labels on train",
               "dfr": "bias labels on validation"}
VERSIONS = {"lazy-artist-bench": "0.1.0", "numpy": "2.1.0", "torch": "2.14.1"}


def data(source: str = "mnist", ratio: float = 0.05) -> dict:
    return {"source": source, "conflict_ratio": ratio, "mode": "background", "jitter": 0.0,
            "val_fraction": 0.1, "palette": [list(c) for c in PALETTE]}


def confusion(acc: float, rng: random.Random) -> list[list[int]]:
    """Rows: true digit; the errors go to the digit whose colour the image wears."""
    rows = []
    for d in range(10):
        correct = int(100 * acc + rng.randint(-2, 2))
        row = [0] * 10
        row[d] = max(0, min(100, correct))
        row[(d + 3) % 10] = 100 - row[d]
        rows.append(row)
    return rows


def record(method: str, seed: int, conflicting: float, *, source="mnist", ratio=0.05,
           hparams=None, rng: random.Random, diagnostics=True, device="cpu") -> RunRecord:
    spec = RunSpec(method, hparams or HPARAMS[method], data(source, ratio))
    acc = round(min(1.0, max(0.0, conflicting + rng.uniform(-0.02, 0.02))), 4)
    m = {"acc_conflicting": acc, "acc_aligned": round(0.99 - rng.uniform(0, 0.01), 4),
         "worst_group_acc": round(max(0.0, acc - 0.1), 4), "acc_greyscale": round(0.5 + acc / 2, 4),
         "seconds_train": round(60 + 10 * rng.random(), 2)}
    if diagnostics:
        eps = round(0.02 + 0.1 * acc, 4)
        m.update({"color_following": round(1 - acc, 4), "llc": round(1.5 + acc, 3)})
        for split, scale in (("aligned", 1.2), ("conflicting", 0.8)):
            base = eps * scale
            m.update({f"eps_to_flip_{split}": round(base, 4),
                      f"eps_to_flip_{split}_q10": round(base * 0.5, 4),
                      f"eps_to_flip_{split}_q25": round(base * 0.75, 4),
                      f"eps_to_flip_{split}_q75": round(base * 1.3, 4),
                      f"eps_to_flip_{split}_q90": round(base * 1.6, 4),
                      f"eps_to_flip_{split}_correct": round(base * 1.1, 4)})
    return RunRecord(spec, seed, "completed", SUPERVISION.get(method, "none"), m,
                     confusion(acc, rng), device=device, versions=VERSIONS,
                     git_commit="0123456789abcdef0123", created_at=f"2025-01-0{1 + seed}T12:00:00+00:00")


def main() -> None:
    rng = random.Random(0)
    recs = [record("erm", s, 0.04, rng=rng) for s in range(5)]
    recs += [record("jtt", s, 0.87, rng=rng, device="cuda") for s in range(3)]
    recs += [record("kmeans", s, 0.86, rng=rng, diagnostics=s != 4) for s in range(5)]
    recs += [record("erm", 0, 0.02, hparams={**ERM_HP, "epochs": 2}, rng=rng)]
    recs += [record("groupdro", s, 0.90, rng=rng) for s in (0, 1, 3)]
    recs += [record("dfr", s, 0.80, rng=rng, diagnostics=False) for s in range(2)]
    recs += [record("greyscale", s, 0.97, rng=rng) for s in range(2)]
    recs += [record("group-balanced", s, 0.95, rng=rng) for s in range(2)]
    recs += [record(m, s, c, ratio=0.01, rng=rng) for m, c in (("erm", 0.15), ("jtt", 0.9))
             for s in range(2)]
    recs += [record("erm", 0, 0.1, source="mnist-5k", rng=rng)]
    failed = record("jtt", 3, 0.0, rng=rng)
    failed.status, failed.metrics, failed.error = "failed", {}, "RuntimeError: loss is NaN"
    recs.append(failed)
    # bimodal seeds (most runs stay colour readers, one learns the shape): median and per seed
    recs += [record("lff", s, c, rng=rng) for s, c in enumerate((0.0, 0.03, 0.0, 0.78, 0.01))]
    # a variant whose every seed failed: no row, named under the table
    for s in range(2):
        dead = record("groupdro", s, 0.0, hparams={**HPARAMS["groupdro"], "eta": 10.0}, rng=rng)
        dead.status, dead.metrics, dead.error = "failed", {}, "FloatingPointError: loss is not finite"
        recs.append(dead)
    lines = [json.dumps({**r.to_json_dict(), "id": None}, sort_keys=True) for r in recs]
    (HERE / "leaderboard_records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
