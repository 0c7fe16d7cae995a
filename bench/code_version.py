"""Which version of the training code made a record: a fingerprint of the source of the modules
a run's numbers depend on (the training loop and harness, data, backbones, selection, and the
method's own module with the suite's modules it imports: other methods, dfa's two-encoder
network, llc_guard's LLC and PGD). Before 2026-12-05 only imported *method* modules were
followed, so dfa and llc_guard records made earlier carry a fingerprint without
bench.two_encoders or bench.diagnostics, and a row pooling them with later seeds is listed as
mixed (docs/leaderboard.md).

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
import importlib.util
import pkgutil
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Callable

CORE_MODULES = ("bench.training", "bench.harness", "bench.method", "bench.data",
                "bench.evaluate", "bench.supervision", "bench.selection", "bench.bias_proxy",
                "bench.backbones", "bench.group_inference", "bench.robust_training",
                "bench.hparams", "bench.metrics")
DATA_PACKAGE = "bench.datasets"
_BENCH_IMPORT = re.compile(r"^from (bench(?:\.\w+)+) import|^import (bench(?:\.\w+)+)",
                           re.MULTILINE)
# Imported by every method to declare itself, not to compute: following them would move every
# method's fingerprint whenever a method is added.
DECLARATIONS = ("bench.registry", "bench.methods")


Reader = Callable[[str], "bytes | None"]    # module name -> its source (None: absent)


def _installed_source(module: str) -> bytes | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin).read_bytes() if spec is not None and spec.origin else None


def _installed_data_modules() -> list[str]:
    package = importlib.import_module(DATA_PACKAGE)
    return [f"{DATA_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]


def method_modules(method_module: str, read: Reader = _installed_source) -> list[str]:
    """The method's module and the suite's modules its source imports (one level), but for
    the declarations: the method modules it builds on (``ablate_texture`` uses
    ``greyscale``'s decolouring) and the model or training code it takes from elsewhere in
    the suite (``dfa``'s two-encoder network, ``llc_guard``'s LLC and PGD)."""
    text = (read(method_module) or b"").decode("utf-8", "replace")
    found = {a or b for a, b in _BENCH_IMPORT.findall(text)} - set(DECLARATIONS)
    return sorted({method_module} | found)


def fingerprint(method_module: str, read: Reader, data_modules: list[str]) -> str:
    """12 hex digits over the source of every module the run's numbers depend on; modules
    that do not exist (in an older version of the code) are skipped."""
    digest = hashlib.sha256()
    for module in sorted({*CORE_MODULES, *data_modules, *method_modules(method_module, read)}):
        source = read(module)
        if source is not None:
            digest.update(module.encode() + b"\0" + source + b"\0")
    return digest.hexdigest()[:12]


@lru_cache(maxsize=None)
def training_code_fingerprint(method_module: str) -> str:
    """The fingerprint of the code this process runs."""
    return fingerprint(method_module, _installed_source, _installed_data_modules())


# --- The same fingerprint of an older commit, from git (for records made before it existed) --

def module_path(module: str) -> str:
    """Repository path of a module: ``bench.methods.x`` lives in ``methods/x.py`` and
    ``bench.datasets.x`` in ``datasets/x.py`` (pyproject's package-dir)."""
    parts = module.split(".")
    if parts[:2] == ["bench", "methods"]:
        return "/".join(["methods", *parts[2:]]) + ".py"
    if parts[:2] == ["bench", "datasets"]:
        return "/".join(["datasets", *parts[2:]]) + ".py"
    return "/".join(parts) + ".py"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=30)


def fingerprint_at_commit(commit: str, method_module: str, repo: Path) -> str | None:
    """The fingerprint the code of ``commit`` had; None when git or the commit is missing."""
    listing = _git(repo, "ls-tree", "--name-only", commit, "datasets/")
    if listing.returncode != 0:
        return None
    data = [f"{DATA_PACKAGE}.{Path(p).stem}" for p in listing.stdout.decode().split()
            if p.endswith(".py") and not p.endswith("__init__.py")]

    def read(module: str) -> bytes | None:
        shown = _git(repo, "show", f"{commit}:{module_path(module)}")
        return shown.stdout if shown.returncode == 0 else None
    return fingerprint(method_module, read, data)
