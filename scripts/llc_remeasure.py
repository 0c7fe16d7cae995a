"""Re-measure the LLC of stored runs from their kept weights, at the calibrated settings.

Every completed run of the protocol (default: full MNIST, r = 0.05, the `baseline` network)
that kept its weights is measured on its own training subset, exactly as the diagnostic
would (on the images as its method trained on them; a method that declares the LLC undefined
for its models, `Method.llc_not_defined`, is skipped), and the results are written as a re-measured LLC file
(``bench/diagnostics/llc_remeasured.py``) keyed by record key. No retraining; the store is
opened read-only; only the training split is built. ``--shard i/n`` measures every n-th run
(start n processes on one GPU, then ``--merge`` their files).

    python scripts/llc_remeasure.py --store runs/selection.sqlite --data-root ../shared/data \\
        --device cuda --shard 0/4 --out llc/part0.json       # and 1/4, 2/4, 3/4 in parallel
    python scripts/llc_remeasure.py --merge llc/part*.json --out llc/r0.05-baseline.json

``--zoo leaderboards/models`` measures the committed zoo's models instead of a store's (what
the committed ``leaderboards/records/llc-remeasured.json`` is made from, so anyone with a clone
can redo it; the file's settings and keys are checked by the tests).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from bench.diagnostics import NotApplicable, method_class
from bench.diagnostics.llc import CALIBRATED, LLCSettings, estimate_llc, images_as_fitted
from bench.diagnostics.llc_remeasured import read_remeasured, write_remeasured
from bench.diagnostics.llc_sources import find_runs, find_zoo_runs, training_subset
from bench.errors import BenchError, one_line


def measure(store: Path | None, data_root: Path | None, settings: LLCSettings, device: torch.device,
            shard: tuple[int, int], methods: set[str] | None, ratio: float, source: str,
            backbone: str, log=print, zoo: Path | None = None,
            skip: set[str] = frozenset()) -> dict[str, dict]:
    if zoo is not None:
        runs = find_zoo_runs(zoo, conflict_ratio=ratio, source=source, backbone=backbone)
    else:
        runs = find_runs(store, conflict_ratio=ratio, source=source, backbone=backbone)
    runs = [r for r in runs if (methods is None or r.record.spec.method in methods)
            and r.record.key not in skip]
    index, count = shard
    out = {}
    for run in sorted(runs, key=lambda r: r.record.key)[index::count]:
        images, labels = training_subset(run.record, settings, data_root, device)
        try:
            images = images_as_fitted(method_class(run.record.spec.method), images)
        except NotApplicable as why:
            log(f"{run.label} ({run.record.key}): skipped, {why}")
            continue
        start = time.perf_counter()
        metrics = estimate_llc(run.model(device), images, labels, settings, device)
        metrics["seconds_llc"] = time.perf_counter() - start
        metrics["created_at"] = run.record.created_at
        out[run.record.key] = metrics
        log(f"{run.label} ({run.record.key}): LLC {metrics['llc']:.3f} ± "
            f"{metrics['llc_mcse']:.3f} (MCSE), R-hat {metrics['llc_rhat']:.3f}, converged "
            f"{metrics['llc_converged']:.0f}, {metrics['seconds_llc']:.0f}s")
    return out


def merge(paths: list[Path]) -> tuple[dict, dict, dict]:
    """(settings, runs, what the files say of where they were measured, where they agree)."""
    settings, runs, about = None, {}, None
    for path in paths:
        body = read_remeasured(path)
        if settings is not None and body["settings"] != settings:
            raise BenchError(f"{path} was measured at other settings than the first file")
        settings = body["settings"]
        runs.update(body["runs"])
        extra = {k: v for k, v in body.items() if k not in ("settings", "runs")}
        about = extra if about is None else {k: v for k, v in about.items()
                                             if extra.get(k) == v}
    return settings, runs, about or {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--zoo", type=Path, help="measure the models of this zoo folder "
                        "(e.g. leaderboards/models) instead of a store's")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--settings", default="{}", help="JSON overrides of the calibrated "
                        "settings (bench.diagnostics.llc.CALIBRATED)")
    parser.add_argument("--methods", help="comma list (default: every method in the store)")
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--backbone", default="k3-4-16-16-pool-end")
    parser.add_argument("--shard", default="0/1", help="i/n: measure runs i, i+n, ...")
    parser.add_argument("--merge", nargs="+", type=Path, help="files to merge into --out")
    parser.add_argument("--update", type=Path, help="a re-measured file at the same settings: "
                        "measure only the runs it lacks and write it, with them, to --out")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        if args.merge:
            settings, runs, about = merge(args.merge)
            write_remeasured(args.out, settings, runs, about)
            print(f"{len(runs)} runs -> {args.out}")
            return
        if (args.store is None) == (args.zoo is None):
            raise BenchError("give one of --store or --zoo (or --merge)")
        settings = dataclasses.replace(CALIBRATED, **json.loads(args.settings))
        earlier = {"runs": {}}
        if args.update:
            earlier = read_remeasured(args.update)
            if earlier["settings"] != dataclasses.asdict(settings):
                raise BenchError(f"--update {args.update} was measured at other settings than "
                                 f"these; measure into a new file")
            current = {r.record.key: r.record.created_at for r in (
                find_zoo_runs(args.zoo) if args.zoo else find_runs(args.store))}
            # an entry of a record since replaced (a rerun of the same key) is measured again
            earlier["runs"] = {k: v for k, v in earlier["runs"].items()
                               if v.get("created_at", current.get(k)) == current.get(k)}
        index, count = (int(v) for v in args.shard.split("/"))
        runs = measure(args.store, args.data_root, settings, torch.device(args.device),
                       (index, count), set(args.methods.split(",")) if args.methods else None,
                       args.conflict_ratio, args.source, args.backbone,
                       log=lambda line: print(line, flush=True), zoo=args.zoo,
                       skip=set(earlier["runs"]))
        runs = {**earlier["runs"], **runs}
        source = {"zoo": args.zoo.as_posix()} if args.zoo else {"store": str(args.store)}
        write_remeasured(args.out, dataclasses.asdict(settings), runs,
                         {"device": args.device, **source})
    except (BenchError, ValueError, TypeError) as exc:
        sys.stderr.write(f"llc_remeasure: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
