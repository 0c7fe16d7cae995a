"""Calibrate the LLC's SGLD settings on kept models, by the rule in docs/llc-calibration.md.

``trace``: SGLD loss traces of stored runs' kept weights (every step, no burn-in dropped),
one ``.npz`` per (run, setting) in ``--out``. ``analyse``: scores every (burn-in, draws,
chains) window of the traces by the rule's criteria and prints the tables. ``check``: the
stage-B runs of a chosen configuration (another SGLD seed, a larger subset). Training data
only; the store is opened read-only.

    OMP_NUM_THREADS=1 python scripts/llc_calibration.py trace --store runs/selection.sqlite \\
        --data-root ../shared/data --out llc-cal --models erm:0,jtt:0 --setting A1
    python scripts/llc_calibration.py analyse --out llc-cal
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench.diagnostics.llc import LLCSettings, llc_trace, pass_means, sample_llc
from bench.diagnostics.llc_sources import find_runs, training_subset
from bench.diagnostics.mcmc import mcse_mean, split_rhat
from bench.errors import BenchError, one_line
from bench.registry import METHODS
from bench.hparams import spec_fields

SETTINGS = {"A1": {"lr": 1e-3, "localization": 100.0},
            "A2": {"lr": 3e-3, "localization": 100.0},
            "A3": {"lr": 3e-3, "localization": 10.0}}
BURNINS, DRAWS, CHAINS = (50, 100, 200), (100, 150, 200, 250), (2, 3, 4)
RHAT_MAX, DOUBLING_TOL, MCSE_TOL = 1.05, 0.10, 0.10
CRITERIA = ("finite", "rhat", "doubling", "mcse", "positive")


def window(trace: np.ndarray, burnin: int, draws: int, chains: int, per_pass: int) -> dict:
    """Estimate, MCSE and split-R-hat of the draws [burnin, burnin + draws) of the first
    ``chains`` chains of a per-step LLC trace, as the diagnostic would store them."""
    part = trace[:chains, burnin:burnin + draws]
    blocks = pass_means(part, per_pass)
    return {"llc": float(part.mean()), "mcse": mcse_mean(blocks), "rhat": split_rhat(blocks)}


def score(trace: np.ndarray, finite: bool, burnin: int, draws: int, chains: int,
          per_pass: int) -> dict:
    """The rule's five criteria for one configuration on one model (True = passed)."""
    one = window(trace, burnin, draws, chains, per_pass)
    two = window(trace, burnin, 2 * draws, chains, per_pass)
    llc = one["llc"]
    return {**one, "finite": finite,
            "rhat": one["rhat"] <= RHAT_MAX,
            "rhat_value": one["rhat"],
            "doubling": abs(two["llc"] - llc) <= max(DOUBLING_TOL * abs(two["llc"]),
                                                     2 * one["mcse"]),
            "mcse": one["mcse"] <= MCSE_TOL * abs(llc),
            "mcse_value": one["mcse"],
            "positive": llc > 0}


def halves_agree(trace: np.ndarray, tolerance: float = 0.2) -> bool:
    """The stored flag's test (``bench.diagnostics.llc.converged``) on a per-step LLC trace."""
    half = trace.shape[1] // 2
    first, second = trace[:, :half].mean(), trace[:, half:].mean()
    return bool(abs(second - first) <= tolerance * max(abs(second), 1.0))


def configurations(steps: int):
    for burnin, draws, chains in itertools.product(BURNINS, DRAWS, CHAINS):
        if burnin + 2 * draws <= steps:
            yield burnin, draws, chains


def choose(scores: dict[tuple, dict[str, dict]]) -> tuple[tuple, int]:
    """(configuration, failed (model, criterion) pairs) of the rule's pick: fewest failures,
    then fewest SGLD steps chains x (burn-in + draws)."""
    def failures(config):
        return sum(not s[c] for s in scores[config].values() for c in CRITERIA)
    best = min(scores, key=lambda c: (failures(c), c[2] * (c[0] + c[1]), c))
    return best, failures(best)


def load_traces(folder: Path, setting: str) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob(f"*--{setting}.npz")):
        data = np.load(path)
        meta = json.loads(str(data["meta"]))
        trace = llc_trace(data["losses"], float(data["init_loss"]), meta["nbeta"])
        out[meta["label"]] = {"trace": trace, "meta": meta,
                              "finite": bool(np.all(np.isfinite(data["losses"]))
                                             and meta["explode_ok"])}
    return out


