"""Run code and shell commands written by a model outside gba's process, with limits.

``run_python(code)`` and ``run_shell(command)`` start a child process through
``_sandbox_child.py``, which confines it before it runs anything: an empty environment,
a fresh temporary working directory, limits on CPU seconds, address space, processes,
file size and open files, a wall-clock timeout, capped output, and, where the kernel
allows (Linux namespaces; as root or with unprivileged user namespaces), no network, a
private read-only root that shows only system programs, libraries and Python
(``_sandbox_root.py``) with a size-limited tmpfs to write in, and a PID namespace so
nothing the program starts outlives it. Where a cgroup can be made
(``sandbox_cgroup.py``), the whole call shares one memory and process budget. The
sandbox dies with gba however gba ends (``PR_SET_PDEATHSIG`` on its launcher and on the
namespace's init), and ends itself a few seconds after its wall limit if gba is not
there to stop it. When started as root
the program runs as the unprivileged user ``nobody``. ``SandboxResult.isolation`` lists
what applied.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from gba_core.errors import SettingError
from gba_core.sandbox_cgroup import call_group

CHILD = Path(__file__).with_name("_sandbox_child.py")


class SandboxUnavailableError(RuntimeError):
    """The isolation gba requires for model-written code is not available here."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed call may use. These are the defaults; plugins read their
    users' values into it (``sandbox_*`` settings, ``config.load_settings``)."""

    cpu_seconds: int = 10
    wall_seconds: float = 20.0
    memory_mb: int = 512
    processes: int = 32
    file_size_mb: int = 16
    # The whole call's writable space (a tmpfs): bytes and files, all files together.
    disk_mb: int = 64
    inodes: int = 4096
    open_files: int = 64
    output_bytes: int = 16_000
    # Decided per call by the code that runs it, never by a setting.
    network: bool = field(default=False, metadata={"setting": False})
    # Run even where namespaces are unavailable (limits, empty env and work dir only).
    allow_weak_isolation: bool = False

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, bool) and value <= 0:
                raise SettingError(name, f"must be more than 0, got {value!r}")


@dataclass
class SandboxResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    seconds: float = 0.0
    isolation: list[str] = field(default_factory=list)
    missing_isolation: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    out_of_memory: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe_failure(self) -> str:
        """A short reason a planner can act on."""
        if self.timed_out:
            return "it was stopped after the time limit"
        if self.out_of_memory:
            return "it ran out of memory"
        if self.returncode is not None and self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            reason = {
                "SIGXCPU": "it used up its CPU time",
                "SIGKILL": "it was killed",
                "SIGXFSZ": "it wrote a file over the size limit",
            }.get(name, name)
            return reason
        last = (self.stderr.strip().splitlines() or [f"exit status {self.returncode}"])[-1]
        return last[:300]


