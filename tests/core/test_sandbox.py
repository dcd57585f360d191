"""Model-written code and commands run confined: hostile input is contained."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gba_core.sandbox import Limits, run_python, run_shell

FAST = Limits(cpu_seconds=2, wall_seconds=10, memory_mb=256, processes=16)


def test_a_calculation_returns_its_result():
    result = run_python(
        "import datetime, statistics\n"
        "days = (datetime.date(2026, 2, 6) - datetime.date(2025, 11, 23)).days\n"
        "result = [days, statistics.mean([3, 4, 8])]\n"
    )
    assert result.ok, result.stderr
    assert result.files["result.json"] == b"[75, 5]"


def test_isolation_that_applies_is_reported():
    result = run_shell("true")
    assert "rlimits" in result.isolation
    if sys.platform == "linux" and os.geteuid() == 0:
        assert {"no-network", "read-only-fs", "pid-namespace", "unprivileged-user"} <= set(
            result.isolation
        )


@pytest.mark.parametrize(
    "runner,code",
    [
        (run_python, "while True:\n    pass\n"),
        (run_shell, "while :; do :; done"),
    ],
)
def test_infinite_loop_is_stopped(runner, code):
    result = runner(code, limits=FAST)
    assert not result.ok
    assert result.describe_failure() in (
        "it used up its CPU time",
        "it was stopped after the time limit",
    )
    assert result.seconds < 9


@pytest.mark.parametrize(
    "runner,code",
    [
        (run_python, "import os\nwhile True:\n    os.fork()\n"),
        (run_shell, ":(){ :|:& };: ; sleep 3"),
    ],
)
def test_fork_bomb_is_contained_and_leaves_nothing_behind(runner, code):
    result = runner(code, limits=Limits(cpu_seconds=2, wall_seconds=5, processes=16))
    assert result.seconds < 6 + 1
    # the host still starts processes, and no process of the sandbox user is left
    assert subprocess.run(["true"]).returncode == 0
    if "unprivileged-user" in result.isolation:
        left = subprocess.run(["pgrep", "-u", "nobody"], capture_output=True, text=True)
        assert left.stdout.strip() == ""


@pytest.mark.parametrize(
    "runner,code",
    [
        (run_python, "x = bytearray(4 * 1024**3)\nresult = len(x)\n"),
        (run_shell, "python3 -c 'x = bytearray(4 * 1024**3)'"),
    ],
)
def test_memory_bomb_fails_inside(runner, code):
    result = runner(code, limits=FAST)
    assert not result.ok
    assert "MemoryError" in result.stderr or result.returncode != 0


@pytest.mark.parametrize(
    "runner,template",
    [
        (run_python, "open({path!r}, 'w').write('escaped')\n"),
        (run_shell, "echo escaped > {path}"),
    ],
)
def test_writing_outside_the_work_dir_fails(runner, template, tmp_path):
    target_dir = tmp_path / "open"
    target_dir.mkdir()
    target_dir.chmod(0o777)  # even a world-writable place outside stays untouched
    target = target_dir / "escape.txt"
    result = runner(template.format(path=str(target)), limits=FAST)
    assert not result.ok
    assert not target.exists()


def test_environment_secrets_do_not_reach_the_program(monkeypatch):
    monkeypatch.setenv("GBA_TEST_SECRET", "s3cret-value")
    result = run_python(
        "import os\nresult = sorted(k for k in os.environ if 'SECRET' in k)\n", limits=FAST
    )
    assert result.files["result.json"] == b"[]"
    shell = run_shell(f"echo $GBA_TEST_SECRET; cat /proc/{os.getpid()}/environ", limits=FAST)
    assert "s3cret-value" not in shell.stdout + shell.stderr


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_no_network_not_even_loopback(listener):
    port, accepted = listener
    py = run_python(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n",
        limits=FAST,
    )
    sh = run_shell(f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected", limits=FAST)
    if "no-network" not in py.isolation:
        pytest.skip("no network namespace on this kernel (see the README)")
    assert not py.ok and "connected" not in sh.stdout
    assert accepted == []


def test_huge_output_is_truncated_not_buffered():
    result = run_shell("yes 'all work and no play' | head -c 200000000", limits=FAST)
    assert result.truncated
    assert len(result.stdout) <= FAST.output_bytes
    py = run_python("print('x' * 50_000_000)\nresult = 1\n", limits=FAST)
    assert py.truncated and py.files["result.json"] == b"1"


def test_shared_memory_does_not_outlive_the_run():
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "result = [libc.shmget(0, 50 * 1024 * 1024, 0o1666) for _ in range(2)]\n"
    )
    before = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
    result = run_python(code, limits=FAST)
    after = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
    assert result.ok and "private-ipc" in result.isolation
    assert after.count("nobody") == before.count("nobody")


def test_host_unix_sockets_under_run_are_out_of_reach(tmp_path):
    run_dir = Path("/run") if os.access("/run", os.W_OK) else None
    if run_dir is None:
        pytest.skip("needs a writable /run to place a host socket")
    path = run_dir / f"gba-test-{os.getpid()}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o666)
    server.listen()
    server.settimeout(1)
    try:
        result = run_python(
            f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})\n"
            "result = 1\n",
            limits=FAST,
        )
        assert not result.ok
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
        path.unlink()


def test_the_sandbox_works_unprivileged_and_drops_its_namespace_powers(tmp_path):
    """As an ordinary user (user namespaces): same confinement, and the program cannot
    undo the read-only view (it is root in its namespace, without capabilities)."""
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        pytest.skip("needs root to start a process as an ordinary user")
    import shutil as sh
    import tempfile

    import gba_core.sandbox as sandbox

    code_dir = Path(tempfile.mkdtemp(prefix="gba-unpriv-"))  # pytest's tmp is root-only
    code_dir.chmod(0o755)
    package = code_dir / "gba_core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in (
        "sandbox.py",
        "sandbox_cgroup.py",
        "_sandbox_child.py",
        "_sandbox_root.py",
        "errors.py",
    ):
        sh.copy(Path(sandbox.__file__).with_name(name), package / name)
    for path in [package, *package.iterdir()]:
        path.chmod(0o755)
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(code_dir)!r})\n"
        "import gba_core.sandbox as sandbox\n"
        "r = sandbox.run_shell('mount -o remount,rw / 2>&1; touch /tmp/gba-unpriv-escape "
        "2>&1; echo inside > f && cat f')\n"
        "print(json.dumps({'isolation': r.isolation, 'out': r.stdout}))\n"
    )
    python = "/usr/bin/python3"
    try:
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", probe],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
    finally:
        sh.rmtree(code_dir)
    if "refusing to run" in proc.stderr:
        pytest.skip("this kernel does not give ordinary users namespaces")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert {"userns", "no-capabilities", "read-only-fs", "private-root", "no-network"} <= set(
        report["isolation"]
    )
    assert "inside" in report["out"]
    assert not Path("/tmp/gba-unpriv-escape").exists()


def test_missing_isolation_refuses_unless_allowed(monkeypatch):
    """Where namespaces are refused (containers), nothing runs unless weaker isolation
    was allowed explicitly."""
    import gba_core._sandbox_child as child

    code = (
        "import runpy, sys\n"
        "import gba_core._sandbox_child as child\n"
        "child._unshare = lambda flags: False\n"
        "child.main()\n"
    )
    wrapper = Path(child.__file__).with_name("_test_no_namespaces.py")
    wrapper.write_text(code)
    monkeypatch.setattr("gba_core.sandbox.CHILD", wrapper)
    try:
        from gba_core.sandbox import SandboxUnavailableError

        with pytest.raises(SandboxUnavailableError, match="read-only-fs"):
            run_shell("echo should-not-run", limits=FAST)
        weak = run_shell("echo ran", limits=Limits(allow_weak_isolation=True))
        assert weak.stdout.strip() == "ran" and "read-only-fs" in weak.missing_isolation
    finally:
        wrapper.unlink()
