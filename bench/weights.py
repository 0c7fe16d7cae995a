"""Keeping a run's selected model so that ``bench explain`` can open it later.

One file per (spec, seed): ``<store folder>/<store name>.weights/<spec hash>/<seed>.pt``,
holding only tensors and strings, ``{"backbone": name, "state_dict": ..., "feature_mask":
tensor or None, "key": record key, "created_at": record time}``, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs on load). A model that masks pooled
units (a unit-ablation method) is saved as its backbone plus the mask and rebuilt as a
:class:`UnitMaskedNet`; DFA's two encoders are saved whole (``"composition": "two-encoders"``)
and rebuilt as a :class:`TwoEncoderNet` of two such backbones (or of the encoder it names,
``"encoder"``, when a run chose DFA's own encoder over the run's backbone).

Each store has its own folder because a rerun has the same key as the run it repeats: two
stores beside each other used to share ``<store folder>/weights/``, and a rerun into a second
store overwrote the first store's weights. The key and creation time inside the file let a
reader refuse weights that belong to another record of the same key. Weights written before
either change are still found in the shared ``weights/`` folder, unchecked.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from bench.backbones import UnitMaskedNet, build_backbone
from bench.errors import BenchError
from bench.record import RunRecord
from bench.two_encoders import TwoEncoderNet

WEIGHTS_SUFFIX = ".weights"
LEGACY_WEIGHTS_FOLDER = "weights"   # shared by every store in a folder, before per-store folders
TWO_ENCODERS = "two-encoders"


class WeightsMissing(BenchError):
    """The run kept no weights (or the file is gone or unreadable)."""


def split_wrapper(model: nn.Module) -> tuple[nn.Module, torch.Tensor | None]:
    """(backbone, feature mask or None)."""
    if isinstance(model, UnitMaskedNet):
        return model.base, model.feature_mask
    return model, None


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file's bytes (the zoo's manifest and external models name files so)."""
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_dir_for(store_path: Path | str) -> Path:
    """Where runs of this store keep their weights: ``results.sqlite`` -> ``results.weights/``."""
    store_path = Path(store_path)
    return store_path.parent / f"{store_path.stem}{WEIGHTS_SUFFIX}"


def legacy_weights_dir_for(store_path: Path | str) -> Path:
    return Path(store_path).parent / LEGACY_WEIGHTS_FOLDER


def find_weights(key: str, weights_dir: Path | str, legacy_dir: Path | str | None = None) -> Path:
    """The file for ``key`` in ``weights_dir``, else one in ``legacy_dir``, else the (missing)
    path in ``weights_dir``, so that an error names where the file should be."""
    own = weights_path(weights_dir, key)
    if legacy_dir is None or own.is_file():
        return own
    legacy = weights_path(legacy_dir, key)
    return legacy if legacy.is_file() else own


def kept_weights_path(store_path: Path | str, key: str) -> Path:
    """A store's file for ``key``: its own folder first, then the legacy shared one."""
    return find_weights(key, weights_dir_for(store_path), legacy_weights_dir_for(store_path))


def weights_path(weights_dir: Path | str, key: str) -> Path:
    """``key`` is a record key, ``<spec hash>/<seed>``."""
    spec_hash, seed = key.split("/")
    return Path(weights_dir) / spec_hash / f"{seed}.pt"


def save_model(model: nn.Module, backbone: str, path: Path | str,
               record: RunRecord | None = None) -> Path:
    """Writes atomically (temporary file, then rename): a reader never sees half a file.
    ``record``: the run these weights belong to; its key and creation time are stored so
    that :func:`load_model` can refuse them for another record."""
    base, mask = split_wrapper(model)
    payload = {"backbone": backbone,
               **({"composition": TWO_ENCODERS} if isinstance(base, TwoEncoderNet) else {}),
               **({"encoder": base.encoder} if getattr(base, "encoder", None) else {}),
               "state_dict": {k: v.detach().cpu().clone() for k, v in base.state_dict().items()},
               "feature_mask": None if mask is None else mask.detach().cpu().float().clone()}
    if record is not None:
        payload.update({"key": record.key, "created_at": record.created_at})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_model(path: Path | str, device: torch.device | str = "cpu",
               record: RunRecord | None = None) -> nn.Module:
    """Rebuilds the saved model in eval mode. Raises WeightsMissing (one line) when the
    file is absent or not a weights file, or, given ``record``, when the file names another
    run (files written before runs were stamped are accepted unchecked)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsMissing(f"no kept weights at {path}; rerun the run without "
                             f"--no-keep-weights (add --force to replace a stored seed)")
    try:
        with warnings.catch_warnings():   # torch warns about odd pickles: we refuse them
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
        model = _rebuild(payload)
        model.load_state_dict(payload["state_dict"])
    except Exception as exc:  # corrupt, truncated, or not ours (torch's text runs to lines)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        raise WeightsMissing(f"cannot read kept weights {path} ({reason}); rerun the run to "
                             f"write them again") from None
    stamp = (payload.get("key"), payload.get("created_at"))
    if record is not None and stamp[1] is not None and stamp != (record.key, record.created_at):
        raise WeightsMissing(f"kept weights {path} belong to the run of {stamp[0]} made at "
                             f"{stamp[1]}, not to this record (made at {record.created_at}); "
                             f"rerun it with --force to keep its own weights")
    if payload.get("feature_mask") is not None:
        model = UnitMaskedNet(model, payload["feature_mask"])
    return model.to(device).eval()


def _rebuild(payload: dict) -> nn.Module:
    """An untrained model of the saved architecture."""
    if payload.get("composition") == TWO_ENCODERS:
        classes = payload["state_dict"]["classifier.weight"].shape[0]
        encoder = payload.get("encoder") or payload["backbone"]
        return TwoEncoderNet(build_backbone(encoder, classes), build_backbone(encoder, classes),
                             classes, encoder=payload.get("encoder"))
    return build_backbone(payload["backbone"])


def keep_weights_hook(weights_dir: Path | str):
    """An ``after_fit`` hook that saves the selected model; it adds no metric."""
    def keep_weights(model, splits, ctx, record) -> dict[str, float]:
        save_model(model, record.spec.backbone, weights_path(weights_dir, record.key), record)
        return {}
    return keep_weights
