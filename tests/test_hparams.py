"""--set key=value parsing against a frozen hyperparameter dataclass."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import pytest

from bench.errors import ConfigError
from bench.hparams import Bounds, check_bounds, hparam, parse_overrides, resolve


@dataclass(frozen=True)
class Toy:
    lr: float = 0.1
    epochs: int = 10
    balanced: bool = False
    schedule: str = "constant"
    milestones: tuple = (5, 8)
    widths: tuple[int, ...] = (16,)
    stop_at: Optional[int] = None

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError("lr must be positive")


def test_values_are_typed_by_the_dataclass():
    got = parse_overrides(Toy, ["lr=0.01", "epochs=3", "balanced=yes", "schedule=cosine",
                                "milestones=(2, 4)", "stop_at=7", "widths=[8, 4]"])
    assert got == {"lr": 0.01, "epochs": 3, "balanced": True, "schedule": "cosine",
                   "milestones": (2, 4), "stop_at": 7, "widths": (8, 4)}
    assert isinstance(got["lr"], float) and isinstance(got["epochs"], int)


@pytest.mark.parametrize("raw,value", [("true", True), ("1", True), ("off", False),
                                       ("No", False)])
def test_booleans(raw, value):
    assert parse_overrides(Toy, [f"balanced={raw}"]) == {"balanced": value}


def test_optional_accepts_none_and_spaces_are_trimmed():
    assert parse_overrides(Toy, [" stop_at = none "]) == {"stop_at": None}
    assert parse_overrides(Toy, ["milestones=3"]) == {"milestones": (3,)}


@pytest.mark.parametrize("pair,message", [
    ("lr=abc", "lr expects a float"),
    ("lr=nan", "lr expects a float"),
    ("epochs=2.5", "epochs expects a int"),
    ("balanced=maybe", "balanced expects a bool"),
    ("lr", "expected key=value"),
    ("lrr=0.1", "did you mean 'lr'"),
])
def test_bad_overrides_raise_one_clear_config_error(pair, message):
    with pytest.raises(ConfigError) as info:
        parse_overrides(Toy, [pair])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_resolve_applies_overrides_and_runs_validation():
    assert resolve(Toy, {"epochs": 2}) == Toy(epochs=2)
    assert resolve(Toy, {}) == Toy()
    with pytest.raises(ConfigError, match="lr must be positive"):
        resolve(Toy, {"lr": -1.0})


@dataclass(frozen=True)
class NewStyle:
    nbeta: float | None = None


def test_pep604_optional_is_typed_too():
    assert parse_overrides(NewStyle, ["nbeta=none"]) == {"nbeta": None}
    assert parse_overrides(NewStyle, ["nbeta=2.5"]) == {"nbeta": 2.5}
    with pytest.raises(ConfigError, match="nbeta expects a float"):
        parse_overrides(NewStyle, ["nbeta=abc"])


@dataclass(frozen=True)
class Ranged:
    epochs: int = hparam(10, low=1)
    lr: float = hparam(0.1, low=0, low_open=True)
    batch_size: int = hparam(16, low=1, at_most_train_size=True)
    grid: tuple[float, ...] = hparam((1.0, 0.1), low=0, low_open=True)
    optimizer: str = hparam("sgd", choices=("sgd", "adam"))
    free: float = 2.0


@dataclass(frozen=True)
class LongerByDefault(Ranged):
    epochs: int = 20                    # only the default changes; the range is inherited


@pytest.mark.parametrize("overrides,message", [
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"lr": float("inf")}, "lr must be > 0"),
    ({"batch_size": -5}, "batch_size must be >= 1"),
    ({"grid": (1.0, -0.1)}, "grid must be > 0"),
    ({"grid": ()}, "grid must be > 0"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam"),
    ({"free": float("-inf")}, "free must be any value"),
])
def test_values_outside_their_declared_range_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        resolve(Ranged, overrides)
    assert "\n" not in str(err.value) and "(default" in str(err.value)


def test_a_subclass_that_changes_a_default_keeps_the_range():
    assert resolve(LongerByDefault, {}).epochs == 20
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        resolve(LongerByDefault, {"epochs": 0})


def test_the_training_set_bound_is_checked_once_the_size_is_known():
    hp = resolve(Ranged, {"batch_size": 5000})          # no data yet: not checked
    check_bounds(hp, train_size=5000)
    with pytest.raises(ConfigError, match="larger than the training set .3600 images."):
        check_bounds(hp, train_size=3600)


def test_ranges_never_enter_the_spec():
    assert dataclasses.asdict(Ranged()) == {"epochs": 10, "lr": 0.1, "batch_size": 16,
                                             "grid": (1.0, 0.1), "optimizer": "sgd", "free": 2.0}


def test_every_registered_method_declares_ranges_its_defaults_satisfy():
    from bench.hparams import bounds_of
    from bench.registry import METHODS
    for name, cls in METHODS.items():
        check_bounds(cls.Hparams())                      # the defaults are valid
        bounds = bounds_of(cls.Hparams)
        numeric = [f.name for f in dataclasses.fields(cls.Hparams)
                   if isinstance(getattr(cls.Hparams(), f.name), (int, float))
                   and not isinstance(getattr(cls.Hparams(), f.name), bool)]
        undeclared = [n for n in numeric if bounds[n] == Bounds()]
        assert not undeclared, f"{name}: no declared range for {undeclared}"
        assert cls.epochs_field in bounds, f"{name}: --epochs sets an unknown field"
