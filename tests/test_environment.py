"""bench.environment: what every record says about the machine and the torch build."""
from __future__ import annotations

import torch

from bench.environment import build_summary, cpu_model, onednn_isa_cap, runtime_environment

MKL_BUILD = """PyTorch built with:
  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64 architecture applications
  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71049cd69a3df32adcccb623b12cd7baa22)
  - OpenMP 201511 (a.k.a. OpenMP 4.5)
  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, LAPACK_INFO=mkl,
"""
OPENBLAS_BUILD = """PyTorch built with:
  - Arm Compute Library 24.0
  - OpenMP 201511 (a.k.a. OpenMP 4.5)
  - Build settings: BLAS_INFO=open, LAPACK_INFO=open, USE_OPENBLAS=1,
"""


def test_build_summary_names_blas_onednn_and_openmp():
    assert build_summary(MKL_BUILD) == {
        "torch_blas": "mkl", "torch_blas_library": "2024.2-Product Build 20240605",
        "torch_onednn": "v3.12.0", "torch_openmp": "201511"}
    assert build_summary(OPENBLAS_BUILD) == {"torch_blas": "open",
                                             "torch_blas_library": "OpenBLAS",
                                             "torch_openmp": "201511"}


def test_cpu_model_reads_cpuinfo_and_falls_back(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9654 96-Core Processor\n")
    assert cpu_model(info) == "AMD EPYC 9654 96-Core Processor"
    assert cpu_model(tmp_path / "missing")   # platform's answer, never empty or an error


def test_runtime_environment_tracks_the_thread_count():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        env = runtime_environment()
        assert env["torch_num_threads"] == "1"
        assert {"cpu_model", "torch_cpu_capability", "torch_git", "torch_blas"} <= set(env)
    finally:
        torch.set_num_threads(threads)


def test_onednn_isa_cap_is_recorded_only_when_set():
    assert onednn_isa_cap({}) == {}
    assert onednn_isa_cap({"ONEDNN_MAX_CPU_ISA": ""}) == {}
    assert onednn_isa_cap({"ONEDNN_MAX_CPU_ISA": "AVX2"}) == {"onednn_max_cpu_isa": "AVX2"}
    assert onednn_isa_cap({"DNNL_MAX_CPU_ISA": "AVX512_CORE"}) == {
        "onednn_max_cpu_isa": "AVX512_CORE"}
