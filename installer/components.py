"""The components the installer puts on hosts: where each goes, how to recognise one that
is already there, and the local fact (/etc/ansible/facts.d/<fact>.fact) a role writes to
say "installed by the DCOS installer". One table, used by config validation (adopt), the
precheck (foreign installs, ports) and the roles' guards."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Component:
    name: str
    groups: tuple[str, ...]  # inventory groups that get it ("cluster": masters, agents and lb)
    units: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()  # process names that may own its ports
    adopt_by_default: bool = False  # present on most hosts already; managed without asking
    ports: tuple[tuple[str, str | None], ...] = field(default=())  # (section, key) of its ports
    fact_name: str = ""  # local fact of the role that installs it; default dcos_<name>

    @property
    def fact(self) -> str:
        return self.fact_name or "dcos_" + self.name.replace("-", "_")

    def evidence(self) -> dict[str, list[str]]:
        return {"units": list(self.units), "binaries": list(self.binaries), "packages": list(self.packages)}


COMPONENTS: tuple[Component, ...] = (
    Component("chrony", ("installer", "cluster"), units=("chrony.service", "chronyd.service"),
              packages=("chrony",), processes=("chronyd",), adopt_by_default=True, ports=(("ntp", None),),
              fact_name="dcos_ntp"),
    Component("nginx", ("installer",), units=("nginx.service",), packages=("nginx",), processes=("nginx",),
              ports=(("repo", "port"),), fact_name="dcos_repo"),
    Component("docker-registry", ("installer",), units=("docker-registry.service",),
              packages=("docker-registry", "docker-distribution"), processes=("docker-registry", "registry"),
              ports=(("registry", "port"),), fact_name="dcos_registry"),
    Component("docker", ("installer", "cluster"), units=("docker.service",), binaries=("dockerd",),
              packages=("docker-ce", "docker.io", "docker", "moby-engine"), processes=("dockerd",)),
    Component("zookeeper", ("masters",), units=("zookeeper.service",), binaries=("zkServer.sh",),
              packages=("zookeeper", "zookeeperd"), processes=("java",),
              ports=(("zookeeper", "client_port"), ("zookeeper", "peer_port"), ("zookeeper", "election_port"))),
    Component("mesos-master", ("masters",), units=("mesos-master.service",), binaries=("mesos-master",),
              processes=("mesos-master",), ports=(("mesos", "master_port"),)),
    Component("mesos-agent", ("agents",), units=("mesos-agent.service", "mesos-slave.service"),
              binaries=("mesos-agent", "mesos-slave"), processes=("mesos-agent", "mesos-slave"),
              ports=(("mesos", "agent_port"),)),
    Component("marathon", ("masters",), units=("marathon.service",), binaries=("marathon",),
              packages=("marathon",), processes=("java", "marathon"), ports=(("marathon", "port"),)),
    Component("consul", ("cluster",), units=("consul.service",), binaries=("consul",), packages=("consul",),
              processes=("consul",),
              ports=(("consul", "server_port"), ("consul", "serf_lan_port"), ("consul", "http_port"),
                     ("consul", "dns_port"))),
    Component("haproxy", ("lb",), units=("haproxy.service",), packages=("haproxy",), processes=("haproxy",),
              ports=(("haproxy", "marathon_port"), ("haproxy", "mesos_port"), ("haproxy", "consul_port"),
                     ("haproxy", "stats_port"), ("haproxy", "http_port"), ("haproxy", "extra_frontends"))),
    Component("keepalived", ("lb",), units=("keepalived.service",), packages=("keepalived",),
              processes=("keepalived",)),
    Component("mysql", ("mysql",), units=("mysql.service", "mysqld.service", "mariadb.service"),
              packages=("mariadb-server", "mysql-server", "mysql-community-server"),
              processes=("mysqld", "mariadbd"), ports=(("mysql", "port"),)),
    Component("cadvisor", ("cluster",), units=("cadvisor.service",), binaries=("cadvisor",),
              packages=("cadvisor",), processes=("cadvisor",), ports=(("cadvisor", "port"),)),
)
COMPONENT_NAMES = tuple(c.name for c in COMPONENTS)


def by_name(name: str) -> Component:
    for component in COMPONENTS:
        if component.name == name:
            return component
    raise KeyError(name)


def owner_of_port(section: str, key: str | None) -> Component | None:
    for component in COMPONENTS:
        if (section, key) in component.ports:
            return component
    return None
