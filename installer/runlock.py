"""One run of a cluster at a time, on this controller: runs/.lock-<cluster>, held with flock
for the life of the run (the kernel frees it when the process dies, however it dies). The
file records the installer's pid and, once a playbook starts, that playbook's pid: a later
run can then tell a playbook that outlived its killed installer and refuse to start beside
it. (The installer host's own lock, for runs from several controllers, is installer/hostlock.py.)"""

import fcntl
import os
from pathlib import Path


class RunBusy(Exception):
    """Another run of the same cluster holds the lock."""


def orphan_playbook(lock_text: str) -> int | None:
    """The ansible-playbook an earlier (killed) installer recorded in the lock file, if it
    still runs."""
    for line in lock_text.splitlines():
        kind, _, pid = line.partition(" ")
        if kind == "playbook" and pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return None
            return int(pid) if b"ansible-playbook" in cmdline else None
    return None


class ClusterLock:
    def __init__(self, fd: int):
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, runs_dir: Path, cluster: str) -> "ClusterLock":
        """Take the cluster's lock, or raise RunBusy naming who holds it."""
        fd = os.open(runs_dir / f".lock-{cluster}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").split("\n", 1)[0].strip()
                raise RunBusy(f"another run of cluster {cluster!r} is in progress (pid "
                              f"{holder or '?'}); wait for it or stop it first") from None
            orphan = orphan_playbook(os.pread(fd, 256, 0).decode(errors="replace"))
            if orphan:
                raise RunBusy(f"an ansible-playbook of an earlier run of {cluster!r} still runs "
                              f"(pid {orphan}): its installer was killed. Wait for it to end, or stop it: "
                              f"kill {orphan}")
            cls._write(fd, f"{os.getpid()}\n")
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    @staticmethod
    def _write(fd: int, text: str) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)

    def note_playbook(self, pid: int) -> None:
        """So a later run can tell when this playbook outlived a killed installer."""
        if self._fd is not None:
            self._write(self._fd, f"{os.getpid()}\nplaybook {pid}\n")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
