"""Kernel: 3.10 at least; on EL7, 3.10.0-514 at least for overlay2."""

import re

from installer.precheck.checks.os import os_key
from installer.precheck.model import Context, HostObservation, fail, ok
from installer.precheck.registry import check


def parse_kernel(text: str) -> tuple[tuple[int, ...], int]:
    """'3.10.0-1160.el7.x86_64' -> ((3, 10, 0), 1160); '6.1.0-18-amd64' -> ((6, 1, 0), 18)."""
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-(\d+))?", text or "")
    if not match:
        raise ValueError(text)
    major, minor, patch, release = match.groups()
    return (int(major), int(minor), int(patch or 0)), int(release or 0)


@check("kernel", "kernel")
def kernel(obs: HostObservation, ctx: Context):
    text = obs.facts.get("kernel", "")
    try:
        version, release = parse_kernel(text)
    except ValueError:
        return [fail("kernel", obs.host.id, f"cannot read the kernel version {text!r}",
                     "check `uname -r` on the host")]
    if version < (3, 10, 0):
        return [fail("kernel", obs.host.id, f"kernel {text} is older than 3.10", "upgrade the kernel")]
    family, major = os_key(obs.facts)
    if family == "RedHat" and major == "7" and version == (3, 10, 0) and release < 514:
        return [fail("kernel", obs.host.id, f"kernel {text}: Docker's overlay2 needs 3.10.0-514 or newer on EL7",
                     "yum update kernel and reboot")]
    return [ok("kernel", obs.host.id, f"kernel {text}")]
