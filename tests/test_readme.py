"""The README's example method really runs, and its two set-up commands match CI."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import bench.registry
from bench.registry import Registry
from tests.conftest import make_context

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_method_example_registers_and_fits(tiny_splits, monkeypatch):
    fresh = Registry("method")
    monkeypatch.setattr(bench.registry, "METHODS", fresh)
    (code,) = _python_blocks(README.read_text())
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    cls = fresh.get("label-smoothing")
    method = cls(cls.Hparams(epochs=1, batch_size=64))
    fit = method.fit(make_context(tiny_splits, limit=256))
    assert fit.model(make_context(tiny_splits).val.images[:5]).shape == (5, 10)


def test_ci_runs_the_readme_test_command():
    readme = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest -q' in readme
    assert "python -m pytest -q" in ci and '-e ".[test]"' in ci


def test_getting_started_gives_the_readme_main_job():
    """The docs' quick start is the README's (once ERM there, JTT here: they drifted apart)."""
    readme = README.read_text()
    guide = (README.parent / "docs" / "getting-started.md").read_text()
    main_job = re.search(r"pip install -e \. && (bench run [^#\n]*?)\s+#", readme).group(1)
    assert re.search(rf"^{re.escape(main_job)}\s+#", guide, re.M), main_job
