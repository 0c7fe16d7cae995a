"""The training-code fingerprint: the same for the installed code and for its commit in git,
and it moves when a module on the training path moves, not when another one does."""
import subprocess
from pathlib import Path

import pytest

from bench import code_version
from bench.code_version import (fingerprint, fingerprint_at_commit, method_modules,
                                module_path, training_code_fingerprint)

REPO = Path(__file__).resolve().parents[1]


def _git_ok() -> bool:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                          capture_output=True).returncode == 0


def test_modules_map_to_the_repository_layout():
    assert module_path("bench.methods.jtt") == "methods/jtt.py"
    assert module_path("bench.datasets.colored_mnist") == "datasets/colored_mnist.py"
    assert module_path("bench.training") == "bench/training.py"


def test_a_method_brings_the_method_modules_it_imports():
    assert "bench.methods.greyscale" in method_modules("bench.methods.ablate_texture")
    assert "bench.methods.jtt" not in method_modules("bench.methods.erm")


def test_a_method_brings_the_suite_code_it_takes_but_not_the_declarations():
    """dfa's network lives in bench.two_encoders, llc_guard's LLC in bench.diagnostics: a
    change there changes those methods' numbers, so it must move their fingerprints."""
    assert "bench.two_encoders" in method_modules("bench.methods.dfa")
    assert "bench.diagnostics.llc" in method_modules("bench.methods.llc_guard")
    source = {"bench.methods.x": b"from bench.registry import METHODS\n"
                                 b"from bench.methods import helpers\n"
                                 b"import bench.two_encoders\n"
                                 b"from bench.diagnostics.pgd import attack\n"
                                 b"    from bench.store import inner  # indented: not at top\n"}
    assert method_modules("bench.methods.x", source.get) == [
        "bench.diagnostics.pgd", "bench.methods.x", "bench.two_encoders"]


def test_the_fingerprint_moves_with_the_training_path_only():
    sources = {m: f"source of {m}".encode() for m in code_version.CORE_MODULES}
    sources["bench.methods.erm"] = b"erm"
    base = fingerprint("bench.methods.erm", sources.get, [])
    changed = dict(sources, **{"bench.training": b"another loop"})
    assert fingerprint("bench.methods.erm", changed.get, []) != base
    unrelated = dict(sources, **{"bench.store": b"another store"})
    assert fingerprint("bench.methods.erm", unrelated.get, []) == base
    other_method = dict(sources, **{"bench.methods.jtt": b"jtt"})
    assert fingerprint("bench.methods.erm", other_method.get, []) == base
    sources["bench.methods.dfa"] = b"from bench.two_encoders import TwoEncoderNet\n"
    dfa = fingerprint("bench.methods.dfa", sources.get, [])
    network = dict(sources, **{"bench.two_encoders": b"another network"})
    assert fingerprint("bench.methods.dfa", network.get, []) != dfa
    assert fingerprint("bench.methods.erm", network.get, []) == base
    registry = dict(sources, **{"bench.registry": b"one more method"})
    assert fingerprint("bench.methods.dfa", registry.get, []) == dfa


@pytest.mark.skipif(not _git_ok(), reason="needs this repository's git history")
def test_git_gives_the_installed_code_s_fingerprint_for_a_clean_tree():
    paths = [module_path(m) for m in code_version.CORE_MODULES] + [
        "datasets/", "methods/", "bench/two_encoders.py", "bench/diagnostics/"]
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", *paths],
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        pytest.skip("the training path has uncommitted changes")
    for method in ("bench.methods.erm", "bench.methods.groupdro", "bench.methods.dfa",
                   "bench.methods.llc_guard"):
        assert fingerprint_at_commit("HEAD", method, REPO) == \
            training_code_fingerprint(method)


def test_a_missing_commit_has_no_fingerprint():
    assert fingerprint_at_commit("0" * 40, "bench.methods.erm", REPO) is None
