"""Options shared by ``bench run`` and later subcommands (sweep), parsed in one place."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import ConfigError


def add_data_options(p: argparse.ArgumentParser) -> None:
    """Data, backbone and device flags. Those a protocol preset supplies default to None
    (the grid's ``settled`` fills them), so that a flag given can be told from one left out."""
    p.add_argument("--protocol", default="seed",
                   help="protocol preset: data construction, backbone, optimiser and method "
                        "settings the runs start from (default: seed; bench list; "
                        "docs/protocols.md)")
    p.add_argument("--train-split", dest="dataset", default=None, metavar="SCHEME",
                   help="how the training split is coloured: colored (each image wears its "
                        "class's colour with probability 1 - r) or colored-exact (exact counts "
                        "per class, as LfF) (default: the protocol's; seed: colored)")
    add_renamed_flag(p, "--dataset", "--train-split", "dataset")
    add_image_option(p, "auto", "auto (default: mnist)")
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


class RenamedFlag(argparse.Action):
    """A flag's old name: it still works, stores what its new name stores, and says the new
    name in one line on stderr (commands already written in notes and scripts keep working)."""

    def __init__(self, option_strings, dest, new_name: str, **kwargs):
        self.new_name = new_name
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stderr.write(f"note: {option_string} is now {self.new_name} (the old name still "
                         f"works)\n")
        setattr(namespace, self.dest, values)


def add_renamed_flag(p: argparse.ArgumentParser, old: str, new: str, dest: str) -> None:
    p.add_argument(old, dest=dest, action=RenamedFlag, new_name=new,
                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_image_option(p: argparse.ArgumentParser, default: str, default_text: str) -> None:
    """``--images``: which images are painted (a registered source); ``--source`` is its old
    name. Records keep calling the field ``source``."""
    p.add_argument("--images", dest="source", default=default, metavar="SOURCE",
                   help=f"the images: {default_text}, mnist, mnist-5k, fashion-mnist, ... "
                        f"(bench list; docs/datasets.md)")
    add_renamed_flag(p, "--source", "--images", "source")


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
