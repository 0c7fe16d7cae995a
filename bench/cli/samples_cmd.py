"""``bench samples``: a grid of example images from every split (the README's figure)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from bench.cli.options import add_digit_options, add_image_option, check_ratio
from bench.data import prepare_splits
from bench.data import new_data_spec
from bench.datasets.digits import resolve_source
from bench.leaderboard.figures import splits_grid


def add_parser(sub) -> None:
    p = sub.add_parser("samples", help="save a PNG grid of example images from every split")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")
    add_image_option(p, "auto", "auto (default: mnist)")
    add_digit_options(p)
    p.add_argument("--conflict-ratio", type=float, default=0.05)
    p.add_argument("--mode", default="background", help="colouring mode: background or foreground")
    p.add_argument("--jitter", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0, help="data seed (train/val split)")
    p.set_defaults(func=run)


def first_of_each_digit(digits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """One image per digit 0-9 (the first in split order), so every row reads 0..9."""
    picks = [int(torch.nonzero(digits == d)[0]) for d in range(10) if (digits == d).any()]
    return images[picks]


def run(args: argparse.Namespace) -> int:
    check_ratio(args.conflict_ratio)
    source = resolve_source(args.source, args.data_root, args.allow_unofficial_data)
    spec = new_data_spec(source=source, conflict_ratio=args.conflict_ratio, mode=args.mode,
                            jitter=args.jitter, seed=args.seed)
    splits = prepare_splits(spec, data_root=args.data_root)
    images = {name: first_of_each_digit(split.labels, split.images).numpy()
              for name, split in splits.all().items()}
    path = splits_grid(images, args.out)
    print(f"wrote {path} ({source}, r={args.conflict_ratio:g}, {args.mode})")
    return 0
