"""Peak memory of the run's process: RSS from the OS, and the CUDA allocator's peak."""
from __future__ import annotations

import resource
import sys

import torch


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_memory(device: torch.device) -> dict[str, float]:
    out = {"peak_memory_mb": peak_rss_mb()}
    if device.type == "cuda":
        out["peak_cuda_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out
