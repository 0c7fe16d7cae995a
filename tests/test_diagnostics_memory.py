import sys
from pathlib import Path

import pytest
import torch

from bench.diagnostics.memory import peak_memory, peak_rss_mb

STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float:
    line = next(l for l in STATUS.read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024   # kB


@pytest.mark.skipif(not sys.platform.startswith("linux") or not STATUS.exists(),
                    reason="needs /proc")
def test_matches_the_kernels_high_water_mark_and_sees_a_new_peak():
    assert peak_rss_mb() == pytest.approx(_status_mb("VmHWM"), abs=2)
    current = _status_mb("VmRSS")
    block = torch.ones(200 * 2**20 // 4)   # 200 MiB, written so it is resident
    assert peak_rss_mb() >= current + 190
    del block


def test_cpu_reports_rss_only():
    out = peak_memory(torch.device("cpu"))
    assert set(out) == {"peak_memory_mb"} and out["peak_memory_mb"] > 0
