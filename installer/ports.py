"""Which ports each host needs, and who may reach each, from the catalogue's ports (like the
DC/OS installer's port list). Used by validation (no two components on one port of a host),
the precheck (ports free) and the firewall (each port open to its audience only)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from installer.catalogue import AUDIENCES, components_of, host_groups

if TYPE_CHECKING:  # installer.config imports this module for its rules
    from installer.config.model import Config, Host


@dataclass(frozen=True)
class PortUse:
    port: int
    protocol: str  # tcp | udp
    component: str  # the port's label in the catalogue ("zookeeper client")
    section: str
    key: str | None  # config key that sets it (None: fixed)
    audience: str = "cluster"


# What the operator opens in a browser when there is no VIP: straight on the masters.
_ADMIN_WITHOUT_LB = {("mesos", "master_port"), ("marathon", "port"), ("consul", "http_port")}


def host_ports(cfg: Config, host: Host) -> list[PortUse]:
    """Every port the host will listen on, in catalogue order; sections that failed validation are left out."""
    uses: list[PortUse] = []
    groups = host_groups(cfg, host)
    without_lb = not cfg.group("lb")
    for component in components_of(cfg, host):
        for p in component.ports:
            if p.groups and not set(p.groups) & set(groups):
                continue
            port = p.number if p.number is not None else getattr(getattr(cfg, p.section), p.key)
            if not port:
                continue  # a port switched off (haproxy http_port = 0)
            audience = p.audience
            if without_lb and "masters" in groups and (p.section, p.key) in _ADMIN_WITHOUT_LB:
                audience = "admin"
            uses.append(PortUse(port, p.proto, p.label, p.section, p.key, audience))
        if component.name == "haproxy":
            uses += [PortUse(fe["port"], "tcp", f"haproxy {fe['name']} frontend", "haproxy", "extra_frontends",
                             "admin")
                     for fe in cfg.haproxy.extra_frontends]
    return uses


def admin_networks(cfg: Config) -> list[str]:
    """[cluster] admin_networks, or its default: the VIP's network (a /24 around it when the VIP
    has no prefix); without lb hosts, the /24 network of each master."""
    if cfg.cluster is not None and cfg.cluster.admin_networks:
        return list(cfg.cluster.admin_networks)
    if cfg.group("lb") and cfg.keepalived is not None and cfg.keepalived.vip is not None:
        vip = cfg.keepalived.vip
        network = vip.network if vip.network.prefixlen < 32 else ipaddress.IPv4Network(f"{vip.ip}/24", strict=False)
        return [str(network)]
    return list(dict.fromkeys(str(ipaddress.IPv4Network(f"{h.ip}/24", strict=False)) for h in cfg.group("masters")))


def cluster_addresses(cfg: Config) -> list[str]:
    """Every address of the cluster: its hosts, and the VIP."""
    addresses = [str(h.ip) for h in cfg.all_hosts()]
    if cfg.group("lb") and cfg.keepalived is not None and cfg.keepalived.vip is not None:
        addresses.append(str(cfg.keepalived.vip.ip))
    return list(dict.fromkeys(addresses))


def firewall_sources(cfg: Config) -> dict[str, list[str]]:
    """Who each audience of the firewall is: the same on every host (role membership writes
    them, the table of role common admits each port's audience from its set)."""
    return {
        "masters": [str(h.ip) for h in cfg.group("masters")],
        "cluster": cluster_addresses(cfg),
        "admin": cluster_addresses(cfg) + admin_networks(cfg),
    }


def firewall_rules(cfg: Config, host: Host) -> list[dict[str, object]]:
    """The host's ports grouped by who may reach them, for the firewall: one entry per
    (protocol, audience) with its ports (who each audience is: firewall_sources, kept apart
    so that a host added changes no host's rules). Loopback-only ports need none."""
    rules: dict[tuple[str, str], list[int]] = {}
    widest: dict[tuple[int, str], str] = {}
    for use in host_ports(cfg, host):
        if use.audience == "local":
            continue
        key = (use.port, use.protocol)
        # One port, two uses (a host in two groups): the wider audience wins.
        if key not in widest or AUDIENCES.index(use.audience) > AUDIENCES.index(widest[key]):
            widest[key] = use.audience
    for (port, protocol), audience in widest.items():
        rules.setdefault((protocol, audience), []).append(port)
    return [{"proto": proto, "audience": audience, "ports": sorted(ports)}
            for (proto, audience), ports in sorted(rules.items())]
