"""The verifying IDX reader, on small synthetic files whose 'official' checksum the test derives."""
from __future__ import annotations

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

from bench.datasets.idx_files import IdxFile, OfficialFiles, fingerprint, locate, read_official
from bench.errors import DataError

FIX = "do the fix"


def _idx(dims: tuple[int, ...], body: bytes) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body


IMAGES = _idx((3, 2, 2), bytes(range(12)))
LABELS = _idx((3,), bytes([0, 1, 2]))
IMAGE_FILE = IdxFile("imgs-idx3-ubyte", (3, 2, 2), hashlib.sha256(IMAGES).hexdigest())
LABEL_FILE = IdxFile("lbls-idx1-ubyte", (3,), hashlib.sha256(LABELS).hexdigest(), classes=3)


def _read(path, expected=IMAGE_FILE, official=True):
    return read_official(path, expected, official, FIX)


def test_official_file_reads_raw_and_gzipped_alike(tmp_path):
    (tmp_path / "a").write_bytes(IMAGES)
    (tmp_path / "b.gz").write_bytes(gzip.compress(IMAGES))
    raw, packed = _read(tmp_path / "a"), _read(tmp_path / "b.gz")
    assert raw.sha256 == packed.sha256 == IMAGE_FILE.sha256
    assert np.array_equal(raw.array, np.arange(12, dtype=np.uint8).reshape(3, 2, 2))
    assert not raw.array.flags.writeable


def test_a_changed_byte_fails_the_checksum_with_the_file_the_expectation_and_the_fix(tmp_path):
    changed = bytearray(IMAGES)
    changed[-1] ^= 0xFF
    path = tmp_path / "imgs"
    path.write_bytes(bytes(changed))
    with pytest.raises(DataError) as info:
        _read(path)
    message = str(info.value)
    assert str(path) in message and IMAGE_FILE.sha256[:16] in message and FIX in message
    assert "\n" not in message
    assert _read(path, official=False).array[-1, -1, -1] == 11 ^ 0xFF   # allowed deliberately


@pytest.mark.parametrize("content, says", [
    (gzip.compress(IMAGES)[:-9], "not a complete gzip file"),
    (b"<html>404</html>", "not a complete gzip file"),
])
def test_a_broken_gzip_is_named(tmp_path, content, says):
    path = tmp_path / "imgs.gz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=says) as info:
        _read(path, official=False)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content, says", [
    (IMAGES[:-1], "11 bytes of data for the shape (3, 2, 2)"),
    (b"<html>404 not found</html>", "no IDX header"),
    (_idx((2, 3, 2), bytes(12)), "shape (2, 3, 2), expected N x 2 x 2"),
    (_idx((12,), bytes(12)), "shape (12,)"),
    (_idx((0, 2, 2), b""), "shape (0, 2, 2)"),
])
def test_format_and_shape_errors_name_the_file(tmp_path, content, says):
    path = tmp_path / "imgs"
    path.write_bytes(content)
    with pytest.raises(DataError, match=says.replace("(", r"\(").replace(")", r"\)")) as info:
        _read(path, official=False)
    assert str(path) in str(info.value)


def test_label_values_beyond_the_classes_are_named(tmp_path):
    path = tmp_path / "lbls"
    path.write_bytes(_idx((3,), bytes([0, 255, 2])))
    with pytest.raises(DataError, match="holds label 255; labels must be 0 to 2") as info:
        _read(path, LABEL_FILE, official=False)
    assert str(path) in str(info.value)
    path.write_bytes(LABELS)
    assert _read(path, LABEL_FILE).array.tolist() == [0, 1, 2]


def test_a_file_changed_in_place_is_read_again(tmp_path):
    path = tmp_path / "imgs"
    path.write_bytes(IMAGES)
    assert _read(path).sha256 == IMAGE_FILE.sha256
    changed = bytearray(IMAGES)
    changed[-1] ^= 1
    path.write_bytes(bytes(changed))
    os.utime(path, ns=(1, 1))            # a different mtime even on coarse-clock filesystems
    with pytest.raises(DataError, match="not the official"):
        _read(path)


def test_missing_and_unreadable_files(tmp_path):
    found, missing = locate(tmp_path, (IMAGE_FILE, LABEL_FILE))
    assert found == {} and missing == [IMAGE_FILE.name, LABEL_FILE.name]
    (tmp_path / f"{LABEL_FILE.name}.gz").write_bytes(gzip.compress(LABELS))
    (tmp_path / LABEL_FILE.name).write_bytes(LABELS)
    found, missing = locate(tmp_path, (IMAGE_FILE, LABEL_FILE))
    assert found == {LABEL_FILE.name: tmp_path / LABEL_FILE.name}   # uncompressed preferred
    assert missing == [IMAGE_FILE.name]
    with pytest.raises(DataError, match="cannot read"):
        _read(tmp_path / "nothing-here")


def test_fingerprint_is_order_free_and_content_sensitive():
    files = OfficialFiles("Toy", "Toy", (IMAGE_FILE, LABEL_FILE))
    assert files.fingerprint() == fingerprint({LABEL_FILE.name: LABEL_FILE.sha256,
                                               IMAGE_FILE.name: IMAGE_FILE.sha256})
    assert files.fingerprint() != fingerprint({LABEL_FILE.name: LABEL_FILE.sha256,
                                               IMAGE_FILE.name: LABEL_FILE.sha256})
