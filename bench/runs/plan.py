"""What a sweep still has to run, and how long that should take.

Resuming is the store's job: a (spec, seed) key that is stored as completed is skipped, a
failed one is run again. Estimates come from stored runtimes of *similar* completed runs
(same method and digit source, the nearest conflict ratio), never from guesses.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.record import RunRecord
from bench.runs.grid import Job


@dataclass(frozen=True)
class Plan:
    todo: list[Job]
    done: list[Job]          # already completed in the store


def plan(jobs: list[Job], completed_keys: set[str]) -> Plan:
    todo = [j for j in jobs if j.key not in completed_keys]
    done = [j for j in jobs if j.key in completed_keys]
    return Plan(todo, done)


def run_seconds(record: RunRecord) -> float:
    """Data + training + evaluation + every diagnostic (each reports ``seconds_<name>``)."""
    return float(sum(v for k, v in record.metrics.items()
                     if k.startswith("seconds_") and v == v))


class Estimator:
    """Seconds per job from similar completed runs; None when there are none."""

    def __init__(self, completed: list[RunRecord]):
        self._by_method_source: dict[tuple[str, str], list[RunRecord]] = {}
        for rec in completed:
            if rec.status == "completed":
                key = (rec.spec.method, rec.source)
                self._by_method_source.setdefault(key, []).append(rec)

    def seconds(self, job: Job) -> float | None:
        candidates = self._by_method_source.get((job.spec.method, job.spec.data["source"]), [])
        # runs with the same diagnostics settings cost the same; prefer them when there are any
        same_extras = [r for r in candidates if r.spec.extras == job.spec.extras]
        candidates = same_extras or candidates
        if not candidates:
            return None
        ratio = job.spec.data["conflict_ratio"]
        gap = min(abs(r.spec.data.get("conflict_ratio", 0.0) - ratio) for r in candidates)
        nearest = [r for r in candidates
                   if abs(r.spec.data.get("conflict_ratio", 0.0) - ratio) == gap]
        return statistics.fmean(run_seconds(r) for r in nearest)


def describe_overrides(job: Job, varied: set[str]) -> str:
    """The hyperparameters a grid varies, as ``lr=0.1 epochs=1`` (others are defaults)."""
    return " ".join(f"{k}={job.spec.hparams[k]}" for k in sorted(varied)
                    if k in job.spec.hparams)


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass(frozen=True)
class TimeEstimate:
    total_seconds: float       # sum over jobs with an estimate
    wall_seconds: float        # total spread over the parallel workers
    estimated: int
    unestimated: int

    def describe(self) -> str:
        if not self.estimated:
            return f"no estimate ({self.unestimated} runs have no similar completed run)"
        text = (f"about {format_seconds(self.wall_seconds)} of wall time "
                f"({format_seconds(self.total_seconds)} of run time)")
        if self.unestimated:
            text += f" for {self.estimated} runs, plus {self.unestimated} with no estimate"
        return text


def estimate_total(seconds: list[float | None], workers: int) -> TimeEstimate:
    known = [s for s in seconds if s is not None]
    total = float(sum(known))
    return TimeEstimate(total, total / max(1, workers), len(known), len(seconds) - len(known))
