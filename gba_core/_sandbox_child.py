"""Runs inside the sandbox's child process, before the untrusted program: confines the
process, then replaces itself with the program. Stdlib only, started with ``python -I``.

Usage: python -I _sandbox_child.py CONFIG_JSON PROGRAM [ARGS...]

Confinements: the call's cgroup (when gba made one), a new network namespace (no
network, not even the host's loopback), a new IPC namespace, a new mount namespace whose
root is private (``_sandbox_root.py``: read-only system files, a bounded tmpfs to write
in) with a fresh /proc, a new PID namespace (the program's init reaps it:
when the program ends, everything it started dies), an unprivileged user (when started
as root), and resource limits. What applied goes to the parent on a report pipe the
program never holds; when a required confinement is missing, the program is not run
(exit status REFUSED) unless the parent allowed weaker isolation.
"""

import ctypes
import importlib.util
import json
import os
import re
import resource
import signal
import sys
from collections.abc import Callable

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
FLAG_OPTIONS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
NOBODY = 65534
REFUSED = 125  # exit status: the confinement the parent asked for is not available
# Left as they are: /proc (replaced by the PID namespace's own) and the device nodes
# bound under /dev, which must stay writable (/dev/null).
KEEP = ("/proc", "/dev")

libc = ctypes.CDLL(None, use_errno=True)


def _load_root_module():  # type: ignore[no-untyped-def]
    """``_sandbox_root`` by its path: ``python -I`` puts no directory of gba's on
    sys.path, and adding gba_core's would shadow the standard library (``secrets``)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox_root.py")
    spec = importlib.util.spec_from_file_location("_sandbox_root", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_sandbox_root = _load_root_module()


def _unshare(flags: int) -> bool:
    return libc.unshare(flags) == 0


def _mount(source: bytes | None, target: bytes, flags: int) -> bool:
    return libc.mount(source, target, None, flags, None) == 0


def _mounts() -> list[tuple[str, int]]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            flags = sum(FLAG_OPTIONS.get(opt, 0) for opt in fields[5].split(","))
            out.append((point, flags))
    return out


def _private_root(config: dict, owner: int) -> bool:
    """Switch to a root that shows only what the program needs (``_sandbox_root``),
    then make every mount in it read-only and ``nosuid`` but the work area and the
    kernel filesystems."""
    if not _mount(None, b"/", MS_REC | MS_PRIVATE):
        return False
    staging = os.path.join(config["workdir"], ".root")
    try:
        os.mkdir(staging, 0o700)
        if not (_sandbox_root.build(staging, config, owner) and _sandbox_root.pivot(staging)):
            return False
    except OSError:  # a step the kernel or the host's layout refused: not confined
        return False
    for point, flags in _mounts():
        if point == "/tmp" or any(point == k or point.startswith(k + "/") for k in KEEP):
            continue
        # nosuid everywhere: a set-uid binary must not give the program root back. Any
        # mount left writable (an interpreter under the user's home) fails the whole.
        if not _mount(None, point.encode(), MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | flags):
            return False
    return True


def _join_cgroup(cgroup: dict | None) -> bool:
    """Enter the cgroup gba made for this call, so the program and everything it starts
    share one memory and process budget."""
    if not cgroup:
        return False
    try:
        for procs in cgroup["procs"]:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
    except OSError:
        return False
    return True


def _map_user(uid: int, gid: int) -> None:
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _report(fd: int, message: dict) -> None:
    """A line to the parent on the report pipe, which the program never holds."""
    os.write(fd, (json.dumps(message) + "\n").encode())


def _die_with(parent: int | None) -> None:
    """Be killed when the parent process ends, and end now if ``parent`` already has
    (it may have died before the request was made). None: the parent is outside this
    PID namespace, where getppid() reads 0 and cannot tell."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(REFUSED)


def _init(program_pid: int, report_fd: int, wall_seconds: float, hand_out: Callable | None) -> None:
    """Reap every child until the program ends; report a signal death to the parent and
    hand the result files out of the private root. At the wall limit plus a margin it
    ends on its own, and with it the namespace: the limit holds even if nothing above is
    left to enforce it."""

    def expire(*_: object) -> None:
        os._exit(128 + signal.SIGKILL)

    # The namespace's init ignores signals it has no handler for: this one it handles.
    signal.signal(signal.SIGALRM, expire)
    signal.alarm(_deadline(wall_seconds))
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid != program_pid:
            continue
        if hand_out:
            hand_out()
        if os.WIFSIGNALED(status):
            _report(report_fd, {"signal": os.WTERMSIG(status)})
            os._exit(128 + os.WTERMSIG(status))
        # Leaving kills whatever the program left running in the namespace.
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _fresh_proc() -> bool:
    """In the new PID namespace: a /proc that shows only its processes (not the parent's
    environment or command lines). Where the kernel refuses one (a user namespace under
    a host /proc with masked paths, as in Docker), the host's bind is taken away: no
    /proc rather than the host's."""
    if _mount_fs(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC):
        return True
    libc.umount2(b"/proc", MNT_DETACH)
    return False


