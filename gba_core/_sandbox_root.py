"""The sandbox's private root, built by ``_sandbox_child.py`` in its mount namespace
(stdlib only). The program sees system programs and libraries, Python and a small
writable area, and nothing else of the host: not the user's home, not the directory
gba runs in (its ``gba.toml`` may hold a password), not the host's ``/tmp``.

    /usr /bin /sbin /lib*          the host's, read-only (merged-usr links recreated)
    /etc                           the few entries programs read: loader cache, users,
                                   time zone, alternatives
    the interpreter's prefix       read-only at its own path
    /dev                           null, zero, full, random, urandom and the fd links
    /proc                          the host's until the PID namespace mounts its own
    /tmp                           a tmpfs bounded in bytes and inodes (the whole call's
                                   disk); the work dir is /tmp/work

The work dir's files come in before the switch and the named result files go back out
through a directory descriptor only the namespace's init holds.
"""

import ctypes
import os
import platform
import stat

INSIDE_WORKDIR = "/tmp/work"
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "passwd",
    "group",
    "nsswitch.conf",
    "mime.types",
)
DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
MNT_DETACH = 2
# pivot_root has no glibc wrapper.
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}
RESULT_LIMIT = 2**20

libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str) -> bool:
    encode = lambda s: None if s is None else s.encode()  # noqa: E731
    return libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) == 0


def _show(path: str, root: str) -> bool:
    """Make host ``path`` appear at the same place under ``root``: a link as the same
    link, a directory or file as a bind mount (made read-only later)."""
    target = root + path
    if os.path.islink(path):
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        os.symlink(os.readlink(path), target)
        return True
    if os.path.isdir(path):
        os.makedirs(target, mode=0o755, exist_ok=True)
    elif os.path.exists(path):
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "w").close()
    else:
        return False
    return _mount(path, target, None, MS_BIND | MS_REC, "")


def build(root: str, config: dict, owner: int) -> bool:
    """Assemble the new root under ``root`` (an empty directory) and copy the work
    dir's files into its ``/tmp/work``, owned by ``owner`` (the uid the program runs
    as). False if the kernel refused a step."""
    limits = config["limits"]
    if not _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755"):
        return False
    for path in SYSTEM:
        _show(path, root)
    os.mkdir(root + "/etc", 0o755)
    for name in ETC:
        _show("/etc/" + name, root)
    home = config.get("python_home")
    if home and not os.path.exists(root + home) and not _show(home, root):
        return False
    os.mkdir(root + "/dev", 0o755)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            _show("/dev/" + name, root)
    for name, link in DEV_LINKS.items():
        os.symlink(link, f"{root}/dev/{name}")
    os.mkdir(root + "/proc", 0o555)
    if not _mount("/proc", root + "/proc", None, MS_BIND | MS_REC, ""):
        return False
    os.mkdir(root + "/tmp", 0o1777)
    disk = f"size={limits['disk_mb']}m,nr_inodes={limits['inodes']},mode=1777"
    if not _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, disk):
        return False
    work = root + INSIDE_WORKDIR
    os.mkdir(work, 0o700)
    _copy_in(config["workdir"], work)
    for path in [work, *(os.path.join(work, n) for n in os.listdir(work))]:
        os.chown(path, owner, owner)
    return True


def _copy_in(source: str, target: str) -> None:
    """The regular files gba wrote into the host work dir (opened without following a
    link, checked on the open file)."""
    for name in os.listdir(source):
        try:
            fd = os.open(os.path.join(source, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # the staging root, or a planted dir
            os.close(fd)
            continue
        with os.fdopen(fd, "rb") as f, open(os.path.join(target, name), "wb") as g:
            g.write(f.read())


def pivot(root: str) -> bool:
    """Make ``root`` the root and let go of the old one entirely."""
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        return False
    os.chdir(root)
    if libc.syscall(number, b".", b".") != 0:
        return False
    # The old root now sits under the new one at "/": detach it.
    if libc.umount2(b".", MNT_DETACH) != 0:
        return False
    os.chdir("/")
    return True


def open_work_dir() -> int:
    """The private work dir, opened before the program runs: the program may rename it
    or put a link in its place later, and the copy-out reads through this descriptor,
    never through the path."""
    return os.open(INSIDE_WORKDIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def copy_out(work_dir: int, host_dir: int, names: list[str]) -> None:
    """Copy the program's result files (regular files, no links, at most 1 MB) from the
    private work dir to the host's, where gba reads them."""
    for name in names:
        if "/" in name:
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=work_dir)
        except OSError:
            continue
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > RESULT_LIMIT:
            os.close(fd)  # a directory, a pipe or a device where the result should be
            continue
        with os.fdopen(fd, "rb") as f:
            data = f.read(RESULT_LIMIT)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            out = os.open(name, flags, 0o600, dir_fd=host_dir)
        except OSError:
            continue
        with os.fdopen(out, "wb") as g:
            g.write(data)
