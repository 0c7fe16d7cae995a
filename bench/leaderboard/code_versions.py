"""Is a row one experiment? Each seed's training-code fingerprint (:mod:`bench.code_version`).

Records made since the fingerprint exists carry it (``versions["training_code"]``). For older
ones, ``bench leaderboard --export`` computes it from git (the same modules at the record's
commit) into ``<records>/code-versions.json``, committed beside the records, so that a page
can say which rows mix code versions without needing git itself.
"""
from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

from bench.escape import markdown_text
from bench.record import RunRecord

CODE_VERSIONS_FILE = "code-versions.json"


def load(records_dir: Path) -> dict[str, dict[str, str]]:
    """commit -> method -> fingerprint, from the committed file (empty when absent)."""
    path = Path(records_dir) / CODE_VERSIONS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def fingerprint_of(record: RunRecord, known: dict[str, dict[str, str]]) -> str | None:
    return record.versions.get("training_code") or \
        known.get(record.git_commit or "", {}).get(record.spec.method)


def _method_module(method: str) -> str | None:
    from bench.registry import METHODS, RegistryError
    try:
        return METHODS.get(method).__module__
    except RegistryError:
        return None


def repository_root(start: Path) -> Path | None:
    out = subprocess.run(["git", "-C", str(start), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, timeout=10)
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def update(records: list[RunRecord], records_dir: Path) -> Path | None:
    """Adds to ``code-versions.json`` the fingerprint of every (commit, method) of ``records``
    that carry none; returns the file when it changed. Needs the records' commits in this
    clone's git history (a fingerprint that cannot be computed is left out)."""
    from bench.code_version import fingerprint_at_commit
    repo = repository_root(Path(records_dir).resolve())
    known = load(records_dir)
    if repo is None:
        return None
    changed = False
    for rec in records:
        commit, method = rec.git_commit, rec.spec.method
        if not commit or rec.versions.get("training_code") or method in known.get(commit, {}):
            continue
        module = _method_module(method)
        value = fingerprint_at_commit(commit, module, repo) if module else None
        if value is not None:
            known.setdefault(commit, {})[method] = value
            changed = True
    if not changed:
        return None
    path = Path(records_dir) / CODE_VERSIONS_FILE
    ordered = {c: dict(sorted(m.items())) for c, m in sorted(known.items())}
    path.write_text(json.dumps(ordered, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def code_version_lines(rows, known: dict[str, dict[str, str]]) -> list[str]:
    """Markdown lines naming every row whose seeds ran more than one version of the training
    code, or a version that cannot be told; nothing when every row is one version."""
    notes = []
    for row in rows:
        versions: dict[str | None, list[RunRecord]] = defaultdict(list)
        for rec in row.records:
            versions[fingerprint_of(rec, known)].append(rec)
        if len(versions) == 1 and None not in versions:
            continue
        parts = []
        for value, recs in sorted(versions.items(), key=lambda kv: min(r.seed for r in kv[1])):
            seeds = ", ".join(str(r.seed) for r in recs)
            commits = ", ".join(sorted({(r.git_commit or "unknown")[:7] for r in recs}))
            name = f"`{markdown_text(value[:8])}`" if value else "unknown"   # record text
            parts.append(f"{name} (seeds {seeds}; commits {commits})")
        notes.append(f"- `{row.label}`: " + "; ".join(parts) + ".")
    if not notes:
        return []
    return ["## Code versions", "",
            "A row pools its seeds as one experiment only if they ran the same training code "
            "(the training loop, harness, data, backbones, selection and the method's own "
            "module: bench/code_version.py). These rows did not, or cannot be checked (a "
            "commit missing from the history the fingerprints were computed from); compare "
            "them with care or rerun them:", "", *notes, ""]
