"""Image sources: where the grey 28 x 28 images (and their class labels) of a dataset come from.

A source is registered in ``SOURCES`` under the name runs record (``--source``). Most sources
are an :class:`OfficialSource`: a set of official IDX files (``idx_files.OfficialFiles``) with
their class names and the places searched when no root is given (the MNIST shipped inside the
package; a system package such as Debian's ``dataset-fashion-mnist``). Every file is verified
against the official checksums; a copy that differs is an error unless it is allowed
deliberately, and then its source is ``<name>@unofficial-<fingerprint>``, so its runs and
caches are never mixed with the official ones.

Where a run reads its files: ``--data-root`` (or ``$BENCH_DATA_ROOT``) when given, in
torchvision's layout (``<root>/<folder>/raw/``) or as the folder of the files itself; never a
silent fallback from a named root. Without one, the source's fallback folders, in order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.errors import DataError
from bench.registry import SOURCES, Registry
from bench.datasets.idx_files import (UNOFFICIAL_FLAG, OfficialFiles, fingerprint, locate,
                                      read_official)

UNOFFICIAL = "@unofficial-"   # source "<name>@unofficial-<first 12 hex of the fingerprint>"


@dataclass(frozen=True)
class Digits:
    """Grey images of one source: uint8 images (N, 28, 28) and int64 class labels (N,).
    (Named for the first source; Fashion-MNIST's garments are held the same way.)"""
    images: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True)
class DigitSet:
    source: str
    train: Digits
    test: Digits
    fingerprint: str = ""   # SHA-256 over the files' contents: what the split cache is keyed by


@dataclass(frozen=True)
class FoundCopy:
    """Where a run's files are, and how a user named that place (for messages)."""
    raw: Path
    origin: str            # "--data-root /x", "$BENCH_DATA_ROOT=/x" or the fallback's name
    fallback: bool         # found without a root being named


def given_data_root(data_root: Path | None) -> tuple[Path, str] | None:
    """The root the user named (flag first, then environment), or None."""
    if data_root is not None:
        return Path(data_root), f"--data-root {data_root}"
    env = os.environ.get("BENCH_DATA_ROOT")
    return (Path(env), f"$BENCH_DATA_ROOT={env}") if env else None


