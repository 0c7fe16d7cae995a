"""--set key=value parsing against a frozen hyperparameter dataclass."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pytest

from bench.errors import ConfigError
from bench.hparams import parse_overrides, resolve


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
