"""Which ports each host needs, from one table, like the DC/OS installer's port list.
Used by validation (no two components on one port of a host), the precheck (ports free)
and the firewall (open exactly these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # installer.config imports this module for its rules
    from installer.config.model import Config, Host


@dataclass(frozen=True)
class PortUse:
    port: int
    protocol: str  # tcp | udp
    component: str
    section: str
    key: str | None  # config key that sets it (None: fixed)


# group -> (component, section, key, protocol); the port is cfg.<section>.<key>.
PORT_TABLE: dict[str, list[tuple[str, str, str, str]]] = {
    "installer": [
        ("package repo (nginx)", "repo", "port", "tcp"),
        ("docker registry", "registry", "port", "tcp"),
    ],
    "masters": [
        ("zookeeper client", "zookeeper", "client_port", "tcp"),
        ("zookeeper quorum", "zookeeper", "peer_port", "tcp"),
        ("zookeeper election", "zookeeper", "election_port", "tcp"),
        ("mesos master", "mesos", "master_port", "tcp"),
        ("marathon", "marathon", "port", "tcp"),
        ("consul server rpc", "consul", "server_port", "tcp"),
    ],
    "agents": [
        ("mesos agent", "mesos", "agent_port", "tcp"),
    ],
    "lb": [
        ("haproxy marathon frontend", "haproxy", "marathon_port", "tcp"),
        ("haproxy mesos frontend", "haproxy", "mesos_port", "tcp"),
        ("haproxy consul frontend", "haproxy", "consul_port", "tcp"),
        ("haproxy stats", "haproxy", "stats_port", "tcp"),
    ],
    "mysql": [
        ("mysql", "mysql", "port", "tcp"),
    ],
    # Every cluster host (masters, agents, lb) runs a Consul agent and cAdvisor.
    "cluster": [
        ("consul serf lan", "consul", "serf_lan_port", "tcp"),
        ("consul serf lan (udp)", "consul", "serf_lan_port", "udp"),
        ("consul http", "consul", "http_port", "tcp"),
        ("consul dns", "consul", "dns_port", "tcp"),
        ("cadvisor", "cadvisor", "port", "tcp"),
    ],
}
FIXED_PORTS: dict[str, list[PortUse]] = {
    "installer": [PortUse(123, "udp", "ntp server (chrony)", "ntp", None)],
}


def host_ports(cfg: Config, host: Host) -> list[PortUse]:
    """Every port the host will listen on, in table order; sections that failed validation are left out."""
    uses: list[PortUse] = []
    for group in cfg.groups_of(host):
        uses += FIXED_PORTS.get(group, [])
        for component, section, key, protocol in PORT_TABLE[group]:
            model = getattr(cfg, section)
            if model is None:
                continue
            if section == "cadvisor" and not model.enabled:
                continue
            uses.append(PortUse(getattr(model, key), protocol, component, section, key))
        if group == "lb" and cfg.haproxy is not None:
            uses += [PortUse(fe["port"], "tcp", f"haproxy {fe['name']} frontend", "haproxy", "extra_frontends")
                     for fe in cfg.haproxy.extra_frontends]
    return uses