class _Capped:
    """Reads a pipe to the end, keeping at most ``limit`` bytes (so a program printing
    gigabytes cannot fill gba's memory)."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        self.data = bytearray()
        self.dropped = 0
        self._thread = threading.Thread(target=self._read, args=(pipe, limit), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[bytes], limit: int) -> None:
        while chunk := pipe.read(65536):
            room = limit - len(self.data)
            self.data += chunk[: max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)
        pipe.close()

    def text(self, timeout: float) -> str:
        self._thread.join(timeout)
        return self.data.decode("utf-8", "replace")


def run(
    argv: list[str],
    *,
    limits: Limits | None = None,
    files: dict[str, str] | None = None,
    collect: tuple[str, ...] = (),
    stdin: str = "",
) -> SandboxResult:
    """Run ``argv`` confined in a fresh working directory holding ``files``; return its
    output and the contents of the ``collect`` files it left (at most 1 MB each)."""
    limits = limits or Limits()
    _sweep_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"gba-sandbox-{os.getpid()}-"))
    # Held for the whole call: a sweep by another gba (another PID namespace sharing
    # /tmp, where this pid means nothing) leaves a locked dir alone.
    held = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    group = None
    try:
        for name, content in (files or {}).items():
            (workdir / name).write_text(content)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
        }
        config = {
            "workdir": str(workdir),
            "limits": asdict(limits),
            "network": limits.network,
            "env": env,
            "python_home": sys.base_prefix,
            "python_bin": os.path.relpath(_base_python(), sys.base_prefix),
            "allow_weak": limits.allow_weak_isolation,
            "parent_pid": os.getpid(),
            "collect": list(collect),
        }
        group = call_group(limits.memory_mb, limits.processes)
        if group:
            config["cgroup"] = {"name": group.version, "procs": group.procs}
        report_read, report_write = os.pipe()
        config["report_fd"] = report_write
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(CHILD), json.dumps(config), *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env={},
                start_new_session=True,
                pass_fds=(report_write,),
            )
        finally:
            os.close(report_write)
        report = _Capped(os.fdopen(report_read, "rb"), 4096)
        out = _Capped(proc.stdout, limits.output_bytes)  # type: ignore[arg-type]
        err = _Capped(proc.stderr, limits.output_bytes)  # type: ignore[arg-type]
        try:
            proc.stdin.write(stdin.encode())  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # On every way out (a timeout, Ctrl-C, SIGTERM turned into an exception)
            # whatever is left of the session goes: a PID namespace dies with its first
            # process, and without one the process group is what there is.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        out_of_memory = bool(group) and group.out_of_memory()  # type: ignore[union-attr]
        result = SandboxResult(
            returncode=None if timed_out else proc.returncode,
            stdout=out.text(5),
            stderr=err.text(5),
            timed_out=timed_out,
            truncated=bool(out.dropped or err.dropped),
            seconds=time.perf_counter() - start,
            out_of_memory=out_of_memory,
        )
        for line in report.text(5).splitlines():
            message = json.loads(line)
            if "isolation" in message:
                result.isolation = list(message["isolation"])
                result.missing_isolation = list(message["missing"])
            elif "signal" in message and not timed_out:  # a signal death in a PID namespace
                result.returncode = -int(message["signal"])
        if result.missing_isolation and not limits.allow_weak_isolation:
            raise SandboxUnavailableError(
                "refusing to run model-written code without "
                + ", ".join(result.missing_isolation)
                + " (this kernel or container does not allow it; see Limits.allow_weak_isolation)"
            )
        if not timed_out:  # after a timeout the namespace may still be dying: take nothing
            for name in collect:
                if (data := _read_own_file(workdir / name)) is not None:
                    result.files[name] = data
        return result
    finally:
        if group:
            group.remove()
        shutil.rmtree(workdir, ignore_errors=True)
        os.close(held)


def _sweep_workdirs() -> None:
    """Remove the work dirs of gba processes that were killed before they could: ours
    (same owner), named for a process that is gone, and not locked by a running call."""
    for path in Path(tempfile.gettempdir()).glob("gba-sandbox-*-*"):
        match = re.fullmatch(r"gba-sandbox-(\d+)-\w+", path.name)
        if not match or Path(f"/proc/{match.group(1)}").exists():
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_uid != os.geteuid():
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a call still holds it
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)


def _read_own_file(path: Path, limit: int = 2**20) -> bytes | None:
    """A regular file the program left, read without following links, at most ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return f.read(limit)


def _base_python() -> str:
    """The interpreter gba runs on, outside any venv: sandboxed code gets the standard
    library only, not the project's packages."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / name
    return str(candidate if candidate.exists() else Path(sys.base_prefix) / "bin" / "python3")


PYTHON_RUNNER = """\
import json, math, statistics, datetime
namespace = {"__name__": "__calculation__", "math": math, "statistics": statistics,
             "datetime": datetime}
with open("calculation.py") as f:
    source = f.read()
exec(compile(source, "calculation.py", "exec"), namespace)
with open("result.json", "w") as f:
    json.dump(namespace.get("result"), f, default=str)
"""


def run_python(code: str, *, limits: Limits | None = None) -> SandboxResult:
    """Run Python ``code``; a variable ``result`` it sets comes back as ``result.json``."""
    return run(
        ["{python}", "-I", "runner.py"],
        limits=limits,
        files={"calculation.py": code, "runner.py": PYTHON_RUNNER},
        collect=("result.json",),
    )


def run_shell(command: str, *, limits: Limits | None = None) -> SandboxResult:
    shell = shutil.which("bash") or "/bin/sh"
    return run([shell, "-c", command], limits=limits)
