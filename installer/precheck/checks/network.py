"""Names and addresses: a valid, unique hostname; the configured IP is the host's own; the
other hosts' names resolve to their configured addresses (or will be in /etc/hosts)."""

from installer.config.types import is_hostname
from installer.precheck.model import Context, HostObservation, fail, ok, warn
from installer.precheck.registry import check


def current_name(obs: HostObservation) -> str:
    return (obs.facts.get("hostname") or "").lower()


@check("hostname", "network")
def hostname(obs: HostObservation, ctx: Context):
    wanted = obs.host.name
    now = current_name(obs)
    if wanted:
        if now == wanted.split(".")[0]:
            return [ok("hostname", obs.host.id, f"hostname is {now}")]
        return [ok("hostname", obs.host.id, f"hostname {now or '(none)'} will be set to {wanted}")]
    if not is_hostname(now) or now in ("localhost", "localhost.localdomain"):
        return [fail("hostname", obs.host.id, f"hostname {now!r} is not a valid RFC 1123 host name",
                     f"name the host in config.cfg: <name> = {obs.host.ip}")]
    twins = [other.host.id for other in ctx.hosts.values()
             if other is not obs and other.observed
             and (other.host.name or current_name(other)).split(".")[0] == now]
    if twins:
        return [fail("hostname", obs.host.id, f"hostname {now} is also the name of {', '.join(twins)}",
                     f"give each host its own name in config.cfg: <name> = {obs.host.ip}")]
    return [ok("hostname", obs.host.id, f"hostname is {now}")]


@check("ip_address", "network")
def ip_address(obs: HostObservation, ctx: Context):
    have = obs.facts.get("all_ipv4_addresses", [])
    wanted = str(obs.host.ip)
    if wanted in have:
        return [ok("ip_address", obs.host.id, f"{wanted} is an address of this host")]
    return [fail("ip_address", obs.host.id, f"{wanted} is not an address of this host (it has: "
                 f"{', '.join(have) or 'none'})", "correct the host's address in config.cfg")]


@check("name_resolution", "network")
def name_resolution(obs: HostObservation, ctx: Context):
    answers = obs.probe.get("dns", {})
    wrong, loopback = [], []
    for host in ctx.cfg.all_hosts():
        if not host.name or host.name not in answers:
            continue
        found = answers[host.name]
        if host is obs.host or host == obs.host:
            loopback += [a for a in found if a.startswith("127.")]
        elif found and str(host.ip) not in found:
            wrong.append(f"{host.name} resolves to {', '.join(found)}, config.cfg says {host.ip}")
    if wrong:
        return [warn("name_resolution", obs.host.id, "; ".join(wrong),
                     "fix DNS: /etc/hosts on the cluster hosts will say otherwise than DNS for other clients")]
    if loopback:
        return [warn("name_resolution", obs.host.id, f"its own name resolves to {', '.join(loopback)}: services "
                     "would bind to loopback", "the hosts phase removes that line from /etc/hosts")]
    return [ok("name_resolution", obs.host.id, "host names resolve to their configured addresses, or will be "
               "written to /etc/hosts")]
