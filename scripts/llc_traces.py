"""Calibrate the LLC diagnostic: SGLD traces of stored runs' kept weights at several settings.

Prints, per (run, setting), the LLC estimate nβ·(mean loss − initial loss) over each eighth of
the steps and per chain, and the estimate `bench` would store with its convergence flag. A
setting is usable when the eighths stop climbing early and the chains agree.

    python scripts/llc_traces.py --store runs/full.sqlite --runs 1,2 --data-root ../shared/data \
        --grid '[{"lr": 1e-4}, {"lr": 1e-3}, {"lr": 3e-4, "localization": 300}]' --draws 400

Each grid entry overrides fields of LLCSettings (burn-in is forced to 0 so the whole trace
is shown). Needs runs stored with kept weights (the default of ``bench run``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from bench.cli.explain_cmd import find_record
from bench.data import prepare_splits
from bench.data import data_spec_of
from bench.diagnostics.llc import LLCSettings, estimate_llc, sample_llc
from bench.diagnostics.pgd import sample_positions
from bench.store import Store
from bench.supervision import to_float_images
from bench.weights import kept_weights_path, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--runs", required=True, help="comma list of run ids or keys")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--grid", default="[{}]", help="JSON list of LLCSettings overrides")
    parser.add_argument("--draws", type=int, default=400, help="trace length per chain")
    args = parser.parse_args()
    with Store(args.store, readonly=True) as store:
        records = [find_record(store, ref) for ref in args.runs.split(",")]
        paths = [kept_weights_path(store.path, record.key) for record in records]
    for record, path in zip(records, paths):
        model = load_model(path, record=record)
        spec = data_spec_of(record.spec, record.seed)
        train = prepare_splits(spec, record.spec.dataset, args.data_root).train
        for overrides in json.loads(args.grid):
            full = LLCSettings(**overrides)
            index = sample_positions(len(train), full.subset, full.seed)
            images = to_float_images(train.images[index], torch.device("cpu"))
            labels = train.labels[index]
            start = time.perf_counter()
            summary, init = sample_llc(model, images, labels,
                                       dataclasses.replace(full, draws=args.draws, burnin=0),
                                       torch.device("cpu"))
            trace = np.asarray(summary["loss/trace"], dtype=np.float64)
            eighth = max(trace.shape[1] // 8, 1)
            by_eighth = [np.round(full.resolved_nbeta() * (trace[:, i:i + eighth].mean(1) - init),
                                  2).tolist() for i in range(0, trace.shape[1], eighth)]
            stored = estimate_llc(model, images, labels, full, torch.device("cpu"))
            print(f"run {record.id} ({record.spec.method}, seed {record.seed}) {overrides}: "
                  f"{time.perf_counter() - start:.0f}s\n  LLC by eighth of {args.draws} steps, "
                  f"per chain: {by_eighth}\n  as stored (burn-in {full.burnin}, draws "
                  f"{full.draws}): {json.dumps({k: round(v, 3) for k, v in stored.items()})}",
                  flush=True)


if __name__ == "__main__":
    main()
