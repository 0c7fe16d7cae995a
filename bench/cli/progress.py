"""What ``bench run`` and ``bench sweep`` show while runs are in flight.

On a terminal: an overall bar (runs done, elapsed, ETA) and one bar per run in flight, with
its training phase and its own ETA. Anywhere else (a log file, CI, ``| tee``): nothing that
redraws, only one plain line per finished run, with the overall count and ETA, so a log reads
top to bottom. Finished runs print one line in both cases.
"""
from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichBar, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from bench.method import Progress
from bench.runs.plan import format_seconds

# rich estimates speed over a sliding window (30 s by default), shorter than one run: the
# overall bar would show no ETA most of the time. Over the whole command instead.
SPEED_WINDOW_S = 24 * 3600.0


def result_summary(metrics: dict) -> str:
    """The short result of one finished run, as bench run and bench sweep print it."""
    return (f"aligned {metrics['acc_aligned']:.3f} · conflicting {metrics['acc_conflicting']:.3f}"
            f" · train {metrics['seconds_train']:.1f}s")


def message_console() -> Console:
    """stderr, never wrapped by rich: a log line stays one line whatever the width."""
    return Console(stderr=True, soft_wrap=True)


def make_bar(console: Console) -> RichBar:
    return RichBar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=console, transient=False, refresh_per_second=4,
                   speed_estimate_period=SPEED_WINDOW_S)


class RichProgress(Progress):
    """One bar for the training phase a run is in (replaced when the next phase starts)."""

    def __init__(self, bar: RichBar, label: str):
        self.bar = bar
        self.label = label
        self.task = None

    def start(self, phase: str, total: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(f"{escape(self.label)} {phase}", total=total)

    def advance(self, steps: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, steps)

    def finish(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None


class RunBoard:
    """Progress of ``total`` runs. Use as a context manager; ``progress_for(label)`` gives a
    run's Progress, ``finished(line)`` prints a finished run's line with the overall count
    and ETA. Safe to call from the thread that relays workers' progress."""

    def __init__(self, console: Console, total: int, noun: str = "runs"):
        self.console = console
        self.total, self.noun = total, noun
        self.done = 0
        self.live = console.is_terminal
        self._bar = make_bar(console) if self.live else None
        self._task = None
        self._started = time.perf_counter()
        self._lock = threading.Lock()

    def __enter__(self) -> "RunBoard":
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.noun, total=self.total)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def progress_for(self, label: str) -> Progress:
        return RichProgress(self._bar, label) if self._bar is not None else Progress()

    def eta(self) -> str:
        """Wall time left at the pace so far (parallel runs included); '?' before the first
        run has finished."""
        if not self.done:
            return "?"
        elapsed = time.perf_counter() - self._started
        return format_seconds(elapsed / self.done * (self.total - self.done))

    def finished(self, line: str) -> None:
        """Prints a finished run's line (rich markup) with the overall count and ETA."""
        with self._lock:
            self.done += 1
            tail = f"[{self.done}/{self.total} {self.noun}"
            tail += f", ETA {self.eta()}]" if self.done < self.total else "]"
            self.console.print(f"{line} {escape(tail)}")
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done)

    def print(self, line: str) -> None:
        self.console.print(line)
