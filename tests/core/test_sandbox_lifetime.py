"""The sandbox's lifetime and what a call may use: the program dies with gba, ends at its
wall limit, gains no privileges, sees no host files, and shares one disk and memory
budget with its children."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gba_core.sandbox import Limits, run_python, run_shell

FAST = Limits(cpu_seconds=2, wall_seconds=10, memory_mb=256, processes=16)


def _running(marker: str) -> list[int]:
    """Pids whose command line holds ``marker`` (the sandboxed program, seen from here)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and "python" not in cmdline:
                found.append(int(entry.name))
    return found


def _gone(marker: str, within: float) -> bool:
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _running(marker):
            return True
        time.sleep(0.2)
    return False


def _gba_running_a_sleep(seconds: int, wall: float) -> subprocess.Popen:
    """A process that runs ``sleep`` in the sandbox, and the sleep seen to have started."""
    import time

    code = (
        # As a gba started from a terminal: the test runner may have been started with
        # SIGHUP or SIGINT ignored (nohup, a background job), and children inherit that.
        "import signal\n"
        "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from gba_core.sandbox import Limits, run_shell\n"
        f"run_shell('sleep {seconds}', limits=Limits(wall_seconds={wall}))\n"
    )
    gba = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while not _running(f"sleep {seconds}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(f"sleep {seconds}"), "the sandboxed sleep never started"
    return gba


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize(
    ("seconds", "how"),
    [(3601, "SIGKILL"), (3602, "SIGTERM"), (3603, "SIGHUP"), (3604, "SIGINT")],
)
def test_the_program_dies_with_gba_however_gba_ends(seconds, how):
    import signal

    gba = _gba_running_a_sleep(seconds, wall=600)
    gba.send_signal(getattr(signal, how))
    gba.wait(timeout=20)
    assert _gone(f"sleep {seconds}", within=10), f"the sandboxed program outlived gba's {how}"


@pytest.mark.skipif(sys.platform != "linux", reason="the PID namespace's init is Linux's")
def test_the_sandbox_ends_itself_at_its_wall_limit_when_gba_cannot():
    import signal

    gba = _gba_running_a_sleep(3605, wall=1)
    gba.send_signal(signal.SIGSTOP)  # gba hangs: it will never enforce the limit
    try:
        assert _gone("sleep 3605", within=15), "the program ran on past its wall limit"
    finally:
        gba.kill()
        gba.wait(timeout=20)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux process status fields")
def test_set_uid_binaries_cannot_raise_the_programs_privileges():
    script = (
        "grep -E '^(NoNewPrivs|CapBnd|CapEff):' /proc/self/status; "
        'awk \'$5 == "/" {print "root-mount", $6}\' /proc/self/mountinfo'
    )
    result = run_shell(script, limits=FAST)
    assert result.ok, result.stderr
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert fields["NoNewPrivs:"] == "1"
    assert int(fields["CapBnd:"], 16) == 0 and int(fields["CapEff:"], 16) == 0
    assert "nosuid" in fields["root-mount"].split(",")
    assert "no-new-privileges" in result.isolation


def test_the_program_sees_no_host_files(monkeypatch):
    """A world-readable gba.toml holding a password, in the directory gba runs in and in
    the host's /tmp, is not there for the program to read."""
    import tempfile

    host_dir = Path(tempfile.mkdtemp(prefix="gba-host-"))
    host_dir.chmod(0o755)
    toml = host_dir / "gba.toml"
    toml.write_text('[office]\nsmtp_password = "hunter2-host"\n')
    toml.chmod(0o644)
    monkeypatch.chdir(host_dir)
    try:
        shell = run_shell(f"cat {toml}; cat gba.toml; ls -a /tmp", limits=FAST)
        assert "private-root" in shell.isolation
        assert "hunter2" not in shell.stdout
        assert set(shell.stdout.split()) == {".", "..", "work"}  # /tmp: its own work dir
        python = run_python(f"result = open({str(toml)!r}).read()", limits=FAST)
        assert not python.ok and "result.json" not in python.files
    finally:
        import shutil

        shutil.rmtree(host_dir)


def test_a_calls_disk_is_bounded_in_bytes_and_in_files():
    """Many files each under the file-size limit still stop at the call's disk limit."""
    limits = Limits(cpu_seconds=5, wall_seconds=20, file_size_mb=4, disk_mb=8, inodes=256)
    big = run_shell(
        "for i in $(seq 20); do head -c 3000000 /dev/zero > f$i || break; done; du -sk .",
        limits=limits,
    )
    assert "disk-limit" in big.isolation
    assert int(big.stdout.split()[-2]) <= 8 * 1024  # kB: 60 MB were asked for
    many = run_shell(
        "for i in $(seq 2000); do : > e$i 2>/dev/null || break; done; ls | wc -l",
        limits=limits,
    )
    assert int(many.stdout.split()[-1]) < 256


def test_forked_children_share_one_memory_budget():
    """Four children touching 100 MB each under a 256 MB budget: the kernel stops some,
    and the result says the call ran out of memory. Without a writable cgroup only the
    per-process limit holds (the README says so)."""
    code = (
        "import os, time\n"
        "pids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(100 * 2**20)\n"
        "        for i in range(0, len(block), 4096):\n"
        "            block[i] = 1\n"
        "        time.sleep(1)\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "result = [os.waitpid(p, 0)[1] for p in pids]\n"
    )
    from gba_core.sandbox_cgroup import ROOT, call_group

    probe = call_group(16, 4)
    if probe is None:
        pytest.skip("no writable cgroup here: the per-process address-space limit applies")
    probe.remove()
    result = run_python(code, limits=Limits(memory_mb=256, wall_seconds=20))
    assert probe.version in result.isolation
    statuses = json.loads(result.files["result.json"])
    assert any(status != 0 for status in statuses)
    assert result.out_of_memory
    assert not list(ROOT.glob(f"**/gba-sandbox-{os.getpid()}-*"))  # removed after the call


def test_work_dirs_of_a_killed_gba_are_removed_by_the_next_call():
    import fcntl
    import tempfile

    dead = Path(tempfile.mkdtemp(prefix=f"gba-sandbox-{_dead_pid()}-"))
    (dead / "calculation.py").write_text("left behind")
    alive = Path(tempfile.mkdtemp(prefix=f"gba-sandbox-{os.getpid()}-"))
    # A call of a gba in another PID namespace, whose pid means nothing here: its lock
    # says it is running.
    elsewhere = Path(tempfile.mkdtemp(prefix=f"gba-sandbox-{_dead_pid()}-"))
    held = os.open(elsewhere, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        assert run_shell("true", limits=FAST).ok
        assert not dead.exists()
        assert alive.exists()  # a running gba's work dir is left alone
        assert elsewhere.exists()
    finally:
        import shutil

        os.close(held)
        for path in (alive, dead, elsewhere):
            shutil.rmtree(path, ignore_errors=True)


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_results_come_from_the_work_dir_the_call_started_in():
    """The program re-points /tmp/work at a directory of its own holding another
    result.json: what comes back is still what it computed, read through the directory
    opened before it ran (a path would follow its link, and could lead out of the root)."""
    code = (
        "import os\n"
        "os.rename('/tmp/work', '/tmp/moved')\n"
        "os.mkdir('/tmp/planted')\n"
        "open('/tmp/planted/result.json', 'w').write('666')\n"
        "os.symlink('/tmp/planted', '/tmp/work')\n"
        "result = 42\n"
    )
    result = run_python(code, limits=FAST)
    assert "private-root" in result.isolation
    assert result.ok, result.stderr
    assert result.files["result.json"] == b"42"


def test_detached_shared_memory_is_bounded_by_the_memory_limit():
    """RLIMIT_AS does not count a System V segment nobody has attached: the private IPC
    namespace's own limits do."""
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]\n"
        "result = [libc.shmget(0, size * 2**20, 0o1600) >= 0 for size in (8, 128)]\n"
    )
    result = run_python(code, limits=Limits(memory_mb=64, cpu_seconds=2, wall_seconds=10))
    if os.geteuid() != 0 and "ipc-limits" not in result.isolation:
        pytest.skip("this kernel does not let a user namespace set its IPC limits")
    assert "ipc-limits" in result.isolation
    assert json.loads(result.files["result.json"]) == [True, False]
