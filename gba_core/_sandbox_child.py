"""Runs inside the sandbox's child process, before the untrusted program: confines the
process, then replaces itself with the program. Stdlib only, started with ``python -I``.

Usage: python -I _sandbox_child.py CONFIG_JSON PROGRAM [ARGS...]

Each confinement is applied where the kernel and privileges allow and recorded in
``WORKDIR/.isolation`` (read by the parent): new network namespace (no network, not
even the host's loopback), new mount namespace with every filesystem read-only but the
work dir, new PID namespace (the program is PID 1: when it dies, everything it started
dies), an unprivileged user (when started as root), and resource limits.
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
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
PR_SET_PDEATHSIG = 1
NOBODY = 65534
# Kernel filesystems left as they are: /proc and /sys are needed by programs and not
# writable by the unprivileged user; /dev's device nodes must stay usable.
KEEP = ("/proc", "/sys", "/dev")

libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> bool:
    return libc.unshare(flags) == 0


def _mount(source: bytes | None, target: bytes, flags: int) -> bool:
    return libc.mount(source, target, None, flags, None) == 0


def _mounts() -> list[tuple[str, int]]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = sum(FLAG_OPTIONS.get(opt, 0) for opt in fields[5].split(","))
            out.append((point, flags))
    return out


def _read_only_except(workdir: str, python_home: str | None) -> bool:
    if not _mount(None, b"/", MS_REC | MS_PRIVATE):
        return False
    if not _mount(workdir.encode(), workdir.encode(), MS_BIND):
        return False
    if python_home:
        # The interpreter may live where the unprivileged user cannot reach it (pyenv
        # under /root): show it inside the work dir; the loop below makes it read-only.
        inside = os.path.join(workdir, ".python")
        os.mkdir(inside)
        if not _mount(python_home.encode(), inside.encode(), MS_BIND | MS_REC):
            return False
    root_done = False
    for point, flags in _mounts():
        if point == workdir:
            continue
        if any(point == k or point.startswith(k + "/") for k in KEEP) and not point.startswith(
            ("/dev/shm", "/dev/mqueue")
        ):
            continue
        ok = _mount(None, point.encode(), MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        root_done = root_done or (ok and point == "/")
    return root_done


def _map_user(uid: int, gid: int) -> None:
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _init(program_pid: int, workdir: str) -> None:
    """Reap every child until the program ends; report a signal death in ``.exit``."""
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid != program_pid:
            continue
        if os.WIFSIGNALED(status):
            # The program owns the work dir: never follow what it may have put there.
            path = os.path.join(workdir, ".exit")
            if os.path.lexists(path):
                os.unlink(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            os.write(fd, json.dumps({"signal": os.WTERMSIG(status)}).encode())
            os.close(fd)
            os._exit(128 + os.WTERMSIG(status))
        # Leaving kills whatever the program left running in the namespace.
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def confine(config: dict) -> list[str]:
    workdir = config["workdir"]
    done: list[str] = []
    is_root = os.geteuid() == 0
    wanted = CLONE_NEWNS | CLONE_NEWPID | (0 if config["network"] else CLONE_NEWNET)
    if is_root and _unshare(wanted):
        pass
    elif _unshare(wanted | CLONE_NEWUSER):
        _map_user(os.getuid() if not is_root else 0, os.getgid())
        done.append("userns")
    else:
        wanted = 0
    if wanted & CLONE_NEWNET:
        done.append("no-network")
    if wanted and _read_only_except(workdir, config.get("python_home") if is_root else None):
        done.append("read-only-fs")
    if wanted & CLONE_NEWPID:
        pid = os.fork()
        if pid:  # outside the namespace: wait, and exit as the namespace's init did
            signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        # PID 1 of the namespace: the kernel ignores signals to it that it has no handler
        # for (SIGXCPU included), so it only reaps, and the program runs as PID 2.
        program_pid = os.fork()
        if program_pid:
            _init(program_pid, workdir)
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
    # As root, drop to nobody, unless the interpreter is out of nobody's reach (no mount
    # namespace to show it in the work dir): then the other confinements must do.
    reachable = "read-only-fs" in done or not config.get("python_home")
    if os.geteuid() == 0 and "userns" not in done and reachable:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        done.append("unprivileged-user")
    with open(os.path.join(workdir, ".isolation"), "w") as f:
        json.dump(done, f)
    # After the user change (which clears it): die with the launcher.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return done


def main() -> None:
    config = json.loads(sys.argv[1])
    program = sys.argv[2:]
    done = confine(config)
    # Only now: a cwd taken before the bind mount would point at the read-only layer.
    os.chdir(config["workdir"])
    env = dict(config["env"])
    if program[0] == "{python}":
        home = config["python_home"]
        if "read-only-fs" in done and os.geteuid() != 0 and "userns" not in done:
            home = os.path.join(config["workdir"], ".python")
            env["LD_LIBRARY_PATH"] = os.path.join(home, "lib")
        program[0] = os.path.join(home, config["python_bin"])
    os.execve(program[0], program, env)


if __name__ == "__main__":
    main()
