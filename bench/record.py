"""The run record: one typed, versioned row per (run spec, seed)."""
from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.canonical import short_hash

# 2: records name their primary selection rule and carry every rule's pick (``selection``).
SCHEMA_VERSION = 2
TRACKED_PACKAGES = ("lazy-artist-bench", "torch", "torchvision", "numpy", "scikit-learn",
                    "devinterp")


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run except its seed; hashed into the store key."""
    method: str
    hparams: dict[str, Any]
    data: dict[str, Any]          # the training dataset's data spec fields, seed excluded
    dataset: str = "colored"
    backbone: str = "baseline"
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. diagnostics settings
    # The method's frozen hyperparameters as bench.run_spec resolved them, so that nothing
    # downstream parses them again; None for a spec read back from the store. Not part of the
    # spec's fields, its hash or its equality: ``hparams`` says the same in stored form.
    typed_hparams: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        fields = dataclasses.asdict(dataclasses.replace(self, typed_hparams=None))
        del fields["typed_hparams"]
        return fields

    def hash(self) -> str:
        return short_hash(self.to_dict())

    def key(self, seed: int) -> str:
        return f"{self.hash()}/{seed}"


@dataclass
class RunRecord:
    spec: RunSpec
    seed: int
    status: str                          # "completed" or "failed"
    supervision: str
    metrics: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] | None = None
    error: str | None = None
    device: str = "cpu"
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(
        timespec="seconds"))
    schema_version: int = SCHEMA_VERSION
    id: int | None = None
    # diagnostic (or other after-fit step) -> its error, on a run whose fit completed
    diagnostic_errors: dict[str, str] = field(default_factory=dict)
    # The rule that chose the reported model (None: a record from before rules were named,
    # which used its supervision's default rule), and every rule's pick: rule -> {"epoch",
    # "score", "curve" (score per epoch), "metrics" (accuracies of the picked epoch)}. Empty
    # when the method's model is not chosen among epochs (e.g. dfr's refit last layer).
    selection_rule: str | None = None
    selection: dict[str, dict[str, Any]] = field(default_factory=dict)
    # diagnostic -> why it does not apply to this run's model (e.g. Grad-CAM on an MLP): a
    # note, not a failure
    diagnostic_notes: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.spec.key(self.seed)

    @property
    def source(self) -> str:
        return self.spec.data.get("source", "?")

    def to_json_dict(self) -> dict[str, Any]:
        """The public JSON shape (``bench results --format json``)."""
        return {"id": self.id, "key": self.key, "method": self.spec.method,
                "dataset": self.spec.dataset, "source": self.source, "seed": self.seed,
                "status": self.status, "supervision": self.supervision,
                "hparams": self.spec.hparams, "data": self.spec.data,
                "backbone": self.spec.backbone, "extras": self.spec.extras,
                "metrics": self.metrics, "confusion_conflicting": self.confusion,
                "error": self.error, "device": self.device, "versions": self.versions,
                "git_commit": self.git_commit, "created_at": self.created_at,
                "schema_version": self.schema_version,
                **({"diagnostic_errors": self.diagnostic_errors} if self.diagnostic_errors
                   else {}),
                **({"diagnostic_notes": self.diagnostic_notes} if self.diagnostic_notes
                   else {}),
                # absent from records made before rules were named, so their lines stay as
                # they were written
                **({"selection_rule": self.selection_rule, "selection": self.selection}
                   if self.selection_rule is not None else {})}

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> "RunRecord":
        if d.get("schema_version", 0) > SCHEMA_VERSION:
            raise ValueError(f"record schema {d['schema_version']} is newer than this "
                             f"bench ({SCHEMA_VERSION}); upgrade lazy-artist-bench")
        spec = RunSpec(d["method"], d["hparams"], d["data"], d["dataset"], d["backbone"],
                       d.get("extras", {}))
        return cls(spec, d["seed"], d["status"], d["supervision"], d["metrics"],
                   d.get("confusion_conflicting"), d.get("error"), d.get("device", "cpu"),
                   d.get("versions", {}), d.get("git_commit"), d["created_at"],
                   d["schema_version"], d.get("id"), dict(d.get("diagnostic_errors") or {}),
                   d.get("selection_rule"), dict(d.get("selection") or {}),
                   dict(d.get("diagnostic_notes") or {}))


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    """The commit of the bench checkout when it is a git repository, else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
