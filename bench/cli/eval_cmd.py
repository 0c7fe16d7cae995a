"""``bench eval``: a model trained elsewhere, evaluated like a run and stored as a record."""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.cli.options import add_digit_options, add_image_option, check_ratio, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate an outside model's weights on a protocol")
    p.add_argument("--weights", type=Path, required=True,
                   help="a bench/zoo weights file, or a state dict saved with torch.save")
    p.add_argument("--backbone", default=None,
                   help="the registered network the state dict is for (bench list)")
    add_image_option(p, "mnist", "mnist (default)")
    p.add_argument("--conflict-ratio", type=float, default=0.05)
    p.add_argument("--mode", default="background", help="colouring mode: background or foreground")
    p.add_argument("--seeds", type=positive_int, default=1,
                   help="seeds of the protocol's data to evaluate on (0..n-1)")
    p.add_argument("--diagnostics", default="none", metavar="all|none|pgd,llc,color,gradcam")
    p.add_argument("--device", default="cpu")
    p.add_argument("--store", type=Path, default=None,
                   help="results database (default: $BENCH_STORE or runs/results.sqlite)")
    add_digit_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.datasets.digits import resolve_source
    from bench.external import evaluate_model, file_sha256, read_weights
    from bench.store import Store
    check_ratio(args.conflict_ratio)
    model, backbone = read_weights(args.weights, args.backbone)
    sha = file_sha256(args.weights)
    source = resolve_source(args.source, args.data_root, args.allow_unofficial_data)
    store = Store(args.store)
    store.check_writable()
    store.check_rows()                  # before any evaluation is paid for
    console = Console(soft_wrap=True)
    for seed in range(args.seeds):
        record = evaluate_model(model, backbone=backbone, weights_sha256=sha, source=source,
                                conflict_ratio=args.conflict_ratio, mode=args.mode, seed=seed,
                                diagnostics=args.diagnostics, data_root=args.data_root,
                                device=args.device)
        store.put(record, replace=True)
        shown = " · ".join(f"{k} {v:.4f}" for k, v in sorted(record.metrics.items())
                           if k.startswith("acc_") or k == "worst_group_acc")
        console.print(f"seed {seed}: {shown} (key {record.key}, stored in {store.path})",
                      markup=False)
    store.close()
    return 0
