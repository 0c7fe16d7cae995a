"""Tables printed by the CLI: 100 columns by default, every column with ``--wide``.

Headers and cells are never cut or wrapped: a narrow table shows fewer columns instead. Only
a free-text column (a sweep's hyperparameters) may fold onto a second line.
"""
from __future__ import annotations

from typing import Iterable

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.escape import CONTROL

NARROW_WIDTH = 100
WIDE_WIDTH = 10_000           # "as wide as the table": rich never pads a table to the console


def add_wide_option(p) -> None:
    p.add_argument("--wide", action="store_true",
                   help=f"print every column (default: the main ones, within {NARROW_WIDTH} "
                        f"columns)")


class TextTable(Table):
    """A rich Table whose string cells are shown as they are: a cell is data (a method name, a
    hyperparameter value), never rich markup or a terminal escape sequence."""

    def add_row(self, *cells, **kwargs) -> None:
        super().add_row(*(Text(CONTROL.sub("?", c)) if isinstance(c, str) else c
                          for c in cells), **kwargs)


def new_table(title: str, columns: Iterable[str], folding: Iterable[str] = ()) -> Table:
    """A compact table (no outer frame, two spaces between columns); ``folding`` names the
    columns allowed to wrap, all others keep their full width. Cells are plain text."""
    table = TextTable(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      padding=(0, 1, 0, 0))
    folding = set(folding)
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col not in folding)
    return table


def _fit(table: Table) -> int:
    """Pins every fixed column at its full width (rich would otherwise shrink it and cut
    cells with an ellipsis) and returns the narrowest width that shows the table uncut."""
    total = len(table.columns) - 1          # one-character separators
    for column in table.columns:
        texts = [str(column.header), *(str(cell) for cell in column.cells)]
        if column.no_wrap:
            need = max(cell_len(t) for t in texts)
        else:   # a folding column needs its header and longest word whole
            need = max(cell_len(word) for t in texts for word in (t.split() or [""]))
        column.min_width = need
        total += need + 1                   # right padding
    return total


def print_table(table: Table, wide: bool = False) -> None:
    """Prints to stdout. Narrow: within NARROW_WIDTH columns, folding the free-text columns
    if needed; if the fixed columns alone are wider, the table is printed wider rather than
    cut."""
    needed = _fit(table)
    Console(width=WIDE_WIDTH if wide else max(NARROW_WIDTH, needed)).print(table)
