"""The protocol page's selection section: every rule's pick, side by side.

Runs record each selection rule's pick (``RunRecord.selection``; :mod:`bench.selection`), so a
page can show, for every row, ``acc_conflicting`` under every rule, the epochs each rule chose,
and how much a test-selected number flatters (the oracle gap: ``oracle-test`` minus the
primary rule, per seed). Rows whose records predate the rules, and methods whose model is not
chosen among epochs, are named rather than shown as numbers.
"""
from __future__ import annotations

from tabulate import tabulate

from bench.bias_proxy import BiasProxySettings
from bench.leaderboard.format import seeds_cell
from bench.leaderboard.stats import mean_std
from bench.leaderboard.tables import RANK_METRIC, Row
from bench.selection import rule, rule_names
from bench.supervision import Supervision

ORACLE = "oracle-test"


def rule_header(name: str) -> str:
    chosen = rule(name)
    if chosen.oracle:
        return f"{name} ‡"
    return f"{name} †" if chosen.supervision is not Supervision.NONE else name


def _rules_of(row: Row) -> list[str]:
    present = {name for r in row.records for name in r.selection}
    return [n for n in rule_names() if n in present]


def pick_values(row: Row, name: str, metric: str = RANK_METRIC) -> dict[int, float | None]:
    return {r.seed: (r.selection.get(name) or {}).get("metrics", {}).get(metric)
            for r in row.records}


def pick_epochs(row: Row, name: str) -> str:
    epochs = [(r.selection.get(name) or {}).get("epoch") for r in row.records]
    return ", ".join("—" if e is None else str(e) for e in epochs)


def primary_rule(row: Row) -> str | None:
    """The rule that chose the reported models of the row's seeds that recorded every rule's
    pick (older seeds, which recorded only their own, are listed under the table); None when
    those seeds disagree."""
    rules = {r.selection_rule for r in row.records if r.selection}
    return rules.pop() if len(rules) == 1 else None


def oracle_gap(row: Row) -> str:
    """oracle-test minus the primary rule, per seed: mean ± std in points."""
    primary = primary_rule(row)
    if primary is None or ORACLE not in _rules_of(row):
        return "—"
    oracle, chosen = pick_values(row, ORACLE), pick_values(row, primary)
    gaps = [oracle[s] - chosen[s] for s in oracle
            if oracle[s] is not None and chosen[s] is not None]
    mean, std, n = mean_std(gaps)
    if n == 0:
        return "—"
    return f"+{mean * 100:.2f}" + (f" ± {std * 100:.2f}" if n >= 2 else "")


def selection_section(rows: list[Row]) -> list[str]:
    """Markdown lines; nothing when no row's records carry the rules' picks."""
    shown = [r for r in rows if _rules_of(r)]
    if not shown:
        return []
    names = [n for n in rule_names() if any(n in _rules_of(r) for r in shown)]
    header = ("method", "primary", *(rule_header(n) for n in names), "oracle gap")
    accuracy, epochs = [], []
    for row in shown:
        cells = [seeds_cell(pick_values(row, n), 100, 2, accuracy=True, interval=False)
                 if n in _rules_of(row) else "—" for n in names]
        accuracy.append((row.label, primary_rule(row) or "mixed", *cells, oracle_gap(row)))
        epochs.append((row.label, *(pick_epochs(row, n) for n in names)))
    lines = ["## Selection", "",
             "Every run scores each selection rule after every epoch and keeps each rule's pick "
             "(docs/selection.md), so one training run gives every rule's number. "
             "`acc_conflicting` % of each rule's pick, mean ± std over seeds (per-seed values "
             "when a row has fewer than 4); `primary` is the rule the results table reports. "
             "Rules marked † read validation bias labels, so a number they choose has that "
             "supervision even for a method that reads none; ‡ selects on the headline test "
             "split: an oracle, reported to show how much a test-selected number flatters, "
             "never ranked or used. Oracle gap: `oracle-test` minus the primary rule, per seed, "
             "in points.", "",
             tabulate(accuracy, headers=header, tablefmt="github", disable_numparse=True), "",
             "Epoch each rule chose, per seed (seed order):", "",
             tabulate(epochs, headers=("method", *(rule_header(n) for n in names)),
                      tablefmt="github", disable_numparse=True), ""]
    lines += _proxy_line(shown)
    fixed = [r.label for r in rows if not _rules_of(r) and
             all(r2.selection_rule is not None for r2 in r.records)]
    older = [r.label for r in rows if any(r2.selection_rule is None for r2 in r.records)]
    if fixed:
        lines += [f"Not chosen among epochs (every rule gets the same model): "
                  f"{', '.join(f'`{x}`' for x in fixed)}.", ""]
    if older:
        lines += [f"Records made before every rule's pick was recorded (only the primary "
                  f"rule's number exists): {', '.join(f'`{x}`' for x in older)}.", ""]
    return lines


def describe_proxy(settings: BiasProxySettings) -> str:
    """For pages: "ERM on 4,096 training images" (the seed's proxy, whose optimiser the docs
    give), or with its own optimiser spelled out, e.g. lff-cmnist's "ERM on every training
    image (1 epoch, Adam lr 0.001, batch 256)". Kept here, not in bench.bias_proxy: that module
    is part of the training code's fingerprint (bench.code_version), and a page's wording must
    not make new runs look like another version of the code."""
    images = "every training image" if settings.subset >= 60_000 else \
        f"{settings.subset:,} training images"
    if settings == BiasProxySettings():
        return f"ERM on {images}"
    epochs = f"{settings.epochs} epoch{'s' if settings.epochs != 1 else ''}"
    optimizer = "SGD" if settings.optimizer == "sgd" else settings.optimizer.capitalize()
    return (f"ERM on {images} ({epochs}, {optimizer} lr {settings.lr:g}, "
            f"batch {settings.batch_size})")


def _proxy_line(rows: list[Row]) -> list[str]:
    values = [r.metrics["bias_proxy_agreement"] for row in rows for r in row.records
              if "bias_proxy_agreement" in r.metrics]
    if not values:
        return []
    mean, _, n = mean_std(values)
    from bench.harness import proxy_settings_for
    proxies = sorted({describe_proxy(proxy_settings_for(r.spec)) for row in rows for r in row.records
                      if "bias_proxy_agreement" in r.metrics})
    return [f"`pseudo-group`'s bias proxy ({'; '.join(proxies)}, no bias labels) "
            f"predicted the class of the image's colour for {mean * 100:.1f}% of validation "
            f"images on average ({min(values) * 100:.1f}-{max(values) * 100:.1f}% over {n} "
            f"runs).", ""]

