"""One cgroup per sandboxed call, so the program and everything it forks share one
memory and process budget (rlimits bound each process alone).

cgroup v2 where gba's own cgroup may have children with the memory controller (a
delegated subtree, such as a systemd user scope); otherwise cgroup v1's memory and pids
hierarchies where they are writable (as root in most containers). Where neither is,
the call runs with the per-process limits only, and ``SandboxResult.isolation`` does not
name a cgroup.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_serial = itertools.count()


@dataclass
class CallGroup:
    """The cgroup directories made for one call (one per v1 hierarchy, one for v2)."""

    version: str
    dirs: list[Path] = field(default_factory=list)

    @property
    def procs(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of this call for memory."""
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):
                with contextlib.suppress(OSError, ValueError):
                    for line in (d / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
        return False

    def remove(self) -> None:
        """Remove the directories once the kernel has let their last process go."""
        deadline = time.monotonic() + 2.0
        for d in self.dirs:
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left for the sweep of a later call
                    time.sleep(0.02)


def _own(hierarchy: str) -> Path | None:
    """This process's cgroup in ``hierarchy`` ("" for v2, else a v1 controller)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (hierarchy == "" and controllers == "") or hierarchy in controllers.split(","):
            return Path(path.lstrip("/"))
    return None


def _sweep(parent: Path) -> None:
    """Remove empty call groups left by a gba that was killed before it could."""
    with contextlib.suppress(OSError):
        for d in parent.glob("gba-sandbox-*"):
            match = re.fullmatch(r"gba-sandbox-(\d+)-\d+", d.name)
            if match and not Path(f"/proc/{match.group(1)}").exists():
                with contextlib.suppress(OSError):
                    d.rmdir()


def _make(parent: Path, settings: dict[str, str]) -> Path | None:
    if not parent.is_dir():
        return None
    _sweep(parent)
    d = parent / f"gba-sandbox-{os.getpid()}-{next(_serial)}"
    try:
        d.mkdir()
    except OSError:
        return None
    try:
        for name, value in settings.items():
            path = d / name.rstrip("?")
            if name.endswith("?"):  # optional: a kernel without swap accounting lacks it
                with contextlib.suppress(OSError):
                    path.write_text(value)
            else:
                path.write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            d.rmdir()
        return None
    return d


def _v2(memory: int, processes: int) -> CallGroup | None:
    own = _own("")
    base = ROOT if (ROOT / "cgroup.controllers").exists() else None
    if own is None or base is None:
        return None
    # Only under gba's own cgroup: a group made beside it would escape the limits set
    # on gba's unit (a service's MemoryMax). v2 lets a cgroup with processes delegate no
    # controllers, so this works where gba runs in a delegated, otherwise empty subtree.
    parent = base / own
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    if "memory" not in enabled:
        return None
    settings = {"memory.max": str(memory), "memory.swap.max?": "0"}
    if "pids" in enabled:
        settings["pids.max"] = str(processes)
    d = _make(parent, settings)
    return CallGroup("cgroup-v2", [d]) if d else None


def _v1(memory: int, processes: int) -> CallGroup | None:
    group = CallGroup("cgroup-v1")
    limit = str(memory)
    memory_settings = {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes?": limit}
    for controller, settings in (
        ("memory", memory_settings),
        ("pids", {"pids.max": str(processes)}),
    ):
        own = _own(controller)
        d = _make(ROOT / controller / own, settings) if own is not None else None
        if d is None:
            if controller == "memory":
                return None
            continue
        group.dirs.append(d)
    return group


def call_group(memory_mb: int, processes: int) -> CallGroup | None:
    """A fresh cgroup bounding a call to ``memory_mb`` and ``processes``, or None where
    this machine lets gba make none."""
    memory = memory_mb * 2**20
    return _v2(memory, processes) or _v1(memory, processes)
