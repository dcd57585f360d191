"""One process at a time per run: a lock file beside the runs database.

Two ``gba sim trajectories`` on the same run would both pick the same undone requests;
the second crashed on the primary key. The lock is ``flock``-based, so it goes away with
the process that held it, however that process ended.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gba_core.errors import ConfigError


def lock_path(db_path: Path, run_id: str) -> Path:
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:16]
    return db_path.with_name(f"{db_path.name}.run-{digest}.lock")


@contextmanager
def run_lock(db_path: Path, run_id: str, doing: str) -> Iterator[None]:
    """Hold the run's lock while ``doing`` it, or fail in one line naming the holder."""
    path = lock_path(db_path, run_id)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(
                f"run {run_id!r} is busy: {holder}; wait for it to finish, or use another --run"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} is {doing}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
