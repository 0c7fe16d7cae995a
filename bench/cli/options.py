"""Options shared by ``bench run`` and later subcommands (sweep), parsed in one place."""
from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import ConfigError


def add_data_options(p: argparse.ArgumentParser) -> None:
    """Data, backbone and device flags. Those a protocol preset supplies default to None
    (the grid's ``settled`` fills them), so that a flag given can be told from one left out."""
    p.add_argument("--protocol", default="seed",
                   help="protocol preset: data construction, backbone, optimiser and method "
                        "settings the runs start from (default: seed; bench list; "
                        "docs/protocols.md)")
    p.add_argument("--dataset", default=None,
                   help="training dataset (default: the protocol's; seed: colored)")
    p.add_argument("--source", default="auto",
                   help="image source: auto (default: mnist), mnist, mnist-5k, fashion-mnist, "
                        "... (bench list; docs/datasets.md)")
    add_digit_options(p)
    p.add_argument("--conflict-ratio", type=float, default=None,
                   help="share of training images in a random colour (default: the "
                        "protocol's; seed: 0.05)")
    p.add_argument("--mode", default=None,
                   help="colouring mode: background or foreground (default: the protocol's; "
                        "seed: background)")
    p.add_argument("--jitter", type=float, default=None,
                   help="colour jitter std for --mode foreground (default: the protocol's)")
    p.add_argument("--backbone", default=None,
                   help="network (default: the protocol's; seed: baseline)")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    p.add_argument("--store", type=Path, default=None,
                   help="results database (default: $BENCH_STORE or runs/results.sqlite)")


def add_digit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder holding MNIST/raw/ (or FashionMNIST/raw/, ...; default: "
                        "$BENCH_DATA_ROOT, else the MNIST shipped with the suite or a system "
                        "copy of the source)")
    p.add_argument("--allow-unofficial-data", action="store_true",
                   help="use a copy whose checksums differ from the official files; its runs "
                        "are recorded as source <source>@unofficial-<fingerprint>")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def check_ratio(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"--conflict-ratio {value}: must be between 0 and 1 (e.g. 0.05)")


def add_selection_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--selection", default=None, metavar="RULE",
                   help="the selection rule that chooses the reported model (default: val-acc "
                        "without bias labels, val-conflicting with them); every rule's pick "
                        "is recorded anyway (bench list; docs/selection.md)")


def add_parallel_options(p: argparse.ArgumentParser, noun: str) -> None:
    """How runs are spread over processes (never part of a run's spec)."""
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"{noun} run in parallel, each in its own process with cores / workers "
                        f"torch threads (default: one per usable core on CPU; on CUDA one per "
                        f"core up to 16, as GPU memory allows; never more than the {noun})")
    p.add_argument("--train-step", default="eager", metavar="eager|fused|compiled",
                   help="how a training step executes: eager (default), fused optimiser, or "
                        "compiled (torch.compile, CUDA graphs on a GPU); see "
                        "docs/performance.md")
