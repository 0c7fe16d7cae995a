"""``bench explain``: interpretability report (markdown + PNG) for a stored run."""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.data import prepare_splits
from bench.data import data_spec_of
from bench.errors import ConfigError
from bench.harness import resolve_device
from bench.record import RunRecord
from bench.store import Store
from bench.weights import kept_weights_path, load_model

DEFAULT_OUT = Path("runs") / "explain"


def add_parser(sub) -> None:
    p = sub.add_parser("explain", help="interpretability report for a stored run")
    p.add_argument("run", metavar="RUN", help="store id (see bench results), run key, or a "
                   "zoo model: zoo:METHOD/SEED (e.g. zoo:jtt/0; zoo:PROTOCOL/METHOD/SEED)")
    p.add_argument("--against", metavar="RUN", default=None,
                   help="a second run (the same forms), shown side by side")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: runs/explain/<id>[-vs-<id>])")
    p.add_argument("--unit", type=int, default=None,
                   help="unit to patch (default: the one whose patching moves most predictions)")
    p.add_argument("--store", type=Path, default=None,
                   help="results database (default: $BENCH_STORE or runs/results.sqlite)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder holding MNIST/raw, for runs on full MNIST")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    p.set_defaults(func=run)


def find_record(store: Store, ref: str) -> RunRecord:
    """A stored record by id (digits) or key (``<spec hash>/<seed>``)."""
    records = store.records()
    if ref.isdigit():
        found = [r for r in records if r.id == int(ref)]
    else:
        found = [r for r in records if r.key == ref]
    if not found:
        raise ConfigError(f"no stored run {ref!r} in {store.path}; see bench results for ids")
    record = found[0]
    if record.status != "completed":
        raise ConfigError(f"run {ref} {record.status} ({record.error}); nothing to explain")
    return record


def load_run(ref: str, store_path, device) -> tuple[RunRecord, object, str]:
    """(record, model, short name) of a stored run or a zoo model; fails before any work."""
    if ref.startswith("zoo:"):
        from bench.zoo import load_reference
        model, record = load_reference(ref)
        return record, model.to(device), ref[len("zoo:"):].replace("/", "-")
    with Store(store_path, readonly=True) as store:
        record = find_record(store, ref)
        path = kept_weights_path(store.path, record.key)
    return record, load_model(path, device, record=record), str(record.id)


def run(args: argparse.Namespace) -> int:
    from bench.explain.analysis import ExplainSettings, explain
    from bench.explain.report import ExplainedRun, write_report

    console = Console(stderr=True)
    device = resolve_device(args.device)
    loaded = [load_run(ref, args.store, device) for ref in (args.run, args.against) if ref]
    out = args.out or DEFAULT_OUT / "-vs-".join(name for _, _, name in loaded)
    settings = ExplainSettings(unit=args.unit)
    explained = []
    for record, model, name in loaded:
        label = f"{record.spec.method} #{record.id}" if record.id is not None else \
            f"{record.spec.method} ({name})"
        console.print(f"explaining {label} (key {record.key}) on {device}")
        spec = data_spec_of(record.spec, record.seed)
        splits = prepare_splits(spec, record.spec.dataset, args.data_root)
        explanation = explain(model, splits, spec, settings, device)
        explained.append(ExplainedRun(label, record, explanation, splits))
    report = write_report(explained, out)
    console.print(f"wrote {report}")
    print(report)
    return 0
