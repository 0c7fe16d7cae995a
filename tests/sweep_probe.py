"""A tiny method for the sweep tests (not a test module): ERM on the first ``limit`` training
images, with a switch to fail in each way a sweep must survive. Workers import this module by
name (``Job.method_module``), so the tests folder must be importable there (it is on
``sys.path`` under pytest; the Ray test puts it on ``PYTHONPATH``)."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.errors import DataError
from bench.method import FitResult, Method, RunContext
from bench.hparams import hparam
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDConfig, train


@dataclass(frozen=True)
class ProbeHparams:
    epochs: int = hparam(1, low=1)
    batch_size: int = hparam(64, low=1, at_most_train_size=True)
    lr: float = hparam(0.1, low=0, low_open=True)
    limit: int = hparam(256, low=1)
    crash: str = "no"   # "raise": in fit; "data": a BenchError that escapes the harness;
                        # "exit": the worker process dies; "hang": fit never returns


@METHODS.register("sweep-probe")
class SweepProbe(Method):
    Hparams = ProbeHparams
    supervision = Supervision.NONE
    reference = "tests only"
    summary = "ERM on a few hundred images, for sweep tests"

    def fit(self, ctx: RunContext) -> FitResult:
        crash = self.hparams.crash
        if crash == "raise":
            raise RuntimeError("probe asked to fail")
        if crash == "data":
            raise DataError("probe asked for missing data")
        if crash == "exit":
            os._exit(3)
        if crash == "hang":
            marks = os.environ.get("SWEEP_PROBE_MARKS")   # tells a test this pid is in fit
            if marks:
                Path(marks, str(os.getpid())).write_text("hanging")
            while True:
                time.sleep(1)
        small = ctx.train.head(self.hparams.limit)
        h = self.hparams
        return train(ctx.new_model(), dataclasses.replace(ctx, train=small),
                     SGDConfig(h.epochs, h.batch_size, h.lr, 0.0, 0.0))