def explode_ok(losses: np.ndarray, init_loss: float, settings: LLCSettings) -> bool:
    bound = settings.explode_factor * max(init_loss, 1e-3) + 1.0
    return bool(np.all(np.isfinite(losses)) and not np.any(losses > bound))


def record_trace(run, settings: LLCSettings, args, name: str, label: str,
                 extra: dict | None = None) -> None:
    device = torch.device(args.device)
    model = run.model(device)
    x, y = training_subset(run.record, settings, args.data_root, device)
    start = time.perf_counter()
    result, init = sample_llc(model, x, y, settings, device)
    losses = np.asarray(result["loss/trace"], dtype=np.float64)
    meta = {"label": label, "key": run.record.key, "setting": name,
            "settings": dataclasses.asdict(settings), "nbeta": settings.resolved_nbeta(),
            "per_pass": len(y) // settings.batch_size, "seconds": time.perf_counter() - start,
            "explode_ok": explode_ok(losses, init, settings), **(extra or {})}
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / f"{label.replace(' ', '-')}--{name}.npz", losses=losses,
             init_loss=init, meta=json.dumps(meta))
    trace = llc_trace(losses, init, settings.resolved_nbeta())
    eighths = np.array_split(trace, 8, axis=1)
    print(f"{label} {name}: {meta['seconds']:.0f}s; LLC by eighth of the steps, chains "
          f"pooled: {[round(float(e.mean()), 2) for e in eighths]}", flush=True)


def runs_of(args) -> list:
    """The requested (method, seed) runs of the rule's protocol at the method's default
    hyperparameters (so ``erm`` is the 10-epoch row, not ``erm (epochs=20)``)."""
    out = []
    for item in args.models.split(","):
        method, seed = item.split(":")
        # as a spec stores them: a field added later is left out while it holds its default
        defaults = json.loads(json.dumps(spec_fields(METHODS.get(method).Hparams())))
        found = [r for r in find_runs(args.store, method=method, seed=int(seed),
                                      conflict_ratio=0.05, source="mnist",
                                      backbone="k3-4-16-16-pool-end")
                 if r.record.spec.hparams == defaults]
        if not found:
            print(f"{method} seed {seed}: not in the store yet; left out", file=sys.stderr)
            continue
        out.append(found[0])
    return out


def trace_command(args) -> None:
    overrides = SETTINGS[args.setting]
    for run in runs_of(args):
        settings = LLCSettings(**overrides, chains=args.chains, draws=args.steps, burnin=0)
        record_trace(run, settings, args, args.setting, run.label)


def check_command(args) -> None:
    """Stage B: the pick's settings with another SGLD seed, and on a larger subset."""
    pick = json.loads(args.pick.read_text())
    variants = {"seed1": {"seed": 1}, "subset16k": {"subset": 16384}}
    for run in runs_of(args):
        for name, change in variants.items():
            settings = LLCSettings(**{**pick["settings"], **change})
            record_trace(run, settings, args, f"B-{name}", run.label,
                         {"config": pick["config"]})


def agree(a: dict, b: dict, rel: float, sigmas: float) -> bool:
    return abs(a["llc"] - b["llc"]) <= max(rel * abs(b["llc"]),
                                           sigmas * math.hypot(a["mcse"], b["mcse"]))


def whole(t: dict, burnin: int = 100) -> dict:
    return window(t["trace"], burnin, t["trace"].shape[1] - burnin, len(t["trace"]),
                  t["meta"]["per_pass"])


