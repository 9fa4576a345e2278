"""Ports: every port a host's components need is free, or held by that component as this
installer put it there. The ports come from the catalogue (installer.ports)."""

from installer.catalogue import owner_of_port
from installer.ports import host_ports
from installer.precheck.model import Context, HostObservation, fail, ok
from installer.precheck.registry import check


def _ours(obs: HostObservation, fact: str) -> bool:
    return fact in obs.probe.get("local_facts", {})


@check("ports_free", "ports")
def ports_free(obs: HostObservation, ctx: Context):
    listening = {}
    for sock in obs.probe.get("listening", []):
        listening.setdefault((sock["port"], sock["proto"]), sock)
    taken = []
    needed = host_ports(ctx.cfg, obs.host)
    for use in needed:
        sock = listening.get((use.port, use.protocol))
        if sock is None:
            continue
        owner = owner_of_port(use.section, use.key)
        process = sock.get("process") or "an unknown process"
        if owner and process in owner.foreign.processes and (_ours(obs, owner.fact) or owner.adopt_by_default):
            continue  # our own component, from an earlier run
        taken.append(f"{use.port}/{use.protocol} ({use.component}) is held by {process}"
                     + (f" pid {sock['pid']}" if sock.get("pid") else ""))
    if taken:
        return [fail("ports_free", obs.host.id, "; ".join(taken),
                     "stop what holds the port, or move the component to another port in config.cfg")]
    ports = ", ".join(f"{u.port}/{u.protocol}" for u in needed)
    return [ok("ports_free", obs.host.id, f"free: {ports}" if ports else "no ports needed")]
