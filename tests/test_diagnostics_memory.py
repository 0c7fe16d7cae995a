import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.diagnostics.memory import peak_memory, peak_rss_mb

STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float:
    line = next(l for l in STATUS.read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024   # kB


# Run in a fresh process, and the block is sized past the process's old high-water mark: in
# the test session's process an earlier test may have raised the peak already, and "peak >=
# RSS + 190 MiB" then held whether or not the new block was seen.
SEES_A_NEW_PEAK = """
import numpy as np
from pathlib import Path
from bench.diagnostics.memory import peak_rss_mb
def status_mb(field):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines()
                if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024
before = peak_rss_mb()
extra = max(0.0, before - status_mb("VmRSS")) + 200
block = np.ones(int(extra * 2**20) // 8)          # written, so it is resident
after = peak_rss_mb()
assert after >= before + 190, (before, after)
print("ok", round(before), round(after))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not STATUS.exists(),
                    reason="needs /proc")
def test_matches_the_kernels_high_water_mark_and_sees_a_new_peak():
    assert peak_rss_mb() == pytest.approx(_status_mb("VmHWM"), abs=2)
    done = subprocess.run([sys.executable, "-c", SEES_A_NEW_PEAK], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-2000:]


def test_cpu_reports_rss_only():
    out = peak_memory(torch.device("cpu"))
    assert set(out) == {"peak_memory_mb"} and out["peak_memory_mb"] > 0
