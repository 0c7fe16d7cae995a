"""Protocol presets: what a protocol's runs start from (``bench run --protocol NAME``).

A protocol bundles how the data is built (colouring, palette, how conflicting images are
drawn), the backbone, the optimiser and training length every method starts from, the
settings a method's own paper used on it, and the diagnostics worth their cost there.

- ``seed``: the suite's own protocol, the seed report's. Every method's defaults as they are;
  its records name no protocol, so every stored record and key belongs to it unchanged.
- ``lff-cmnist``: the Colored MNIST of LfF (Nam et al. 2020) and DFA (Lee et al. 2021), reused
  by BiasEnsemble, LC, SelecMix and uLA. docs/protocols.md cites every setting and says where
  we differ. Its records carry ``extras["protocol"] = "lff-cmnist"``.

Precedence: the preset, then the user's ``--set`` (hyperparameters) and flags. A preset that
*fixes* its data and backbone refuses a flag that would change them, so a record that names
the protocol was run on it; diagnostics and the digit source stay the user's choice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from bench.errors import ConfigError
from bench.registry import METHODS, PROTOCOLS

# The settings a preset supplies; each has a command-line flag of the same name.
SETTINGS = ("mode", "jitter", "dataset", "backbone", "diagnostics")
# Those that change what is trained: a fixing preset refuses flags that change them.
FIXED_SETTINGS = ("mode", "jitter", "dataset", "backbone")

# LfF's ten mean colours (alinlab/LfF data/resource/colors.th, a 10 x 3 float tensor), rounded
# to 8 bits, the palette's unit: each moves by at most 0.5/255 = 0.002, below the per-image
# colour noise (std 0.005). Index = digit.
LFF_PALETTE: tuple[tuple[int, int, int], ...] = (
    (251, 80, 43), (253, 233, 90), (172, 118, 148), (200, 212, 153), (22, 198, 250),
    (82, 245, 114), (6, 60, 193), (142, 26, 194), (53, 100, 5), (213, 52, 68),
)


@dataclass(frozen=True)
class ProtocolPreset:
    name: str
    summary: str
    mode: str = "background"
    jitter: float = 0.0
    dataset: str = "colored"
    backbone: str = "baseline"
    diagnostics: str = "all"
    palette: tuple[tuple[int, int, int], ...] | None = None   # None: the suite's palette
    conflict_ratios: tuple[float, ...] = (0.05,)   # bench sweep's default ratios
    default_ratio: float = 0.05                    # bench run's default ratio
    fixes_data: bool = False
    # Hyperparameters every method that has them starts from, then each method's own.
    common: Mapping[str, Any] = field(default_factory=dict)
    methods: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # bench.bias_proxy.BiasProxySettings fields (the pseudo-group rule's proxy); {}: the seed's
    bias_proxy: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""
    # Why the zoo ships none of this preset's models ("" : it ships them all). The zoo is
    # cloned with the suite, so a preset whose models are large says so instead.
    zoo_exclusion: str = ""

    @property
    def named_in_records(self) -> bool:
        """The seed protocol's records name no protocol (they predate presets)."""
        return self.name != SEED

    def extras(self) -> dict[str, Any]:
        return {"protocol": self.name} if self.named_in_records else {}

    def defaults(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SETTINGS}

    def data_fields(self) -> dict[str, Any]:
        """Data spec fields besides source, ratio, mode and jitter."""
        return {} if self.palette is None else {"palette": self.palette}

    def overrides_for(self, method: str) -> dict[str, Any]:
        """The hyperparameters this protocol gives ``method`` (before the user's ``--set``):
        the common ones the method has, then the method's own paper settings."""
        names = {f.name for f in dataclasses.fields(METHODS.get(method).Hparams)}
        return {**{k: v for k, v in self.common.items() if k in names},
                **self.methods.get(method, {})}

    def settle(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """mode, jitter, dataset, backbone and diagnostics: the flag where one was given
        (not None), else the preset's. A flag that changes a setting this preset fixes is
        refused in one line."""
        out = {}
        for name, default in self.defaults().items():
            value = given.get(name)
            if value is None:
                value = default
            elif self.fixes_data and name in FIXED_SETTINGS and not _same(name, value, default):
                raise ConfigError(f"--{name} {value}: the {self.name} protocol sets {name} = "
                                  f"{default}; drop the option, or use --protocol seed to "
                                  f"choose it yourself")
            out[name] = value
        return out

    def describe(self) -> str:
        """What the preset sets, for ``bench list``."""
        parts = [f"{k}={v}" for k, v in self.defaults().items()]
        if self.palette is not None:
            parts.append("palette=LfF's colours")
        parts.append("ratios=" + ",".join(f"{r:g}" for r in self.conflict_ratios))
        parts += [f"{k}={v}" for k, v in self.common.items()]
        parts += [f"{m}: " + " ".join(f"{k}={v}" for k, v in s.items())
                  for m, s in self.methods.items() if s]
        return ", ".join(parts)


def _same(name: str, value: Any, default: Any) -> bool:
    if name == "backbone":
        from bench.backbones import canonical_name
        return canonical_name(value) == canonical_name(default)
    return value == default


SEED = "seed"
PROTOCOLS.add(SEED, ProtocolPreset(
    SEED, "the seed report's protocol: each method's own defaults (background colour, "
          "baseline conv net, SGD lr 0.1, batch 16, 10 epochs)",
    conflict_ratios=(0.05,), reference="the seed report"))

# docs/protocols.md gives the source of every value below (file and line of the official
# code, or the paper's section).
PROTOCOLS.add("lff-cmnist", ProtocolPreset(
    "lff-cmnist", "LfF/DFA Colored MNIST: coloured strokes with per-image colour noise, "
                  "exact conflict ratios, a 3 x 100 MLP, Adam lr 1e-3, batch 256, 100 epochs",
    mode="foreground", jitter=0.005, dataset="colored-exact", backbone="mlp-3x100",
    # colour following costs one forward pass; PGD and the LLC were calibrated on the conv
    # baseline (docs/diagnostics.md), not on this MLP, and would cost more than training it
    diagnostics="color", palette=LFF_PALETTE,
    conflict_ratios=(0.005, 0.01, 0.02, 0.05), default_ratio=0.01, fixes_data=True,
    common={"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 100},
    methods={
        # DFA's CMNIST command (README; scripts/run_cmnist_ours.sh): Adam lr 0.01, 50,000
        # steps of 256 (237 epochs of our 54,000 training images), lr x 0.5 every 10,000
        # steps after the 10,000-step warm-up; its loss weights are the method's defaults.
        "dfa": {"lr": 0.01, "epochs": 237, "decay_every": 10_000, "decay_factor": 0.5},
    },
    # The seed's proxy (SGD lr 0.1) leaves this MLP at chance (agreement 0.11); one epoch of
    # the protocol's ERM reads the colour (0.92-0.96 at the four ratios, seed 0)
    bias_proxy={"optimizer": "adam", "lr": 1e-3, "batch_size": 256, "subset": 60_000},
    reference="Nam et al. 2020 (alinlab/LfF); Lee et al. 2021 "
              "(kakaoenterprise/Learning-Debiased-Disentangled)",
    # sizes measured on the rows' kept weights (docs/zoo.md)
    zoo_exclusion=("the preset's models are not in the zoo: a 3 x 100 MLP on 2,352 inputs is "
                   "1.0 MB (DFA keeps two encoders), against about 17 KB for the conv "
                   "baseline, so its 140 runs would add over 140 MB to every clone; a seed "
                   "retrains in minutes with the page's command (docs/performance.md)")))


def preset(name: str) -> ProtocolPreset:
    return PROTOCOLS.get(name)


def zoo_exclusion_of(name: str) -> str:
    """Why the zoo holds none of the models of preset ``name`` ("" for the seed's records, and
    for a preset whose models ship)."""
    return PROTOCOLS.get(name).zoo_exclusion if name else ""


def protocol_of_extras(extras: Mapping[str, Any]) -> str:
    """The protocol a run spec's extras name (no name: the seed protocol)."""
    return str(extras.get("protocol") or SEED)
