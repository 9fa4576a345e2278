"""Which ports each host needs, and who may reach each, from one table, like the DC/OS
installer's port list. Used by validation (no two components on one port of a host), the
precheck (ports free) and the firewall (each port open to its audience only)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # installer.config imports this module for its rules
    from installer.config.model import Config, Host

# Who may connect to a port:
#   local    only this host (the program binds to loopback; the firewall has nothing to open)
#   masters  the masters (ZooKeeper's quorum and election)
#   cluster  every host of config.cfg (installer, masters, agents, lb) and the VIP
#   admin    the cluster and [cluster] admin_networks (authenticated frontends)
AUDIENCES = ("local", "masters", "cluster", "admin")


@dataclass(frozen=True)
class PortUse:
    port: int
    protocol: str  # tcp | udp
    component: str
    section: str
    key: str | None  # config key that sets it (None: fixed)
    audience: str = "cluster"


# group -> (component, section, key, protocol, audience); the port is cfg.<section>.<key>.
# "all": every host, the installer host included (Consul runs everywhere).
PORT_TABLE: dict[str, list[tuple[str, str, str, str, str]]] = {
    "installer": [
        ("package repo (nginx)", "repo", "port", "tcp", "cluster"),
        # Operators push their images to it: authenticated (htpasswd) and TLS.
        ("docker registry", "registry", "port", "tcp", "admin"),
    ],
    "masters": [
        ("zookeeper client", "zookeeper", "client_port", "tcp", "cluster"),
        ("zookeeper quorum", "zookeeper", "peer_port", "tcp", "masters"),
        ("zookeeper election", "zookeeper", "election_port", "tcp", "masters"),
        # Without lb hosts the operator reaches these directly: admin (see host_ports).
        ("mesos master", "mesos", "master_port", "tcp", "cluster"),
        ("marathon", "marathon", "port", "tcp", "cluster"),
        ("consul server rpc", "consul", "server_port", "tcp", "cluster"),
    ],
    "agents": [
        ("mesos agent", "mesos", "agent_port", "tcp", "cluster"),
    ],
    "lb": [
        ("haproxy marathon frontend", "haproxy", "marathon_port", "tcp", "admin"),
        ("haproxy mesos frontend", "haproxy", "mesos_port", "tcp", "admin"),
        ("haproxy consul frontend", "haproxy", "consul_port", "tcp", "admin"),
        ("haproxy stats", "haproxy", "stats_port", "tcp", "admin"),
        ("haproxy http redirect", "haproxy", "http_port", "tcp", "admin"),
    ],
    "mysql": [
        ("mysql", "mysql", "port", "tcp", "cluster"),
    ],
    "all": [
        ("consul serf lan", "consul", "serf_lan_port", "tcp", "cluster"),
        ("consul serf lan (udp)", "consul", "serf_lan_port", "udp", "cluster"),
        # Servers answer on the cluster address for HAProxy's Consul frontend; clients on loopback.
        ("consul http", "consul", "http_port", "tcp", "cluster"),
        ("consul dns", "consul", "dns_port", "tcp", "local"),
        ("consul dns (udp)", "consul", "dns_port", "udp", "local"),
    ],
    # Every cluster host (masters, agents, lb) runs cAdvisor.
    "cluster": [
        ("cadvisor", "cadvisor", "port", "tcp", "cluster"),
    ],
}
FIXED_PORTS: dict[str, list[PortUse]] = {
    "installer": [PortUse(123, "udp", "ntp server (chrony)", "ntp", None, "cluster")],
}
# What the operator opens in a browser when there is no VIP: straight on the masters.
_ADMIN_WITHOUT_LB = {("mesos", "master_port"), ("marathon", "port"), ("consul", "http_port")}


def host_ports(cfg: Config, host: Host) -> list[PortUse]:
    """Every port the host will listen on, in table order; sections that failed validation are left out."""
    uses: list[PortUse] = []
    groups = [*cfg.groups_of(host), "all"]
    without_lb = not cfg.group("lb")
    for group in groups:
        uses += FIXED_PORTS.get(group, [])
        for component, section, key, protocol, table_audience in PORT_TABLE[group]:
            model = getattr(cfg, section)
            if model is None:
                continue
            if section == "cadvisor" and not model.enabled:
                continue
            port = getattr(model, key)
            if not port:
                continue  # a port switched off (haproxy http_port = 0)
            audience = table_audience
            if without_lb and "masters" in groups and (section, key) in _ADMIN_WITHOUT_LB:
                audience = "admin"
            uses.append(PortUse(port, protocol, component, section, key, audience))
        if group == "lb" and cfg.haproxy is not None:
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


def firewall_rules(cfg: Config, host: Host) -> list[dict[str, object]]:
    """The host's ports grouped by who may reach them, for the firewall: one entry per
    (protocol, audience) with its ports and source networks. Loopback-only ports need none."""
    sources = {
        "masters": [str(h.ip) for h in cfg.group("masters")],
        "cluster": cluster_addresses(cfg),
        "admin": cluster_addresses(cfg) + admin_networks(cfg),
    }
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
    return [{"proto": proto, "audience": audience, "ports": sorted(ports), "sources": sources[audience]}
            for (proto, audience), ports in sorted(rules.items())]
