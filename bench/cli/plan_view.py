"""What ``bench run`` and ``bench sweep`` show while :func:`bench.runs.executor.execute_plan`
runs their plan: one view for both, so a run reads the same whichever command started it.

A line names a run by what tells it apart from the plan's other runs: ``seed 1`` when the plan
has one configuration (``bench run``), else method, ratio, the hyperparameters the grid sets,
and seed."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from bench.cli.progress import RunBoard, message_console, result_summary
from bench.cli.tables import new_table, print_table
from bench.interrupts import describe
from bench.runs.plan import Estimator, describe_overrides, estimate_total, format_seconds
from bench.summary import summary_metrics, summary_rows


class PlanView:
    def __init__(self, title: str, noun: str, set_keys: set[str], wide: bool = False):
        self.title = title               # "run" or "sweep", as the command is named
        self.noun = noun                 # what the progress board counts: "seeds" or "runs"
        self.set_keys = set_keys         # hyperparameters the grid sets (--set)
        self.wide = wide
        self.varied: set[str] = set()    # shown per run once the plan has several configs
        self.one_configuration = True
        self.console = message_console()

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]warning:[/] {escape(text)}")

    def note(self, text: str) -> None:
        self.console.print(escape(text))

    def planned(self, jobs, todo, execution, device: str, store) -> None:
        specs = {job.spec.hash() for job in jobs}
        self.one_configuration = len(specs) <= 1
        self.varied = set() if self.one_configuration else set(self.set_keys)
        stored = len(jobs) - len(todo)
        spec = f" · spec {next(iter(specs))}" if len(specs) == 1 else ""
        skipped = f"{stored} already stored, " if stored else ""
        self.console.print(f"{self.title}: {len(jobs)} runs in the plan, {skipped}{len(todo)} "
                           f"to run · launcher {execution.launcher_name} · device {device}"
                           f"{spec} · store {escape(str(store.path))}")
        if stored and execution.force is False:
            self.console.print(f"{stored} {self.noun} already stored, skipped (use --force to "
                               f"rerun)")

    def starting(self, todo: int, workers: int, settings) -> None:
        self.console.print(f"{todo} {self.noun} to run · {workers} in parallel × "
                           f"{settings.threads} torch threads each · train step "
                           f"{settings.train_step}")

    def label(self, job_or_record) -> str:
        seed = f"seed {job_or_record.seed}"
        if self.one_configuration:
            return seed
        spec = job_or_record.spec
        hyper = " ".join(f"{k}={spec.hparams[k]}" for k in sorted(self.varied)
                         if k in spec.hparams)
        return " ".join(f"{spec.method} r={spec.data['conflict_ratio']} {hyper} {seed}".split())

    def board(self, total: int) -> RunBoard:
        return RunBoard(self.console, total, self.noun)

    def progress_for(self, board: RunBoard, job):
        return board.progress_for(self.label(job))

    def finished(self, board: RunBoard, record) -> None:
        """The one line of a finished run, then (printed, not counted) what its diagnostics
        said."""
        what = escape(self.label(record))
        if record.status == "failed":
            board.finished(f"[red]{what} failed:[/] {escape(record.error or '')}")
            return
        board.finished(f"{what}: {result_summary(record.metrics)}")
        for name, error in record.diagnostic_errors.items():
            board.print(f"[yellow]{what}: {name} failed (the run is kept):[/] {escape(error)}")
        for name, note in record.diagnostic_notes.items():
            board.print(f"{what}: {name} {escape(note)}")

    def stopped(self, exc: BaseException, stored: int, total: int) -> None:
        self.console.print(f"{self.title} {describe(exc)}: {stored} {self.noun} stored, "
                           f"{total - stored} not run; run the same command again to finish "
                           f"them")

    def done(self, seconds: float, completed: int, failed: int) -> None:
        self.console.print(f"{self.title} finished in {format_seconds(seconds)}: {completed} "
                           f"completed, {failed} failed")

    def show_plan(self, store, todo, workers: int) -> None:
        """A dry run: each run still to execute, with its estimated time."""
        estimator = Estimator(store.records(status="completed"))
        seconds = [estimator.seconds(job) for job in todo]
        table = new_table(f"{len(todo)} runs to execute",
                          ("method", "r", "seed", "hyperparameters", "key", "estimate"),
                          folding=("hyperparameters",))
        for job, secs in zip(todo, seconds):
            table.add_row(job.spec.method, str(job.spec.data["conflict_ratio"]), str(job.seed),
                          describe_overrides(job, self.set_keys), job.key,
                          format_seconds(secs) if secs is not None else "no estimate")
        print_table(table, self.wide)
        total = estimate_total(seconds, workers)
        Console(soft_wrap=True).print(f"estimate with {workers} parallel runs: "
                                      f"{total.describe()}")

    def summary(self, store, jobs) -> None:
        """mean ± std over the completed seeds of each configuration in the plan; the main
        metrics within 100 columns, or every headline metric with ``wide``."""
        keys = {job.key for job in jobs}
        by_hash = {job.spec.hash(): job for job in jobs}
        records = [r for r in store.records() if r.key in keys]
        metrics = summary_metrics(records, self.wide)
        rows = summary_rows(records, metrics)
        sources = ", ".join(sorted({row["source"] for row in rows})) or "no completed run"
        columns = ("method", *(("source",) if self.wide else ()), "r",
                   *(("hyperparameters",) if self.varied else ()), "n", *metrics)
        table = new_table(f"mean ± std over n seeds · {sources}", columns,
                          folding=("hyperparameters",))
        for row in rows:
            row["hyperparameters"] = describe_overrides(by_hash[row["spec"]], self.varied)
            table.add_row(*(row[c] for c in columns))
        print_table(table, self.wide)
