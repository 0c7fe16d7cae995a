"""Official IDX files (MNIST's format) and a reader that trusts no byte it has not verified.

A dataset family declares its official files once, as an :class:`OfficialFiles` (a folder in
torchvision's layout, ``<root>/<folder>/raw/``, and one :class:`IdxFile` per file with the
SHA-256 of its uncompressed content), and reads them with :func:`read_official`. Hashing the
uncompressed content lets the same checksum cover a file stored as is or gzipped. Every
failure (missing, unreadable, truncated gzip, checksum, header, shape, label values) is a
:class:`DataError` of one line that names the file and the fix.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import DataError

UNOFFICIAL_FLAG = "--allow-unofficial-data"


@dataclass(frozen=True)
class IdxFile:
    name: str                  # stored as ``name`` or ``name.gz``
    shape: tuple[int, ...]     # of the official file; a deliberate copy may differ in rows only
    sha256: str                # of the uncompressed official content
    classes: int | None = None  # label files: every value must be below this


@dataclass(frozen=True)
class OfficialFiles:
    dataset: str               # as the user knows it, for messages: "MNIST"
    folder: str                # ``<root>/<folder>/raw/`` holds the files
    files: tuple[IdxFile, ...]

    def fingerprint(self) -> str:
        """The content fingerprint of the official copy (see :func:`fingerprint`)."""
        return fingerprint({f.name: f.sha256 for f in self.files})


@dataclass(frozen=True)
class VerifiedArray:
    array: np.ndarray          # read-only
    sha256: str                # of the uncompressed content
    path: Path


def fingerprint(digests: dict[str, str]) -> str:
    """One digest for a set of files: what a split cache and a run spec are keyed by."""
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(digests.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def locate(raw: Path, files: tuple[IdxFile, ...]) -> tuple[dict[str, Path], list[str]]:
    """Each file's path (uncompressed preferred: faster), and the names found in neither form."""
    found, missing = {}, []
    for f in files:
        for candidate in (raw / f.name, raw / (f.name + ".gz")):
            if candidate.is_file():
                found[f.name] = candidate
                break
        else:
            missing.append(f.name)
    return found, missing


def read_official(path: Path, expected: IdxFile, official: bool, fix: str) -> VerifiedArray:
    """Reads one IDX file. ``official``: its content must match the official checksum;
    otherwise only its format, shape and label values are checked (a deliberate copy).
    ``fix`` is the advice appended to a checksum error. Repeated reads of an unchanged file in
    one process are served from memory (keyed by path, size, mtime and inode)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror})") from None
    return _read(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, expected, official, fix)


@functools.lru_cache(maxsize=8)   # two copies of four files
def _read(path_text: str, size: int, mtime_ns: int, inode: int, expected: IdxFile,
          official: bool, fix: str) -> VerifiedArray:
    path = Path(path_text)
    content = _content(path)
    digest = hashlib.sha256(content).hexdigest()
    if official and digest != expected.sha256:
        raise DataError(f"{path} is not the official {expected.name}: its content has SHA-256 "
                        f"{digest[:16]}…, expected {expected.sha256[:16]}…; {fix}")
    array = _parse(content, path)
    _check_shape(array, expected, path)
    if expected.classes is not None and array.size and int(array.max()) >= expected.classes:
        raise DataError(f"{path} holds label {int(array.max())}; labels must be 0 to "
                        f"{expected.classes - 1}: replace it with the official file")
    array.flags.writeable = False
    return VerifiedArray(array, digest, path)


def _content(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror})") from None
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a complete gzip file ({exc}); replace it with the "
                        f"official file, or delete it if the uncompressed file is beside it")


def _parse(content: bytes, path: Path) -> np.ndarray:
    """The IDX format: 0, 0, type 0x08 (unsigned byte), number of dimensions, big-endian sizes."""
    problem = None
    if len(content) < 4 or content[:3] != b"\x00\x00\x08":
        problem = "no IDX header of unsigned bytes (magic number 0x0000080N)"
    else:
        dims = content[3]
        header = 4 + 4 * dims
        shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
        body = len(content) - header
        if body < 0 or body != int(np.prod(shape, dtype=np.int64)):
            problem = f"{max(body, 0)} bytes of data for the shape {shape} in its header"
    if problem:
        raise DataError(f"{path} is corrupt ({problem}); replace it with the official file")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def _check_shape(array: np.ndarray, expected: IdxFile, path: Path) -> None:
    if array.ndim != len(expected.shape) or array.shape[1:] != expected.shape[1:] \
            or len(array) == 0:
        wanted = " x ".join(["N", *map(str, expected.shape[1:])])
        raise DataError(f"{path} has shape {tuple(array.shape)}, expected {wanted} (N > 0); "
                        f"replace it with the official file")
