"""The Ray launcher: each run is a Ray task; records come back to the driver, which alone
writes the store.

- Works against an existing cluster (``address="auto"`` or ``"ray://host:10001"``/``host:port``,
  whose port must answer within ``CONNECT_TIMEOUT_S``) or starts a local instance bound to
  127.0.0.1 without a dashboard.
- Ctrl-C or SIGTERM cancels the tasks in flight (``ray.cancel(force=True)``) before leaving.
- Each task declares its resources: ``num_cpus`` (= the torch threads it uses) and, for CUDA,
  ``num_gpus``; Ray packs tasks onto nodes accordingly.
- Data is prepared once per (data spec, seed) on the driver and ``ray.put`` into the object
  store; tasks receive the reference, so no task regenerates or reads data from disk, and
  workers keep no local state the driver needs (the CLI turns weight keeping off on a remote
  cluster, where the files would land on the worker's disk).
- Submission is windowed (a few tasks per free CPU), so only the data of the specs in flight
  is held in the object store.
"""
from __future__ import annotations

import dataclasses
import os
import socket
from collections import Counter
from typing import Any

from bench.data import prepare_splits
from bench.errors import ConfigError
from bench.runs.grid import Job
from bench.runs.local import WORKER_DIED, OnRecord
from bench.runs.worker import WorkerSettings, failed_record, run_job, usable_cores

INSTALL_HINT = "--launcher ray needs Ray: pip install 'lazy-artist-bench[ray]'"
CONNECT_TIMEOUT_S = 10.0       # how long an existing cluster's address gets to answer


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


def _run_task(job: Job, settings: WorkerSettings, splits) -> Any:
    # Ray resolves the ObjectRef argument to the splits before calling this.
    return run_job(job, settings, splits)


def probe_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """A one-line ConfigError within ``timeout`` when nothing listens at the cluster's address
    (``ray.init`` itself retries an unreachable address for a long time, or for ever). Only
    whether the port answers is checked; ``auto`` is probed at ``$RAY_ADDRESS`` when set."""
    target = os.environ.get("RAY_ADDRESS", "") if address == "auto" else address
    target = target.split("://", 1)[-1]
    if not target or target in ("auto", "local"):
        return                              # Ray finds (or not) the cluster of this node
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--ray-address {address}: expected auto, HOST:PORT or "
                          f"ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"--ray-address {address}: nothing answers at {target} within "
                          f"{timeout:g} s ({exc.strerror or exc}); check the address (ray "
                          f"status on the head node prints it), or leave --ray-address out to "
                          f"start a local instance") from None


def connect(ray, address: str | None, num_cpus: int | None = None) -> bool:
    """Connects to a cluster or starts a local instance; True when this call started it."""
    if ray.is_initialized():
        return False
    if address:
        probe_address(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level="warning")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"--ray-address {address}: cannot connect ({exc})") from None
    else:
        ray.init(num_cpus=num_cpus or usable_cores(), include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="warning")
    return True


def _error_text(exc: BaseException, ray) -> str:
    if isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        return WORKER_DIED
    cause = getattr(exc, "cause", None)          # RayTaskError wraps the worker's exception
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"


def run_ray(jobs: list[Job], settings: WorkerSettings, on_record: OnRecord,
            address: str | None = None, gpus_per_run: float = 1.0,
            num_cpus: int | None = None) -> None:
    """Runs every job as a Ray task; ``on_record`` is called on the driver per record."""
    ray = import_ray()
    started = connect(ray, address, num_cpus)
    try:
        cluster = ray.cluster_resources()
        if settings.device == "auto":
            settings = dataclasses.replace(
                settings, device="cuda" if cluster.get("GPU", 0) > 0 else "cpu")
        gpus = gpus_per_run if settings.device == "cuda" else 0
        task = ray.remote(_run_task).options(num_cpus=settings.threads, num_gpus=gpus,
                                             max_retries=1)
        window = max(2, 2 * int(cluster.get("CPU", 1) // max(1, settings.threads)))
        _submit_and_collect(ray, task, jobs, settings, on_record, window)
    finally:
        if started:
            ray.shutdown()


def _submit_and_collect(ray, task, jobs: list[Job], settings: WorkerSettings,
                        on_record: OnRecord, window: int) -> None:
    data_key = lambda job: (job.data_spec(), job.spec.dataset)   # noqa: E731
    remaining = Counter(data_key(j) for j in jobs)    # jobs still needing each data object
    data_refs: dict[Any, Any] = {}
    in_flight: dict[Any, Job] = {}
    queue = list(reversed(jobs))                      # pop() from the end keeps the order
    try:
        while queue or in_flight:
            while queue and len(in_flight) < window:
                job = queue.pop()
                key = data_key(job)
                if key not in data_refs:
                    data, dataset = key
                    splits = prepare_splits(data, dataset, settings.data_root,
                                            settings.cache_dir)
                    data_refs[key] = ray.put(splits)
                in_flight[task.remote(job, settings, data_refs[key])] = job
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                job = in_flight.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as exc:   # the task raised, or its worker or node died
                    record = failed_record(job, _error_text(exc, ray), settings.device)
                on_record(record)
                key = data_key(job)
                remaining[key] -= 1
                if remaining[key] == 0:
                    del data_refs[key]       # frees the object store copy
    except BaseException:                    # Ctrl-C or a store failure: stop the tasks
        for ref in in_flight:
            ray.cancel(ref, force=True)
        raise
