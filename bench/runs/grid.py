"""A sweep grid (methods x seeds x conflict ratios x hyperparameter values) and its jobs.

The grid is written either as ``bench sweep`` flags or as a TOML file with the same fields::

    methods = ["erm", "jtt"]
    seeds = 5                       # seeds first_seed .. first_seed + seeds - 1
    conflict_ratios = [0.01, 0.05]
    source = "mnist-5k"
    diagnostics = "none"
    diagnostic_settings = ["pgd.steps=100"]   # as --diagnostic; part of every run's spec
    protocol = "lff-cmnist"         # a protocol preset (bench.protocols; default "seed")
    epochs = 3                      # each method's main training length (as bench run --epochs)
    [set]                           # value lists; the product is swept
    lr = [0.1, 0.01]
    epochs = 1

Each job's spec is built with ``bench.run_spec.make_spec``, exactly as for ``bench run`` (a
one-method grid), so a run stored by ``bench run`` is recognised (and skipped) by a sweep, and
vice versa.
"""
from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import data_spec_of, new_data_spec
from bench.datasets.interface import DataSpec
from bench.errors import ConfigError
from bench.hooks import HookOptions, spec_extras
from bench.protocols import SETTINGS, preset
from bench.record import RunSpec
from bench.registry import METHODS
from bench.run_spec import make_spec
from bench.seeds import MAX_RUNS, check_seeds


@dataclass(frozen=True)
class SweepGrid:
    """What to run. How to run it (launcher, workers, store) is not part of the grid."""
    methods: tuple[str, ...]
    seeds: int = 1
    first_seed: int = 0
    conflict_ratios: tuple[float, ...] | None = None   # None: the protocol's (seed: 0.05)
    # hyperparameter -> candidate values as written (typed per method when expanded)
    sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    source: str = "auto"
    data_root: str | None = None
    # None: the protocol preset's (seed: colored, background, 0.0, baseline, all)
    dataset: str | None = None
    mode: str | None = None
    jitter: float | None = None
    backbone: str | None = None
    device: str = "auto"
    diagnostics: str | None = None
    diagnostic_settings: tuple[str, ...] = ()
    protocol: str = "seed"
    epochs: int | None = None       # each method's ``epochs_field`` (bench run --epochs)
    selection: str | None = None    # the primary selection rule (None: each method's default)

    def __post_init__(self):
        if not self.methods:
            raise ConfigError("the sweep grid names no methods (e.g. --methods erm,jtt)")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs = {self.epochs}: expected a positive number of epochs")
        if self.seeds < 1:
            raise ConfigError(f"seeds = {self.seeds}: expected a positive number of seeds")
        check_seeds(self.first_seed, self.seeds, "first_seed")
        for r in self.conflict_ratios or ():
            if not 0.0 <= r <= 1.0:
                raise ConfigError(f"--conflict-ratio {r}: must be between 0 and 1 (e.g. 0.05)")
        if self.jitter is not None and not 0.0 <= self.jitter < float("inf"):
            raise ConfigError(f"--jitter {self.jitter}: must be 0 or more (a colour std, e.g. "
                              f"0.05)")
        for key, values in self.sets:
            if not values:
                raise ConfigError(f"set {key}: give at least one value")

    @property
    def seed_list(self) -> range:
        return range(self.first_seed, self.first_seed + self.seeds)

    def hook_options(self, **kwargs) -> HookOptions:
        return HookOptions(diagnostics=self.settled().diagnostics,
                           diagnostic_settings=self.diagnostic_settings, **kwargs)

    def settled(self) -> "SweepGrid":
        """The grid with what its protocol preset supplies filled in (the fields left None);
        a field that changes what a fixing preset sets is a one-line ConfigError."""
        chosen = preset(self.protocol)
        values = chosen.settle({name: getattr(self, name) for name in SETTINGS})
        return dataclasses.replace(self, **values,
                                   conflict_ratios=self.conflict_ratios or chosen.conflict_ratios)


@dataclass(frozen=True)
class Job:
    """One run of a sweep: a spec and a seed. ``method_module`` is imported by workers so
    that methods registered by a user's own module exist there too."""
    spec: RunSpec
    seed: int
    method_module: str

    @property
    def key(self) -> str:
        return self.spec.key(self.seed)

    def data_spec(self) -> DataSpec:
        return data_spec_of(self.spec, self.seed)


GRID_FIELDS = {f.name for f in dataclasses.fields(SweepGrid)}


def split_values(text: str) -> tuple[str, ...]:
    """``"0.1,0.01"`` -> ("0.1", "0.01"); commas inside brackets stay (``"(1,2),(3,4)"``)."""
    values, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += ch
    values.append(current.strip())
    return tuple(v for v in values if v)


