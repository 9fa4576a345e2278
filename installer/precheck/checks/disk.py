"""Free space and inodes on every path the install writes to on the host."""

from installer.precheck.model import Context, HostObservation, fail, ok, warn
from installer.precheck.registry import check

GB = 1024**3


def _paths(obs: HostObservation) -> dict[str, dict]:
    return obs.probe.get("paths", {})


@check("disk_space", "disk")
def disk_space(obs: HostObservation, ctx: Context):
    need = ctx.cfg.precheck.min_free_gb
    short, fine = [], []
    for path, info in _paths(obs).items():
        if "free_bytes" not in info:
            return [warn("disk_space", obs.host.id, f"cannot measure {path}: {info.get('error', 'no data')}")]
        free = info["free_bytes"] / GB
        where = f"{path} (on {info['mount']}, {free:.1f} GB free)"
        (short if free < need else fine).append(where)
    if short:
        return [fail("disk_space", obs.host.id, f"less than {need} GB free: {'; '.join(short)}",
                     "free space or mount a larger filesystem there, or lower min_free_gb in [precheck]")]
    return [ok("disk_space", obs.host.id, "; ".join(fine) or "no paths to check")]


@check("inodes", "disk")
def inodes(obs: HostObservation, ctx: Context):
    need = ctx.cfg.precheck.min_free_inodes
    short = []
    for path, info in _paths(obs).items():
        total = info.get("total_inodes", 0)
        if total and info.get("free_inodes", 0) < need:  # filesystems without inodes report 0 total
            short.append(f"{path} ({info['free_inodes']} inodes free on {info['mount']})")
    if short:
        return [fail("inodes", obs.host.id, f"fewer than {need} free inodes: {'; '.join(short)}",
                     "delete small files there or use a filesystem with more inodes")]
    return [ok("inodes", obs.host.id, f"at least {need} free inodes on every path")]
