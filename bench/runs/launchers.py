"""Launchers: where a plan's runs execute. Every launcher has the same shape and owns its flags,
and is registered like a method, so a private cluster's launcher plugs in from an entry point
(group ``bench.launchers``) without a change to this repository::

    @LAUNCHERS.register("my-cluster")
    class MyCluster:
        runs_here = False       # the runs' device is another machine's ("auto" resolves there)
        shares_disk = False     # runs cannot write to this machine's disk (no kept weights)

        @staticmethod
        def add_options(parser): ...          # its own flags on ``bench sweep``

        def __init__(self, args): ...         # reads its flags
        def check(self, device: str): ...     # fails fast, before any data is built
        def threads(self, workers: int) -> int: ...
        def launch(self, launch: Launch): ... # runs launch.jobs, calls launch.on_record

Heavy modules (torch, Ray, submitit) are imported only inside ``launch``: parsing the command
line imports this module.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.errors import ConfigError
from bench.registry import LAUNCHERS


@dataclass(frozen=True)
class Launch:
    """What every launcher receives."""
    jobs: list                         # bench.runs.grid.Job
    settings: Any                      # bench.runs.worker.WorkerSettings
    workers: int                       # runs at once, where the launcher decides that here
    on_record: Callable                # called on this machine for each record as it arrives
    progress_for: Callable | None = None   # job -> the Progress that shows it
    # One configuration (``bench run``): a bad input would fail every seed alike, so it stops
    # the command; one worker then runs in this process (no spawn cost).
    one_configuration: bool = False


def add_launcher_options(parser: argparse.ArgumentParser) -> None:
    """``--launcher``, the resources every remote launcher reserves, then each launcher's own."""
    parser.add_argument("--launcher", choices=LAUNCHERS.names(), default="local")
    parser.add_argument("--gpus-per-run", type=float, default=None,
                        help="GPUs each run reserves when the device is cuda: Ray (default 1, "
                             "fractions pack runs) or SLURM (a whole number, default 1)")
    for _, launcher in LAUNCHERS.items():
        launcher.add_options(parser)


def configured(name: str, args: argparse.Namespace):
    """The launcher ``name`` set up from the command's flags."""
    return LAUNCHERS.get(name)(args)


def _threads_per_worker(workers: int) -> int:
    from bench.runs.worker import threads_per_worker
    return threads_per_worker(workers)


@LAUNCHERS.register("local")
class LocalLauncher:
    """A process pool on this machine (:mod:`bench.runs.local`)."""
    runs_here = True
    shares_disk = True

    @staticmethod
    def add_options(parser: argparse.ArgumentParser) -> None:
        """None of its own: ``--workers`` is shared with ``bench run``."""

    def __init__(self, args: argparse.Namespace | None = None):
        pass

    def check(self, device: str) -> None:
        pass

    def threads(self, workers: int) -> int:
        return _threads_per_worker(workers)

    def launch(self, launch: Launch) -> None:
        from bench.runs.local import run_local
        run_local(launch.jobs, launch.settings, launch.workers, launch.on_record,
                  progress_for=launch.progress_for, isolate=not launch.one_configuration,
                  stop_on_input_error=launch.one_configuration)


@LAUNCHERS.register("ray")
class RayLauncher:
    """Ray tasks on a local instance or a cluster (:mod:`bench.runs.ray_launcher`)."""
    runs_here = False

    @staticmethod
    def add_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--ray-address", default=None,
                            help="an existing Ray cluster (auto or host:port); default: a local "
                                 "instance")

    def __init__(self, args: argparse.Namespace):
        self.address = args.ray_address
        self.gpus_per_run = 1.0 if args.gpus_per_run is None else args.gpus_per_run

    @property
    def shares_disk(self) -> bool:
        return self.address is None            # a remote cluster's workers have their own disks

    def check(self, device: str) -> None:
        pass

    def threads(self, workers: int) -> int:
        return _threads_per_worker(workers)

    def launch(self, launch: Launch) -> None:
        from bench.runs.ray_launcher import run_ray
        run_ray(launch.jobs, launch.settings, launch.on_record, address=self.address,
                gpus_per_run=self.gpus_per_run)


@LAUNCHERS.register("slurm")
class SlurmLauncher:
    """One SLURM job array through submitit (:mod:`bench.runs.slurm_launcher`)."""
    shares_disk = True                         # the array's folder is on a shared file system

    @staticmethod
    def add_options(parser: argparse.ArgumentParser) -> None:
        slurm = parser.add_argument_group("--launcher slurm (through submitit; see "
                                          "docs/sweep.md)")
        slurm.add_argument("--partition", default=None, help="SLURM partition (default: the "
                           "cluster's default)")
        slurm.add_argument("--time-min", type=int, default=60,
                           help="time limit of each run in minutes (default 60)")
        slurm.add_argument("--cpus-per-run", type=int, default=None,
                           help="CPUs (= torch threads) of each run (default 1)")
        slurm.add_argument("--mem-gb", type=float, default=4.0, help="memory per run (default 4)")
        slurm.add_argument("--max-parallel", type=int, default=64,
                           help="array tasks running at once (default 64)")
        slurm.add_argument("--slurm-folder", type=Path, default=None,
                           help="logs and records of the array, on a file system the nodes "
                                "share (default: slurm/ next to the results store)")
        slurm.add_argument("--slurm-local", action="store_true",
                           help="run the array on this machine with submitit's local executor "
                                "(try the cluster path without SLURM)")

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.runs_here = args.slurm_local      # --slurm-local: the array runs on this machine
        self.options = None                    # SlurmOptions, once check() knows the device

    def check(self, device: str) -> None:
        from bench.runs.slurm_launcher import SlurmOptions, check_slurm_available
        from bench.store import default_store_path
        args = self.args
        for flag, value in (("--time-min", args.time_min), ("--cpus-per-run", args.cpus_per_run),
                            ("--max-parallel", args.max_parallel)):
            if value is not None and value < 1:
                raise ConfigError(f"{flag} {value}: expected a positive integer")
        if not args.slurm_local:
            check_slurm_available()
        gpus = args.gpus_per_run
        if gpus is None:
            gpus = 1 if device in ("cuda", "auto") else 0
        if gpus != int(gpus) or gpus < 0:
            raise ConfigError(f"--gpus-per-run {gpus}: SLURM reserves whole GPUs (e.g. 1); "
                              f"pack runs on a GPU with --launcher ray instead")
        if device == "cuda" and gpus == 0:
            raise ConfigError("--device cuda with --gpus-per-run 0: each run needs a GPU")
        folder = args.slurm_folder or Path(args.store or default_store_path()).parent / "slurm"
        self.options = SlurmOptions(folder=folder, partition=args.partition,
                                    time_min=args.time_min, gpus_per_run=int(gpus),
                                    mem_gb=args.mem_gb, max_parallel=args.max_parallel,
                                    cluster="local" if args.slurm_local else "slurm")

    def threads(self, workers: int) -> int:
        return self.args.cpus_per_run or 1     # each array task declares its own CPUs

    def launch(self, launch: Launch) -> None:
        from bench.runs import slurm_launcher
        slurm_launcher.run_slurm(launch.jobs, launch.settings, launch.on_record, self.options)