def analyse(folder: Path, log=print) -> dict:
    """Applies the rule to the traces in ``folder``; returns the pick: the configuration,
    the ``LLCSettings`` overrides it stands for, and the checks' verdicts."""
    traces = load_traces(folder, "A1")
    if not traces:
        raise BenchError(f"no A1 traces in {folder}")
    steps = min(t["trace"].shape[1] for t in traces.values())
    scores = {config: {label: score(t["trace"], t["finite"], *config, t["meta"]["per_pass"])
                       for label, t in traces.items()}
              for config in configurations(steps)}
    if not scores:
        raise BenchError(f"traces of {steps} steps hold no configuration of the rule")
    best, failed = choose(scores)
    good = [c for c in scores if all(all(s[k] for k in CRITERIA) for s in scores[c].values())]
    log(f"models: {', '.join(traces)}; {len(scores)} configurations of {steps}-step traces; "
        f"good on every model: {len(good)}")
    log(f"pick (burn-in, draws, chains) = {best}: {best[2] * (best[0] + best[1])} SGLD steps, "
        f"failed (model, criterion) pairs: {failed}\n")
    log("| model | λ̂ ± MCSE | split-R̂ | " + " | ".join(CRITERIA) + " |")
    log("|---|---|---|" + "---|" * len(CRITERIA))
    for label, sc in scores[best].items():
        log(f"| {label} | {sc['llc']:.2f} ± {sc['mcse_value']:.2f} | {sc['rhat_value']:.3f} | "
            + " | ".join("yes" if sc[c] else "**no**" for c in CRITERIA) + " |")
    log("\nmodels failing each criterion, summed over all configurations: "
        + ", ".join(f"{c} {sum(not sc[c] for per in scores.values() for sc in per.values())}"
                    for c in CRITERIA))
    verdicts = {}
    for name in ("A2", "A3"):
        for label, t in load_traces(folder, name).items():
            ours, ref = whole(t), traces.get(label)
            line = f"{name} {label}: λ̂ [100, end) = {ours['llc']:.2f} ± {ours['mcse']:.2f}"
            if ref is not None:
                theirs = whole(ref)
                verdicts.setdefault(name, []).append(agree(ours, theirs, 0.1, 2))
                line += (f"; A1 {theirs['llc']:.2f} ± {theirs['mcse']:.2f} "
                         f"({'agree' if verdicts[name][-1] else 'differ'})")
            log(line)
    burnin, draws, chains = best
    larger_step = bool(verdicts.get("A2")) and all(verdicts["A2"])
    pick = {"config": list(best), "good_on_every_model": best in good, "failed": failed,
            "larger_step": larger_step,
            "settings": {**SETTINGS["A2" if larger_step else "A1"], "chains": chains,
                         "burnin": burnin // 2 if larger_step else burnin,
                         "draws": draws // 2 if larger_step else draws}}
    flag_misses = [label for label, t in traces.items()
                   if all(scores[best][label][c] for c in CRITERIA)
                   and not halves_agree(t["trace"][:chains, burnin:burnin + draws])]
    if flag_misses:
        pick["settings"]["convergence"] = "noise-aware"
    log(f"old convergence flag fails on models passing criteria 1-5: {flag_misses or 'none'}")
    checks = {}
    for name in ("B-seed1", "B-subset16k"):
        for label, t in load_traces(folder, name).items():
            ours = window(t["trace"], 0, t["trace"].shape[1], len(t["trace"]),
                          t["meta"]["per_pass"])
            ref = (window(traces[label]["trace"], *t["meta"]["config"],
                          traces[label]["meta"]["per_pass"]) if label in traces else None)
            ok = ref is not None and agree(ours, ref, 0.0, 3)
            checks.setdefault(name, []).append(ok)
            log(f"{name} {label}: {ours['llc']:.2f} ± {ours['mcse']:.2f} against stage A "
                f"{ref['llc'] if ref else float('nan'):.2f}: {'agree' if ok else 'differ'}")
    if checks.get("B-subset16k") and not all(checks["B-subset16k"]):
        pick["settings"]["subset"] = 16384
    pick["checks"] = {k: all(v) for k, v in checks.items()}
    log(f"\nsettings: {json.dumps(pick['settings'])}")
    return pick


def analyse_command(args) -> None:
    pick = analyse(args.out)
    if args.pick:
        args.pick.write_text(json.dumps(pick, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("trace", "check"):
        p = sub.add_parser(name)
        p.add_argument("--store", required=True, type=Path)
        p.add_argument("--data-root", type=Path)
        p.add_argument("--models", required=True, help="e.g. erm:0,jtt:0")
        p.add_argument("--setting", default="A1", choices=sorted(SETTINGS))
        p.add_argument("--device", default="cpu")
        p.add_argument("--out", required=True, type=Path)
    sub.choices["trace"].add_argument("--steps", type=int, default=700)
    sub.choices["trace"].add_argument("--chains", type=int, default=4)
    sub.choices["check"].add_argument("--pick", required=True, type=Path,
                                      help="the pick written by analyse --pick")
    p = sub.add_parser("analyse")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--pick", type=Path, help="write the pick (settings JSON) here")
    args = parser.parse_args(argv)
    try:
        {"trace": trace_command, "check": check_command,
         "analyse": analyse_command}[args.command](args)
    except BenchError as exc:
        sys.stderr.write(f"llc_calibration: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
