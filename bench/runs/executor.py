"""The one way runs execute. ``bench run`` (a plan of one method and one configuration) and
``bench sweep`` both call :func:`execute_plan`, whose steps are, in order: validate the grid,
resolve the data, skip what the store already holds, launch the rest, store each record as it
arrives, summarise. What is shown on the way is the caller's :class:`PlanView`, so this module
knows no console."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.harness import resolve_device
from bench.interrupts import exit_code
from bench.record import RunRecord
from bench.registry import BACKBONES, DATASETS, METHODS
from bench.runs.grid import Job, SweepGrid, data_warnings, expand
from bench.runs.launchers import Launch
from bench.runs.plan import plan
from bench.runs.worker import WorkerSettings, default_workers
from bench.store import Store
from bench.training import check_train_step


class PlanView(Protocol):
    """What a command shows while its plan executes (bench.cli.plan_view is the one view)."""
    def warn(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...
    def planned(self, jobs: list[Job], todo: list[Job], execution: "Execution", device: str,
                store: Store) -> None: ...
    def starting(self, todo: int, workers: int, settings: WorkerSettings) -> None: ...
    def show_plan(self, store: Store, todo: list[Job], workers: int) -> None: ...
    def board(self, total: int) -> Any: ...
    def finished(self, board: Any, record: RunRecord) -> None: ...
    def progress_for(self, board: Any, job: Job) -> Any: ...
    def stopped(self, exc: BaseException, stored: int, total: int) -> None: ...
    def done(self, seconds: float, completed: int, failed: int) -> None: ...
    def summary(self, store: Store, jobs: list[Job]) -> None: ...


@dataclass(frozen=True)
class Execution:
    """How to execute a plan; never part of a run's spec."""
    launcher: Any                     # configured (bench.runs.launchers)
    launcher_name: str = "local"
    store: Path | None = None
    workers: int | None = None
    train_step: str = "eager"
    keep_weights: bool = True
    allow_unofficial_data: bool = False
    # rerun (and replace) keys already stored; None: the command has no --force to offer
    force: bool | None = None
    dry_run: bool = False


def execute_plan(grid: SweepGrid, execution: Execution, view: PlanView) -> int:
    """Runs what the grid asks and the store lacks; 0 when every run completed, 1 when one
    failed, 130 / 143 when interrupted (what was stored stays)."""
    check_train_step(execution.train_step)
    grid = validated(grid, view)
    source = resolved_source(grid, execution.allow_unofficial_data, view)
    jobs = expand(grid, source)
    # a dry run only reads: it never creates the store
    with Store(execution.store, readonly=execution.dry_run,
               missing_ok=execution.dry_run) as store:
        return _execute(grid, jobs, store, execution, view)


def validated(grid: SweepGrid, view: PlanView) -> SweepGrid:
    """The grid with its protocol's settings filled in, every name it uses registered."""
    grid = grid.settled()
    for method in grid.methods:
        METHODS.get(method)
    DATASETS.get(grid.dataset)
    BACKBONES.get(grid.backbone)
    for warning in data_warnings(grid):
        view.warn(warning)
    return grid


def resolved_source(grid: SweepGrid, allow_unofficial: bool, view: PlanView) -> str:
    """The image source the runs record (never ``auto``); its warnings are shown, not lost."""
    from bench.datasets.digits import resolve_source
    data_root = Path(grid.data_root) if grid.data_root else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = resolve_source(grid.source, data_root, allow_unofficial)
    for w in caught:
        view.warn(str(w.message))
    return source


def run_device(name: str, launcher: Any) -> str:
    """Where the runs train. A launcher whose runs execute elsewhere resolves ``auto`` (and
    checks ``cuda``) there, on the machines that have (or lack) the GPU."""
    if not launcher.runs_here and name in ("auto", "cuda"):
        return name
    return str(resolve_device(name))


def _execute(grid: SweepGrid, jobs: list[Job], store: Store, execution: Execution,
             view: PlanView) -> int:
    if store.ingested:
        view.note(f"added {len(store.ingested)} result(s) kept from an earlier failed write")
    todo = jobs if execution.force else plan(jobs, store.completed_keys()).todo
    device = run_device(grid.device, execution.launcher)
    execution.launcher.check(device)                 # before any data is built
    workers = min(execution.workers or default_workers(device, len(todo)), max(1, len(todo)))
    if todo and not execution.dry_run:
        store.check_writable()
        store.check_rows()                           # before any training is paid for
    view.planned(jobs, todo, execution, device, store)
    if execution.dry_run:
        view.show_plan(store, todo, workers)
        return 0
    if not todo:
        view.summary(store, jobs)
        return 0
    settings = worker_settings(grid, execution, device, workers, store, view)
    view.starting(len(todo), workers, settings)
    one_configuration = len({job.spec.hash() for job in jobs}) == 1
    return launch_and_store(jobs, todo, settings, workers, one_configuration, execution,
                            store, view)


def worker_settings(grid: SweepGrid, execution: Execution, device: str, workers: int,
                    store: Store, view: PlanView) -> WorkerSettings:
    from bench.weights import weights_dir_for
    keep = execution.keep_weights and execution.launcher.shares_disk
    if execution.keep_weights and not keep:
        view.note(f"note: weights are not kept with --launcher {execution.launcher_name} "
                  f"on a remote cluster (they would land on the workers' disks)")
    hooks = grid.hook_options(keep_weights=keep,
                              weights_dir=weights_dir_for(store.path.resolve()))
    return WorkerSettings(device, hooks, Path(grid.data_root) if grid.data_root else None,
                          threads=execution.launcher.threads(workers),
                          train_step=execution.train_step)


def launch_and_store(jobs: list[Job], todo: list[Job], settings: WorkerSettings, workers: int,
                     one_configuration: bool, execution: Execution, store: Store,
                     view: PlanView) -> int:
    """Hands the runs to the launcher; each record is stored as it arrives (one transaction
    each), so an interrupted plan keeps what finished and the same command resumes it."""
    failed = 0
    start = time.perf_counter()
    board = view.board(len(todo))

    def on_record(record: RunRecord) -> None:
        nonlocal failed
        store.put(record, replace=bool(execution.force))   # a completed row stays unless forced
        failed += record.status == "failed"
        view.finished(board, record)

    launch = Launch(todo, settings, workers, on_record,
                    lambda job: view.progress_for(board, job), one_configuration)
    try:
        with board:
            execution.launcher.launch(launch)
    except KeyboardInterrupt as exc:                 # Ctrl-C or SIGTERM (bench.interrupts)
        view.stopped(exc, board.done, len(todo))
        return exit_code(exc)
    view.done(time.perf_counter() - start, len(todo) - failed, failed)
    view.summary(store, jobs)
    return 1 if failed else 0
