"""Which version of the training code made a record: a fingerprint of the source of the modules
a run's numbers depend on (the training loop and harness, data, backbones, selection, and the
method's own module with the method modules it imports).

A leaderboard row pools seeds that may have been run at different commits; the row is one
experiment only if this code was the same for all of them. Commits alone cannot say so (most
commits change docs or pages), and a page must not need git to be rendered, so each record
carries the fingerprint (``versions["training_code"]``) and a row whose seeds disagree is
flagged. Modules that only report (CLI, leaderboard, explain, launchers, store) and the
diagnostics (they run after the model is fixed) are outside it.
"""
from __future__ import annotations

import hashlib
import importlib
import pkgutil
import re
from functools import lru_cache
from pathlib import Path

CORE_MODULES = ("bench.training", "bench.harness", "bench.method", "bench.data",
                "bench.evaluate", "bench.supervision", "bench.selection", "bench.bias_proxy",
                "bench.backbones", "bench.group_inference", "bench.hparams", "bench.metrics")
DATA_PACKAGE = "bench.datasets"
_METHOD_IMPORT = re.compile(r"^from bench\.methods\.(\w+) import|^import bench\.methods\.(\w+)",
                            re.MULTILINE)


def _source(module: str) -> bytes:
    return Path(importlib.import_module(module).__file__).read_bytes()


def _data_modules() -> list[str]:
    package = importlib.import_module(DATA_PACKAGE)
    return [f"{DATA_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]


def method_modules(method_module: str) -> list[str]:
    """The method's module and the built-in method modules its source imports (one level:
    ``groupdro`` uses ``group_balanced``'s weights)."""
    text = _source(method_module).decode("utf-8", "replace")
    found = {f"bench.methods.{a or b}" for a, b in _METHOD_IMPORT.findall(text)}
    return sorted({method_module} | found)


@lru_cache(maxsize=None)
def training_code_fingerprint(method_module: str) -> str:
    """12 hex digits over the source of every module the run's numbers depend on."""
    digest = hashlib.sha256()
    for module in sorted({*CORE_MODULES, *_data_modules(), *method_modules(method_module)}):
        digest.update(module.encode() + b"\0" + _source(module) + b"\0")
    return digest.hexdigest()[:12]
