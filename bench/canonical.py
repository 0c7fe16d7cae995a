"""The one canonical encoding that spec hashes are taken over (a run spec's, a data spec's):
JSON with sorted keys, values JSON cannot hold written as text. Every stored key was hashed
this way, so it must not change."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, default=str).encode()


def short_hash(fields: dict[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(fields)).hexdigest()[:16]
