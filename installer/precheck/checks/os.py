"""Operating system: reachable over SSH, root through become, supported OS, systemd, Python."""

from installer.precheck.model import Context, HostObservation, fail, ok
from installer.precheck.registry import check

SUPPORTED = {
    "RedHat": {"7", "8", "9"},  # RHEL, CentOS, Rocky, AlmaLinux, Oracle Linux
    "Debian": {"11", "12"},
    "Ubuntu": {"20.04", "22.04"},
}
EL_NAMES = {"RedHat", "CentOS", "Rocky", "AlmaLinux", "OracleLinux", "Oracle Linux Server"}
SUPPORTED_TEXT = "EL 7/8/9, Debian 11/12, Ubuntu 20.04/22.04"


@check("reachable", "os", needs_observation=False)
def reachable(obs: HostObservation, ctx: Context):
    if obs.error_kind == "unreachable":
        user = ctx.cfg.cluster.ssh_user
        return [fail("reachable", obs.host.id, f"cannot log in over SSH as {user}: {obs.error}",
                     f"check the address, that sshd runs, and that {user} accepts the key in ssh_key_file")]
    return [ok("reachable", obs.host.id, "SSH login works")]


@check("become", "os", needs_observation=False)
def become(obs: HostObservation, ctx: Context):
    if obs.error_kind == "unreachable":
        return []
    if obs.error_kind == "failed":
        return [fail("become", obs.host.id, f"the host could not be observed: {obs.error}",
                     "run the precheck with -vvv and read install.log in the run directory")]
    if obs.error_kind == "become":
        method = ctx.cfg.cluster.become_method
        return [fail("become", obs.host.id, f"cannot become root with {method}: {obs.error}",
                     f"give {ctx.cfg.cluster.ssh_user} passwordless {method}, or log in as root")]
    if obs.probe.get("euid") != 0:
        return [fail("become", obs.host.id, "commands do not run as root",
                     "set become = true in [cluster]")]
    return [ok("become", obs.host.id, f"root through {ctx.cfg.cluster.become_method}")]


def os_key(facts: dict) -> tuple[str, str]:
    """(family key of SUPPORTED, version to compare) from Ansible's distribution facts."""
    name = facts.get("distribution", "")
    if name in EL_NAMES or (facts.get("os_family") == "RedHat" and name not in ("Fedora", "Amazon")):
        return "RedHat", str(facts.get("distribution_major_version", ""))
    if name == "Ubuntu":
        return "Ubuntu", str(facts.get("distribution_version", ""))
    if name == "Debian":
        return "Debian", str(facts.get("distribution_major_version", ""))
    return name or "unknown", str(facts.get("distribution_version", ""))


@check("os_supported", "os")
def os_supported(obs: HostObservation, ctx: Context):
    family, version = os_key(obs.facts)
    found = f"{obs.facts.get('distribution', 'unknown')} {obs.facts.get('distribution_version', '')}".strip()
    if version in SUPPORTED.get(family, set()):
        return [ok("os_supported", obs.host.id, found)]
    return [fail("os_supported", obs.host.id, f"{found} is not supported (supported: {SUPPORTED_TEXT})",
                 "install a supported OS on this host")]


@check("systemd", "os")
def systemd(obs: HostObservation, ctx: Context):
    if obs.probe.get("systemd") and obs.facts.get("service_mgr", "systemd") == "systemd":
        return [ok("systemd", obs.host.id, "systemd is the init system")]
    return [fail("systemd", obs.host.id, f"systemd is not running as init (found {obs.facts.get('service_mgr')})",
                 "every service is installed as a systemd unit; use a systemd-based OS")]


@check("python", "os")
def python(obs: HostObservation, ctx: Context):
    version = obs.facts.get("python", {}).get("version", {})
    text = ".".join(str(version.get(k, "?")) for k in ("major", "minor", "micro"))
    major, minor = version.get("major", 0), version.get("minor", 0)
    if (major, minor) >= (3, 6) or (major, minor) == (2, 7):
        return [ok("python", obs.host.id, f"Python {text} at {obs.facts.get('python', {}).get('executable', '?')}")]
    return [fail("python", obs.host.id, f"Python {text} is too old for Ansible (needs 2.7 or 3.6+)",
                 "install python3 on the host")]
