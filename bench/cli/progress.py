"""Rich progress bars (with ETA) behind the harness's Progress interface."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichBar, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from bench.method import Progress


def make_bar(console: Console) -> RichBar:
    return RichBar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=console, transient=False, refresh_per_second=4)


class RichProgress(Progress):
    """One bar per training phase of the seed in flight."""

    def __init__(self, bar: RichBar, label: str):
        self.bar = bar
        self.label = label
        self.task = None

    def start(self, phase: str, total: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(f"{self.label} {phase}", total=total)

    def advance(self, steps: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, steps)

    def finish(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
