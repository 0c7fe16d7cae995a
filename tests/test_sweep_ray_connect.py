"""The Ray launcher's edges, without starting Ray: an address that does not answer is a
one-line error within seconds, and an interrupt cancels every task in flight."""
from __future__ import annotations

import socket
import time

import pytest

from bench.errors import ConfigError
from bench.hooks import HookOptions
from bench.runs.grid import SweepGrid, expand
from bench.runs.ray_launcher import _submit_and_collect, connect
from bench.runs.worker import WorkerSettings


class _NoRay:
    """Stands for the ray module where ray.init must not be reached."""

    @staticmethod
    def is_initialized() -> bool:
        return False

    @staticmethod
    def init(*args, **kwargs):
        raise AssertionError("ray.init was called for an address that does not answer")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]        # free, and nothing listens once closed


@pytest.mark.parametrize("form", ["127.0.0.1:{}", "ray://127.0.0.1:{}"])
def test_an_address_that_does_not_answer_fails_in_seconds(form):
    address = form.format(_closed_port())
    start = time.monotonic()
    with pytest.raises(ConfigError, match="nothing answers at 127.0.0.1:"):
        connect(_NoRay, address)
    assert time.monotonic() - start < 60     # the probe's own timeout is 10 s


def test_a_malformed_address_is_a_one_line_error():
    with pytest.raises(ConfigError, match="expected auto, HOST:PORT"):
        connect(_NoRay, "head-node")


class _FakeRay:
    """Records what the launcher asks of Ray; ``wait`` is where Ctrl-C lands."""

    def __init__(self):
        self.cancelled: list = []
        self.submitted: list = []

    def put(self, value):
        return object()

    def wait(self, refs, num_returns):
        raise KeyboardInterrupt

    def cancel(self, ref, force=False):
        self.cancelled.append((ref, force))


def test_an_interrupt_cancels_every_task_in_flight():
    fake = _FakeRay()

    class Task:
        @staticmethod
        def remote(job, settings, data):
            ref = object()
            fake.submitted.append(ref)
            return ref
    jobs = expand(SweepGrid(("erm",), seeds=3, source="mnist-5k", diagnostics="none"),
                  "mnist-5k")
    settings = WorkerSettings("cpu", HookOptions(diagnostics="none", keep_weights=False))
    with pytest.raises(KeyboardInterrupt):
        _submit_and_collect(fake, Task, jobs, settings, lambda r: None, window=4)
    assert len(fake.submitted) == 3
    assert fake.cancelled == [(ref, True) for ref in fake.submitted]
