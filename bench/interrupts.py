"""Ctrl-C and ``kill`` (SIGTERM) stop a command the same way: as a KeyboardInterrupt.

Every path that cleans up after Ctrl-C (the process pool's stop, a Ray or SLURM launcher's
cancel, the store's rolled-back transaction) then serves SIGTERM too; only the exit status
differs, 130 for SIGINT and 143 for SIGTERM (128 + the signal's number, as a shell reports it).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

SIGINT_EXIT = 128 + signal.SIGINT       # 130
SIGTERM_EXIT = 128 + signal.SIGTERM     # 143


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def exit_code(exc: BaseException) -> int:
    return SIGTERM_EXIT if isinstance(exc, Terminated) else SIGINT_EXIT


def describe(exc: BaseException) -> str:
    return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (a handler can only
    be installed there; elsewhere this does nothing). The previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