@dataclass(frozen=True)
class OfficialSource:
    """A source read from official IDX files (train-* and t10k-* images and labels).

    ``fallbacks``: folders holding the files, searched in order when no root is named (a test
    passes its own); ``fallback_name`` says what they are in messages ("the MNIST shipped with
    the suite"); ``damaged_fix`` is the advice when a fallback copy fails its checksums.
    """
    name: str
    files: OfficialFiles
    classes: tuple[str, ...]
    fallbacks: tuple[Path, ...] = ()
    fallback_name: str = ""
    damaged_fix: str = ""
    not_found: str = ""   # the error when no root is named and no fallback holds the files

    def __call__(self, data_root: Path | None = None) -> DigitSet:
        return self.load(data_root)

    @property
    def _without_root(self) -> str:
        if self.fallback_name:
            return f"leave the option out to use {self.fallback_name}"
        return f"see docs/datasets.md for where to get {self.files.dataset}"

    def find(self, data_root: Path | None) -> FoundCopy | None:
        """The copy a run reads: a named root must hold the files (never a silent fallback,
        and no folder is created there); without one, the first complete fallback, or None."""
        given = given_data_root(data_root)
        if given is None:
            for raw in self.fallbacks:
                found, missing = locate(raw, self.files.files)
                if not missing:
                    return FoundCopy(raw, self.fallback_name or str(raw), True)
            return None
        root, origin = given
        folder = self.files.folder
        first = self.files.files[0].name
        if not root.is_dir():
            raise DataError(f"{origin}: no such folder; give the folder that holds {folder}/raw/, "
                            f"or {self._without_root}")
        for raw in (root / folder / "raw", root):
            found, missing = locate(raw, self.files.files)
            if found and missing:
                raise DataError(f"{origin}: {raw} lacks {', '.join(missing)} (nor .gz); copy the "
                                f"official {self.files.dataset} files there, or "
                                f"{self._without_root}")
            if found:
                return FoundCopy(raw, origin, False)
        raise DataError(f"{origin} holds no {self.files.dataset} (looked for {root / folder / 'raw'}/"
                        f"{first}[.gz] and in {root} itself); fix the path, or {self._without_root}")

    def _fix(self, copy: FoundCopy) -> str:
        if copy.fallback:
            return self.damaged_fix or (f"replace it with the official file, or point "
                                        f"--data-root at an official copy")
        drop = "unset $BENCH_DATA_ROOT" if copy.origin.startswith("$") else "leave out --data-root"
        instead = f" to use {self.fallback_name}" if self.fallback_name else ""
        return (f"replace it with the official file, {drop}{instead}, or pass "
                f"{UNOFFICIAL_FLAG} to use this copy deliberately")

    def load(self, data_root: Path | None = None, allowed: str = "official") -> DigitSet:
        """``allowed``: "official" (checksums must match), "any" (a deliberate copy, checked
        for format only), or the fingerprint prefix a run was recorded with (that copy only)."""
        copy = self.find(data_root)
        if copy is None and self.not_found:
            raise DataError(self.not_found)
        if copy is None:
            where = ", ".join(str(p) for p in self.fallbacks) or "nowhere by default"
            raise DataError(f"no {self.files.dataset} found (looked in {where}) and no "
                            f"--data-root was given; pass --data-root with the folder that "
                            f"holds {self.files.folder}/raw/ (docs/datasets.md)")
        found, _ = locate(copy.raw, self.files.files)
        official = allowed == "official"
        fix = self._fix(copy)
        arrays = {f.name: read_official(found[f.name], f, official, fix) for f in self.files.files}
        digest = fingerprint({name: a.sha256 for name, a in arrays.items()})
        if allowed not in ("official", "any") and not digest.startswith(allowed):
            raise DataError(f"the {self.files.dataset} at {copy.raw} (fingerprint {digest[:12]}) "
                            f"is not the copy this run was made with ({allowed}); point "
                            f"--data-root at that copy")
        train = _pair(arrays, "train", copy.raw)
        test = _pair(arrays, "t10k", copy.raw)
        official_copy = digest == self.files.fingerprint()
        source = self.name if official_copy else f"{self.name}{UNOFFICIAL}{digest[:12]}"
        return DigitSet(source, train, test, digest)


def _pair(arrays: dict, prefix: str, raw: Path) -> Digits:
    images = arrays[f"{prefix}-images-idx3-ubyte"].array
    labels = arrays[f"{prefix}-labels-idx1-ubyte"].array
    if len(images) != len(labels):
        raise DataError(f"{raw}: {prefix}-images-idx3-ubyte holds {len(images)} images but "
                        f"{prefix}-labels-idx1-ubyte {len(labels)} labels; replace them with the "
                        f"official files")
    return Digits(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def verify_source(name: str, data_root: Path | None, allow_unofficial: bool = False,
                  sources: Registry = SOURCES) -> str:
    """The concrete source a run records: official files verified now (so a bad copy stops
    the run before anything starts), ``<name>@unofficial-<fingerprint>`` for a copy allowed
    deliberately. Other sources are checked by name and returned."""
    source = sources.get(name)
    if not isinstance(source, OfficialSource):
        return name
    return source.load(data_root, "any" if allow_unofficial else "official").source


def load_source(name: str, data_root: Path | None = None, sources: Registry = SOURCES
                ) -> DigitSet:
    """The images of a resolved source; ``<name>@unofficial-X`` reads only that copy."""
    base, _, copy = name.partition(UNOFFICIAL)
    source = sources.get(base)
    if copy and isinstance(source, OfficialSource):
        return source.load(data_root, copy)
    return source(data_root)


def source_classes(name: str, sources: Registry = SOURCES) -> tuple[str, ...]:
    """The class names of a (resolved) source."""
    return sources.get(name.partition(UNOFFICIAL)[0]).classes
