"""What a model *is*, for cache keys and run identities: its spec plus the sha256 of the
files behind it.

A spec names a path, and a path can hold another adapter tomorrow: an adapter retrained
at the same path must not replay the old one's answers or pass for the old one's runs.
Digests are remembered per (path, size, mtime) so a file is read once per process while
it is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

_digests: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_digest(path: str | Path) -> str:
    """The sha256 of ``path``'s contents, read again only when its size or mtime changed."""
    resolved = os.path.realpath(path)
    info = os.stat(resolved)
    key = (resolved, info.st_size, info.st_mtime_ns)
    with _lock:
        if (known := _digests.get(key)) is not None:
            return known
    digest = hashlib.sha256()
    with open(resolved, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    with _lock:
        _digests[key] = digest.hexdigest()
    return _digests[key]


def model_identity(llm: Any) -> str:
    """The LLM's ``identity`` when its backend knows one (its files' digests), else its
    spec: what keys the call cache and tells runs apart."""
    identity = getattr(llm, "identity", None)
    return identity if isinstance(identity, str) and identity else str(llm.spec)
