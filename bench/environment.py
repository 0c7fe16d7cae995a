"""What a CPU result depends on besides the code and the seed, recorded with every run.

PyTorch's CPU kernels are chosen at run time from the processor's instruction set (AVX2,
AVX-512, ...), the BLAS library (MKL, OpenBLAS) and oneDNN, and the thread count splits the
reductions differently. Two runs of the same seed are bit-identical only when all of these
match (docs/reproducibility.md has the measurements), so every record names them.
"""
from __future__ import annotations

import os
import platform
import re
from functools import lru_cache
from pathlib import Path

import torch


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name (Linux), else what the platform module reports."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def build_summary(config: str) -> dict[str, str]:
    """BLAS, oneDNN and OpenMP lines of ``torch.__config__.show()``, one short string each."""
    out: dict[str, str] = {}
    blas = re.search(r"BLAS_INFO=([^,\s]+)", config)
    if blas:
        out["torch_blas"] = blas.group(1)
    for key, pattern in (("torch_blas_library", r"Math Kernel Library Version ([^\n]+?)(?: for|\n)"),
                         ("torch_onednn", r"MKL-DNN (v[\d.]+)"),
                         ("torch_openmp", r"OpenMP (\d+)")):
        match = re.search(pattern, config)
        if match:
            out[key] = match.group(1).strip()
    if "torch_blas_library" not in out and (out.get("torch_blas") == "open"
                                            or "OpenBLAS" in config):
        out["torch_blas_library"] = "OpenBLAS"
    return out


# oneDNN reads either name; a cap changes which convolution kernels run, and torch cannot be
# asked which oneDNN picked, so the variable itself is the record.
ONEDNN_ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


def onednn_isa_cap(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``{"onednn_max_cpu_isa": value}`` when the process caps oneDNN's instruction set, else
    ``{}``: absent rather than "default", so records made before this key existed still
    compare as equal conditions with an uncapped rerun."""
    environ = os.environ if environ is None else environ
    for name in ONEDNN_ISA_VARIABLES:
        if environ.get(name):
            return {"onednn_max_cpu_isa": environ[name]}
    return {}


@lru_cache(maxsize=1)
def _static_environment() -> dict[str, str]:
    env = {"cpu_model": cpu_model(), "platform": platform.platform(),
           "torch_git": torch.version.git_version or "unknown",
           "torch_cuda": torch.version.cuda or "none",
           "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}
    env.update(build_summary(torch.__config__.show()))
    env.update(onednn_isa_cap())
    return env


def runtime_environment() -> dict[str, str]:
    """Everything above plus the current torch thread count (it can change between runs)."""
    return {**_static_environment(), "torch_num_threads": str(torch.get_num_threads())}