def parse_set_flags(pairs: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``["lr=0.1,0.01", "epochs=1"]`` -> (("lr", ("0.1", "0.01")), ("epochs", ("1",)))."""
    out: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value[,value...], e.g. --set "
                              f"lr=0.1,0.01")
        key, raw = (s.strip() for s in pair.split("=", 1))
        out[key] = split_values(raw)
    return tuple(out.items())


def single_value_sets(pairs: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``bench run``'s ``--set key=value``: one value each, commas included (``hidden=(64,
    32)`` is one tuple, not a list to sweep); a key given twice keeps the last value."""
    out: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set lr=0.01")
        key, raw = (s.strip() for s in pair.split("=", 1))
        out[key] = (raw,)
    return tuple(out.items())


def data_warnings(grid: SweepGrid) -> list[str]:
    """Legal data options of a settled grid that are almost certainly mistakes, each with why."""
    out = []
    if 0.0 in tuple(grid.conflict_ratios or ()):
        out.append("--conflict-ratio 0: no training or validation image is bias-conflicting, "
                   "so val-conflicting selection (the default with bias labels) scores NaN "
                   "every epoch and methods that upweight conflicting images find none; the "
                   "test splits still measure the bias")
    if grid.mode == "background" and grid.jitter > 0:
        out.append(f"--jitter {grid.jitter} does nothing with --mode background (it jitters "
                   f"foreground colours) but makes runs of their own spec; drop it or use "
                   f"--mode foreground")
    return out


def _toml_value_text(value: Any) -> str:
    # hparams parsing works on text (as typed on the command line); TOML gives typed values
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return repr(tuple(value))
    return str(value)


def grid_from_mapping(data: dict[str, Any], origin: str) -> SweepGrid:
    """A grid from TOML-like data; unknown keys and wrong types are one-line ConfigErrors."""
    data = dict(data)
    unknown = sorted(set(data) - GRID_FIELDS - {"set"})
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)} (known: "
                          f"{', '.join(sorted(GRID_FIELDS - {'sets'} | {'set'}))})")
    sets = data.pop("set", {})
    if "sets" in data:
        raise ConfigError(f"{origin}: write hyperparameter values under a [set] table")
    if not isinstance(sets, dict):
        raise ConfigError(f"{origin}: 'set' must be a table, e.g. [set] lr = [0.1, 0.01]")
    kwargs: dict[str, Any] = {}
    try:
        for name, value in data.items():
            if name == "methods":
                value = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
            elif name == "conflict_ratios":
                values = value if isinstance(value, list) else [value]
                value = tuple(float(v) for v in values)
            elif name == "diagnostic_settings":
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) for v in values):
                    raise TypeError("diagnostic_settings must be strings like \"pgd.steps=100\"")
                value = tuple(values)
            elif name in ("seeds", "first_seed", "epochs"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"{name} must be an integer")
            elif name == "jitter":
                value = float(value)
            elif value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string")
            kwargs[name] = value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    kwargs["sets"] = tuple(
        (key, tuple(_toml_value_text(v) for v in (vals if isinstance(vals, list) else [vals])))
        for key, vals in sets.items())
    if "methods" not in kwargs:
        raise ConfigError(f"{origin}: missing 'methods' (e.g. methods = [\"erm\", \"jtt\"])")
    return SweepGrid(**kwargs)


def load_grid_file(path: Path, overrides: dict[str, Any] | None = None) -> SweepGrid:
    """Reads a TOML grid; ``overrides`` (flags given on the command line) win over the file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the grid file {path} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    grid = grid_from_mapping(data, str(path))
    return dataclasses.replace(grid, **(overrides or {}))


def _method_pairs(method: str, sets, epochs: int | None = None) -> list[list[str]]:
    """The product of the grid's value lists over the hyperparameters this method has, as
    ``key=value`` text for :func:`bench.run_spec.make_spec` (the one place that parses it);
    ``epochs`` sets the method's main training length unless a list sets that field."""
    cls = METHODS.get(method)
    mine = [(k, vals) for k, vals in sets if k in _fields(method)]
    if epochs is not None and cls.epochs_field not in dict(mine):
        mine.append((cls.epochs_field, (str(epochs),)))
    return [[f"{k}={v}" for (k, _), v in zip(mine, values)]
            for values in itertools.product(*(vals for _, vals in mine))]


def _fields(method: str) -> set[str]:
    return {f.name for f in dataclasses.fields(METHODS.get(method).Hparams)}


def expand(grid: SweepGrid, source: str) -> list[Job]:
    """All jobs of the grid, ordered so that jobs sharing data (ratio, seed) are adjacent.

    A ``set`` key applies to every method with that hyperparameter; a key no method has is a
    typo and raises. ``source`` is the resolved digit source (never ``auto``)."""
    grid = grid.settled()
    chosen = preset(grid.protocol)
    for key, _ in grid.sets:
        if not any(key in _fields(m) for m in grid.methods):
            known = sorted(set().union(*(_fields(m) for m in grid.methods)))
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--set {key}: none of {', '.join(grid.methods)} has a "
                              f"hyperparameter named {key!r}{hint}")
    count = len(grid.conflict_ratios) * grid.seeds * sum(
        math.prod(len(values) for key, values in grid.sets if key in _fields(m))
        for m in dict.fromkeys(grid.methods))
    if count > MAX_RUNS:
        raise ConfigError(f"the grid has {count:,} runs, more than {MAX_RUNS:,} (a typo?)")
    extras = {**spec_extras(grid.hook_options()), **chosen.extras()}
    per_method = {m: _method_pairs(m, grid.sets, grid.epochs)
                  for m in dict.fromkeys(grid.methods)}
    jobs, seen = [], set()
    for ratio in grid.conflict_ratios:
        data = new_data_spec(grid.dataset, source=source, conflict_ratio=ratio,
                             mode=grid.mode, jitter=grid.jitter, **chosen.data_fields())
        for seed in grid.seed_list:
            for method, combos in per_method.items():
                module = METHODS.get(method).__module__
                for pairs in combos:
                    # the protocol's settings for the method, then the grid's over them
                    spec = make_spec(method, chosen.overrides_for(method), data, grid.dataset,
                                     grid.backbone, extras, selection=grid.selection,
                                     pairs=pairs)
                    if spec.key(seed) not in seen:   # e.g. a value equal to the default twice
                        seen.add(spec.key(seed))
                        jobs.append(Job(spec, seed, module))
    return jobs
