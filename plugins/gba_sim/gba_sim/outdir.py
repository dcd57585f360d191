"""Output folders written whole or not at all (``gba sim package``, ``package-roles``).

A dataset is written into a temporary folder beside ``--out`` and renamed into place at
the end, so a killed command leaves the old dataset as it was, never new JSONL files
beside old arrow files and an old report.json.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gba_core.errors import ConfigError


def check_out(out: Path, *, overwrite: bool) -> None:
    """Refuse ``out`` when it is a file, or a non-empty folder without ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {out} is not empty; pass --overwrite to replace it")


@contextmanager
def replacing(out: Path, *, overwrite: bool) -> Iterator[Path]:
    """A fresh folder to write into; when the block ends without an error it becomes
    ``out`` (an old ``out`` is removed only then). An error removes it instead; a killed
    process leaves it beside ``out`` as ``.<name>.*``."""
    check_out(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    work.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
