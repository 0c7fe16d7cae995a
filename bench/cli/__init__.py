"""``bench`` command line: one small module per subcommand."""
from __future__ import annotations

import argparse
import importlib
import sys

from bench.errors import BenchError, one_line
from bench.interrupts import describe, exit_code, sigterm_as_interrupt
from bench.registry import RegistryError

# Each module defines ``add_parser(subparsers)``, which sets ``func`` on its parser.
SUBCOMMANDS = ("run", "list", "results", "explain", "leaderboard", "samples",
               "sweep", "zoo", "eval")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line (plus the hint to ask for --help) and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="bench", description="Lazy Artist Bench: spurious-correlation "
                           "debiasing on Colored MNIST")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"bench.cli.{name}_cmd").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with sigterm_as_interrupt():         # SIGTERM stops a command as Ctrl-C does
            return int(args.func(args) or 0)
    except (BenchError, RegistryError) as exc:
        sys.stderr.write(f"bench {args.command}: error: {one_line(exc)}\n")
        return 2
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"bench {args.command}: {describe(exc)}; finished seeds are stored\n")
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
