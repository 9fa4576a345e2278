"""The run lock on the installer host: two controllers (two operators' laptops, a portal and a
shell, two copies of runs/) never run against the same cluster at once. The lock under runs/
keeps out a second run from the same controller; this one, a folder made atomically on the
installer host (/var/lib/dcos-installer/run.lock, its owner in a file), keeps out every other.

A run of the same controller takes over a lock its own killed run left behind (the controller
lock proves that run is gone); another controller's lock is refused with who holds it, since
when, and how to break it when that run is known to be dead."""

from __future__ import annotations

import os
import shlex
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

LOCK_DIR = "/var/lib/dcos-installer/run.lock"


class HostLockHeld(Exception):
    """Another controller holds the installer host's lock."""


@dataclass(frozen=True)
class Owner:
    controller: str  # stable per runs/ folder and cluster
    run_id: str
    host: str
    pid: int

    def line(self) -> str:
        return f"{self.controller} {self.run_id} {self.host} {self.pid}"


def controller_id(state_dir: Path) -> str:
    """A random id made once per controller (runs/state/<cluster>/controller-id)."""
    path = state_dir / "controller-id"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(uuid.uuid4().hex + "\n")
    return path.read_text().strip()


def owner(state_dir: Path, run_id: str) -> Owner:
    return Owner(controller_id(state_dir), run_id, socket.gethostname(), os.getpid())


def take_script(me: Owner) -> str:
    """Shell run on the installer host: prints TAKEN, RETAKEN or HELD <owner line>."""
    line, mine = shlex.quote(me.line()), shlex.quote(me.controller + " ")
    return (f"set -e; d={LOCK_DIR}; mkdir -p \"$(dirname $d)\"; chmod 700 \"$(dirname $d)\"; "
            f"if mkdir $d 2>/dev/null; then echo {line} > $d/owner; echo TAKEN; exit 0; fi; "
            f"cur=$(cat $d/owner 2>/dev/null || true); "
            f"case \"$cur\" in {mine}*) echo {line} > $d/owner; echo RETAKEN; exit 0;; esac; "
            f"echo \"HELD $cur $(stat -c %Y $d 2>/dev/null || echo 0)\"")


def release_script(me: Owner) -> str:
    """Shell run on the installer host: removes the lock if this run holds it."""
    ours = shlex.quote(f"{me.controller} {me.run_id} ")
    return (f"d={LOCK_DIR}; cur=$(cat $d/owner 2>/dev/null || true); "
            f"case \"$cur \" in {ours}*) rm -rf $d; echo RELEASED;; *) echo KEPT;; esac")


def refusal(held: str, installer: str) -> str:
    """The message for a lock another controller holds ('<controller> <run> <host> <pid> <mtime>')."""
    import datetime as dt

    parts = held.split()
    run_id, host, pid = [*parts[1:4], "?", "?", "?"][:3]
    since = ""
    if len(parts) >= 5 and parts[4].isdigit() and int(parts[4]) > 0:
        since = f" since {dt.datetime.fromtimestamp(int(parts[4])):%Y-%m-%d %H:%M}"
    return (f"another controller runs this cluster: run {run_id} from {host} (pid {pid}){since} holds the lock on "
            f"the installer host {installer}. Wait for it to end. If that run is known to be dead (its controller is "
            f"gone), remove the lock on the installer host: rm -rf {LOCK_DIR}")
