"""The validated cluster description that everything after validation works from."""

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from installer.config.reader import RawConfig
from installer.config.schema import (
    CadvisorSection,
    ClusterSection,
    ConsulSection,
    HaproxySection,
    KeepalivedSection,
    MarathonSection,
    MesosSection,
    MysqlSection,
    NtpSection,
    PrecheckSection,
    RegistrySection,
    RepoSection,
    UpgradeSection,
    ZookeeperSection,
)


@dataclass(frozen=True)
class Host:
    """A cluster host: named by its IP alone, or by a hostname with its IP."""

    ip: ipaddress.IPv4Address
    name: str | None = None
    # Where Ansible connects, when not the cluster IP (a management network, a jump NAT).
    ssh_address: str | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        """Inventory name: the hostname when given, else the IP."""
        return self.name or str(self.ip)

    def __str__(self) -> str:
        return f"{self.name} ({self.ip})" if self.name else str(self.ip)


@dataclass
class Config:
    path: Path
    raw: RawConfig
    hosts: dict[str, list[Host]] = field(default_factory=dict)  # host section -> hosts, in file order
    host_lines: dict[tuple[str, Host], int] = field(default_factory=dict)
    # Host entries refused (their error is said once): their names, and the sections that held
    # them, so that no rule repeats it as a missing host or a wrong count.
    broken_hosts: set[str] = field(default_factory=set)
    broken_sections: set[str] = field(default_factory=set)
    # Sections; None when the section had errors (rules then leave it alone).
    cluster: ClusterSection | None = None
    keepalived: KeepalivedSection | None = None
    registry: RegistrySection | None = None
    repo: RepoSection | None = None
    ntp: NtpSection | None = None
    zookeeper: ZookeeperSection | None = None
    mesos: MesosSection | None = None
    marathon: MarathonSection | None = None
    consul: ConsulSection | None = None
    haproxy: HaproxySection | None = None
    mysql: MysqlSection | None = None
    cadvisor: CadvisorSection | None = None
    upgrade: UpgradeSection | None = None
    precheck: PrecheckSection | None = None
    # Resolved references (mysql master/slave).
    mysql_master: Host | None = None
    mysql_slave: Host | None = None

    def line_of(self, section: str, key: str | None = None) -> int | None:
        raw = self.raw.sections.get(section)
        if raw is None:
            return None
        if key is not None and key in raw.entries:
            return raw.entries[key].line
        return raw.line

    def group(self, name: str) -> list[Host]:
        return self.hosts.get(name, [])

    @property
    def installer(self) -> Host | None:
        return self.group("installer")[0] if self.group("installer") else None

    def all_hosts(self) -> list[Host]:
        """Every distinct host, installer first, in file order."""
        seen: dict[Host, None] = {}
        for hosts in self.hosts.values():
            for host in hosts:
                seen.setdefault(host, None)
        return list(seen)

    def cluster_hosts(self) -> list[Host]:
        """Hosts that run cluster components (masters, agents, lb), without a pure installer host."""
        members = {h for g in ("masters", "agents", "lb") for h in self.group(g)}
        return [h for h in self.all_hosts() if h in members]

    def groups_of(self, host: Host) -> list[str]:
        """The inventory groups a host belongs to, "cluster" included for masters, agents, lb."""
        groups = [g for g in ("installer", "masters", "agents", "lb") if host in self.group(g)]
        if host in (self.mysql_master, self.mysql_slave):
            groups.append("mysql")
        if host in self.cluster_hosts():
            groups.append("cluster")
        return groups

    def find_host(self, ref: str) -> Host | None:
        """A host by its name or IP."""
        ref = ref.strip().lower()
        for host in self.all_hosts():
            if ref in (host.name, str(host.ip)):
                return host
        return None