def _limit_ipc(limits: dict) -> bool:
    """System V shared memory is not counted by RLIMIT_AS while detached: bound it in the
    private IPC namespace (its sysctls are its own) to the memory limit."""
    memory = limits["memory_mb"] * 2**20
    try:
        for name, value in (("shmmax", memory), ("shmall", memory // 4096), ("shmmni", 16)):
            with open(f"/proc/sys/kernel/{name}", "w") as f:
                f.write(str(value))
    except OSError:
        return False
    return True


def _mount_fs(source: bytes, target: bytes, fstype: bytes, flags: int) -> bool:
    return libc.mount(source, target, fstype, flags, None) == 0


def confine(config: dict, report_fd: int) -> list[str]:
    done: list[str] = []
    if _join_cgroup(config.get("cgroup")):
        done.append(config["cgroup"]["name"])
    is_root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()  # before unshare: afterwards they read as unmapped
    wanted = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | (0 if config["network"] else CLONE_NEWNET)
    if is_root and _unshare(wanted):
        pass
    elif _unshare(wanted | CLONE_NEWUSER):
        _map_user(uid, gid)
        done.append("userns")
    else:
        wanted = 0
    if wanted & CLONE_NEWNET:
        done.append("no-network")
    if wanted & CLONE_NEWIPC:
        done.append("private-ipc")
    host_dir = os.open(config["workdir"], os.O_RDONLY | os.O_DIRECTORY)  # closed on exec
    owner = NOBODY if is_root and "userns" not in done else 0  # the uid the program gets
    if wanted and _private_root(config, owner):
        done += ["read-only-fs", "private-root", "disk-limit"]
    if wanted & CLONE_NEWPID:
        pid = os.fork()
        if pid:  # outside the namespace: wait, and exit as the namespace's init did
            os.close(report_fd)
            signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        # PID 1 of the namespace: the kernel ignores signals to it that it has no handler
        # for (SIGXCPU included), so it only reaps, and the program runs as PID 2. It
        # dies with the launcher (a SIGKILL from the parent namespace does reach it), and
        # the whole namespace with it.
        _die_with(None)
        if _fresh_proc():
            done.append("own-proc")
        if wanted & CLONE_NEWIPC and _limit_ipc(config["limits"]):
            done.append("ipc-limits")
        work_dir = _sandbox_root.open_work_dir() if "private-root" in done else None
        program_pid = os.fork()
        if program_pid:
            hand_out = None
            if work_dir is not None:
                names = config["collect"]
                hand_out = lambda: _sandbox_root.copy_out(work_dir, host_dir, names)  # noqa: E731
            _init(program_pid, report_fd, config["limits"]["wall_seconds"], hand_out)
        done.append("pid-namespace")
    limits = config["limits"]
    # CPU: SIGXCPU at the soft limit (a clear reason), SIGKILL a second later.
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    for name, value in (
        ("RLIMIT_AS", limits["memory_mb"] * 2**20),
        ("RLIMIT_NPROC", limits["processes"]),
        ("RLIMIT_FSIZE", limits["file_size_mb"] * 2**20),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    done.append("rlimits")
    if "userns" in done:
        if _drop_capabilities():
            done.append("no-capabilities")
    elif os.geteuid() == 0 and "read-only-fs" in done:
        # While still root: empty the bounding set, so no capability can come back
        # through an exec; and no new privileges, so set-uid binaries run as nobody.
        for cap in range(64):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        done.append("unprivileged-user")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        done.append("no-new-privileges")
    missing = [need for need in _required(config, is_root) if need not in done]
    _report(report_fd, {"isolation": done, "missing": missing})
    if missing and not config["allow_weak"]:
        # Fail closed: without these the program could reach the host.
        os._exit(REFUSED)
    os.close(report_fd)
    # After the user change (which clears it): die with the launcher.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # A pending alarm survives exec: the program itself ends at the wall limit plus a
    # margin, unless it catches SIGALRM (then the namespace's init ends it).
    signal.alarm(_deadline(limits["wall_seconds"]))
    return done


def _deadline(wall_seconds: float) -> int:
    """Whole seconds after which the sandbox ends itself: the parent's wall limit plus a
    margin, so the parent, which reports the timeout, normally stops it first."""
    return int(wall_seconds) + 5


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_capabilities() -> bool:
    """In a user namespace the program is root there, with capabilities that could undo
    the read-only remounts: drop them all, for good (root stays powerless across exec)."""
    PR_SET_SECUREBITS = 28
    SECBIT_NOROOT, SECBIT_NOROOT_LOCKED = 1, 2
    SECBIT_NO_SETUID_FIXUP, SECBIT_NO_SETUID_FIXUP_LOCKED = 4, 8
    bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP
    if libc.prctl(PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP_LOCKED, 0, 0, 0) != 0:
        return False
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        return False
    return libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def _required(config: dict, is_root: bool) -> list[str]:
    needs = ["read-only-fs", "private-root", "pid-namespace", "private-ipc", "no-new-privileges"]
    if not config["network"]:
        needs.append("no-network")
    needs.append("unprivileged-user" if is_root else "no-capabilities")
    return needs


def main() -> None:
    config = json.loads(sys.argv[1])
    program = sys.argv[2:]
    # gba killed in any way (SIGKILL included) takes the launcher, and so the namespace
    # and the program, with it.
    _die_with(int(config["parent_pid"]))
    done = confine(config, int(config["report_fd"]))
    env = dict(config["env"])
    if "private-root" in done:
        os.chdir(_sandbox_root.INSIDE_WORKDIR)
        env.update(HOME=_sandbox_root.INSIDE_WORKDIR, TMPDIR=_sandbox_root.INSIDE_WORKDIR)
    else:
        os.chdir(config["workdir"])
    if program[0] == "{python}":
        program[0] = os.path.join(config["python_home"], config["python_bin"])
    os.execve(program[0], program, env)


if __name__ == "__main__":
    main()
