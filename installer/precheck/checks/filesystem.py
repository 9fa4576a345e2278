"""Filesystem and kernel settings: xfs ftype under the Docker root, swap, SELinux, firewall."""

from installer.precheck.model import Context, HostObservation, fail, ok, warn
from installer.precheck.registry import check

DOCKER_ROOT = "/var/lib/docker"


@check("xfs_ftype", "filesystem")
def xfs_ftype(obs: HostObservation, ctx: Context):
    info = obs.probe.get("paths", {}).get(DOCKER_ROOT)
    if info is None:
        return []
    if info.get("fstype") != "xfs":
        return [ok("xfs_ftype", obs.host.id, f"{DOCKER_ROOT} is on {info.get('fstype') or 'unknown'}")]
    if info.get("xfs_ftype") == 1:
        return [ok("xfs_ftype", obs.host.id, f"{DOCKER_ROOT} is on xfs with ftype=1")]
    if info.get("xfs_ftype") is None:
        return [warn("xfs_ftype", obs.host.id, f"{DOCKER_ROOT} is on xfs but its ftype could not be read",
                     "install xfsprogs, then check `xfs_info` shows ftype=1")]
    return [fail("xfs_ftype", obs.host.id, f"{DOCKER_ROOT} is on xfs with ftype=0: Docker's overlay2 needs ftype=1",
                 f"put {DOCKER_ROOT} on a filesystem made with mkfs.xfs -n ftype=1")]


@check("swap", "filesystem")
def swap(obs: HostObservation, ctx: Context):
    kb = obs.probe.get("swap_kb", 0)
    if kb:
        return [warn("swap", obs.host.id, f"swap is on ({kb // 1024} MB): JVM services and Mesos tasks slow down "
                     "badly when swapped", "swapoff -a and remove swap from /etc/fstab")]
    return [ok("swap", obs.host.id, "swap is off")]


@check("selinux", "filesystem")
def selinux(obs: HostObservation, ctx: Context):
    mode = obs.probe.get("selinux", "absent")
    wanted = ctx.cfg.cluster.selinux
    if mode == "absent":
        return [ok("selinux", obs.host.id, "SELinux is not present")]
    if mode == wanted or (mode == "permissive" and wanted == "disabled"):
        return [ok("selinux", obs.host.id, f"SELinux is {mode}")]
    return [ok("selinux", obs.host.id, f"SELinux is {mode}; the hosts phase sets it to {wanted}")]


@check("firewall", "filesystem")
def firewall(obs: HostObservation, ctx: Context):
    state = obs.probe.get("firewall", {})
    active = [name for name, value in (("firewalld", state.get("firewalld")), ("ufw", state.get("ufw")))
              if value in ("running", "active")]
    if not active and state.get("nft_rules"):
        # A raw nftables ruleset is the operator's own (not the installer's table, not Docker's):
        # the installer does not edit it.
        return [warn("firewall", obs.host.id, f"nftables has {state['nft_rules']} rules that the installer does not "
                     "manage", "make sure the ports of docs/precheck.md are open between the hosts, or use "
                     "firewalld/ufw")]
    if not active:
        return [ok("firewall", obs.host.id, "the installer's nftables table filters the cluster's ports"
                   if state.get("dcos_table") else "no firewall is active")]
    if ctx.cfg.cluster.firewall == "off":
        return [warn("firewall", obs.host.id, f"{', '.join(active)} active but [cluster] firewall = off: the "
                     "installer will not open ports, traffic between hosts may be dropped",
                     "stop the firewall, or set firewall = open-ports")]
    return [ok("firewall", obs.host.id, f"{', '.join(active)} active; the needed ports will be opened")]
