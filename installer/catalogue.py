"""The catalogue: every component the installer puts on hosts, said once.

For each component: its config.cfg section, the inventory groups that run it, the role that
installs it, its systemd units per OS family, its ports and who may reach each, what a
foreign install of it looks like, the files and data folders it owns, the local fact that
marks it as ours, its health probe and the services it registers in Consul.

Everything else reads this table: config validation (port clashes, shared data folders,
adopt names), the precheck (ports free, foreign installs, disk of data folders), the
inventory the installer writes for Ansible (`dcos_ports`, `dcos_firewall`, `dcos_units`,
`dcos_consul_services` per host), and through it the firewall, Consul's service
registration and verify's unit checks. tests/unit/test_catalogue.py holds it against the
playbooks' `hosts:` lines and the roles' own variables, so the two cannot drift apart.

Why a Python module and not a YAML file: every consumer runs in the installer's Python
(Ansible gets the per-host result in its inventory, already resolved against config.cfg),
the entries are typed and checked when the module is imported, and the few rules that are
not plain data (a component only when its section is there, cAdvisor only when enabled)
sit next to the data they qualify instead of in a template language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # installer.config imports this module for its rules
    from installer.config.model import Config, Host

FAMILIES = ("Debian", "RedHat")  # ansible_facts['os_family'] of the supported hosts
GROUPS = ("installer", "masters", "agents", "lb", "mysql", "cluster", "all")

# Who may connect to a port:
#   local    only this host (the program binds to loopback; the firewall has nothing to open)
#   masters  the masters (ZooKeeper's quorum and election)
#   cluster  every host of config.cfg (installer, masters, agents, lb) and the VIP
#   admin    the cluster and [cluster] admin_networks (authenticated frontends)
AUDIENCES = ("local", "masters", "cluster", "admin")


@dataclass(frozen=True)
class Port:
    label: str  # as the precheck and docs/precheck.md name it
    section: str
    key: str | None  # config key that sets it; None for a fixed `number`
    proto: str = "tcp"
    audience: str = "cluster"
    groups: tuple[str, ...] = ()  # where it opens, when not on every host of the component
    number: int | None = None


@dataclass(frozen=True)
class Foreign:
    """What an install of the component made by someone else looks like (the precheck's probe)."""
    units: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()  # process names that may own its ports
    # Files its role's claim refuses to install over (its `footprint`, both OS families): the
    # precheck looks for them too, so it finds first what the role would refuse.
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Folder:
    what: str  # "ZooKeeper's data", as messages name it
    section: str | None = None  # config.cfg key that sets it ...
    key: str | None = None
    path: str | None = None  # ... or a fixed folder
    # Paths inside it that are the host's identity to the cluster, not data: they go with an
    # uninstall even when the folder stays (a Mesos agent's checkpointed agent ID: kept, a new
    # install would try to come back as an agent the masters marked gone).
    identity: tuple[str, ...] = ()


@dataclass(frozen=True)
class Probe:
    """How to ask a running instance whether it is healthy, on the host's cluster address."""
    kind: str  # http | tcp | script
    section: str = ""  # its port: cfg.<section>.<key>
    key: str = ""
    path: str = "/"  # http: the path asked
    auth: str = ""  # http: the basic-auth credentials it needs ("marathon")
    script: str = ""  # script: a command line, {ip} and {port} filled in
    interval: str = "10s"
    timeout: str = ""


@dataclass(frozen=True)
class Service:
    """A service the component registers in Consul, checked by its probe."""
    name: str  # a "{mysql_role}" in it is filled in per host
    probe: Probe
    id: str = ""
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # only on these hosts of the component


def _everywhere(*units: str) -> dict[str, tuple[str, ...]]:
    return {family: units for family in FAMILIES}


@dataclass(frozen=True)
class Component:
    name: str  # as [cluster] adopt names it
    role: str  # the role (roles/<role>) that installs it
    section: str | None  # its config.cfg section (None: always there)
    groups: tuple[str, ...]
    units: dict[str, tuple[str, ...]]  # systemd units it runs, per OS family
    unit_var: str = ""  # the role's variable that names its (first) unit
    clients: tuple[str, ...] = ()  # groups where its role configures only the client side
    ports: tuple[Port, ...] = ()
    foreign: Foreign = field(default_factory=Foreign)
    adoptable: bool = True  # named in [cluster] adopt (a foreign install of it can exist)
    adopt_by_default: bool = False  # present on most hosts already; managed without asking
    files: tuple[str, ...] = ()  # configuration it writes (files or folders), besides data
    # What uninstall takes off a host besides `files`, per OS family: the packages that are the
    # component (with the ones that carry its foreign evidence, so that a new install's precheck
    # passes after) and files of one family only.
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    family_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    masked: tuple[str, ...] = ()  # the package's own units its role masks (unmasked by uninstall)
    # Its unit leaves processes running when it stops (KillMode=process: a Mesos agent's
    # executors and tasks survive an agent restart); uninstall stops it, then kills what is left
    # in its cgroup and in its data folders (roles/uninstall/files/stop-leaving.sh).
    leaves_processes: bool = False
    data: tuple[Folder, ...] = ()
    services: tuple[Service, ...] = ()  # the first one's probe is the component's health probe
    # Only where this holds for the config (besides its section being there).
    enabled: Callable[[Config], bool] | None = None

    @property
    def probe(self) -> Probe | None:
        """How to ask an instance whether it is healthy: its first Consul service's check."""
        return self.services[0].probe if self.services else None

    @property
    def fact(self) -> str:
        """The local fact (/etc/ansible/facts.d/<fact>.fact) its role writes: installed by us."""
        return "dcos_" + self.role

    def evidence(self) -> dict[str, list[str]]:
        return {"units": list(self.foreign.units), "binaries": list(self.foreign.binaries),
                "packages": list(self.foreign.packages), "paths": list(self.foreign.paths)}

    def present_in(self, cfg: Config) -> bool:
        if self.section is not None and getattr(cfg, self.section, None) is None:
            return False
        return self.enabled is None or bool(self.enabled(cfg))

    def on(self, cfg: Config, host: Host) -> bool:
        """Whether the host runs it."""
        return self.present_in(cfg) and bool(set(self.groups) & set(host_groups(cfg, host)))


def host_groups(cfg: Config, host: Host) -> list[str]:
    return [*cfg.groups_of(host), "all"]


def _http(section: str, key: str, path: str, **kw: Any) -> Probe:
    return Probe("http", section, key, path, **kw)


CATALOGUE: tuple[Component, ...] = (
    Component(
        "chrony", "ntp", "ntp", ("installer", "cluster"),
        units={"Debian": ("chrony",), "RedHat": ("chronyd",)}, unit_var="__ntp_service",
        ports=(Port("ntp server (chrony)", "ntp", None, "udp", groups=("installer",), number=123),),
        foreign=Foreign(units=("chrony.service", "chronyd.service"), packages=("chrony",), processes=("chronyd",)),
        adopt_by_default=True,
        files=("/etc/chrony/chrony.conf",),
        family_files={"RedHat": ("/etc/chrony.conf",)},
        # Kept by uninstall (time keeps being kept): adopted by default, most hosts had it before.
    ),
    Component(
        "nginx", "repo", "repo", ("installer",), clients=("cluster",),
        units=_everywhere("nginx"),
        ports=(Port("package repo (nginx)", "repo", "port"),),
        foreign=Foreign(units=("nginx.service",), packages=("nginx",), processes=("nginx",)),
        files=("/etc/nginx/sites-available/dcos-repo", "/etc/apt/sources.list.d/dcos.sources",
               "/etc/apt/keyrings/dcos-repo.gpg"),
        data=(Folder("the package repo", path="/srv/dcos"),),
        services=(Service("repo", _http("repo", "port", "/")),),
        packages={"Debian": ("nginx", "nginx-common"), "RedHat": ("nginx",)},
        family_files={"RedHat": ("/etc/nginx/conf.d/dcos-repo.conf", "/etc/yum.repos.d/dcos.repo",
                                 "/etc/pki/rpm-gpg/RPM-GPG-KEY-dcos-repo")},
    ),
    Component(
        "docker-registry", "registry", "registry", ("installer",), clients=("cluster",),
        units={"Debian": ("docker-registry",), "RedHat": ("docker-distribution",)}, unit_var="__registry_service",
        # Operators push their images to it: authenticated (htpasswd) and TLS.
        ports=(Port("docker registry", "registry", "port", audience="admin"),),
        foreign=Foreign(units=("docker-registry.service",), packages=("docker-registry", "docker-distribution"),
                        processes=("docker-registry", "registry")),
        files=("/etc/docker/registry/config.yml", "/etc/docker/registry/tls", "/etc/docker/registry/htpasswd"),
        family_files={"RedHat": ("/etc/docker-distribution/registry/config.yml",)},
        data=(Folder("the registry's storage", "registry", "data_dir"),),
        services=(Service("registry", Probe("tcp", "registry", "port")),),
        packages={"Debian": ("docker-registry",), "RedHat": ("docker-distribution",)},
    ),
    Component(
        "docker", "docker", None, ("installer", "cluster"),
        units=_everywhere("docker"),
        foreign=Foreign(units=("docker.service",), binaries=("dockerd",),
                        packages=("docker-ce", "docker.io", "docker", "moby-engine"), processes=("dockerd",),
                        paths=("/usr/sbin/dockerd", "/usr/bin/dockerd")),
        files=("/etc/docker/daemon.json",),
        data=(Folder("Docker's data root", path="/var/lib/docker"),),
        packages={"Debian": ("docker.io",), "RedHat": ("docker-ce", "docker-ce-cli")},
    ),
    Component(
        "zookeeper", "zookeeper", "zookeeper", ("masters",),
        units=_everywhere("zookeeper"),
        ports=(Port("zookeeper client", "zookeeper", "client_port"),
               Port("zookeeper quorum", "zookeeper", "peer_port", audience="masters"),
               Port("zookeeper election", "zookeeper", "election_port", audience="masters")),
        foreign=Foreign(units=("zookeeper.service",), binaries=("zkServer.sh",), packages=("zookeeper", "zookeeperd"),
                        processes=("java",), paths=("/lib/systemd/system/zookeeper.service", "/etc/init.d/zookeeper",
                                                    "/usr/share/java/zookeeper.jar")),
        files=("/etc/zookeeper/dcos", "/etc/systemd/system/zookeeper.service"),
        data=(Folder("ZooKeeper's data", "zookeeper", "data_dir"),),
        services=(Service("zookeeper", Probe("tcp", "zookeeper", "client_port")),),
        packages={"Debian": ("zookeeper", "libzookeeper-java"), "RedHat": ()},
        family_files={"RedHat": ("/opt/zookeeper",)},
    ),
    Component(
        "mesos-master", "mesos_master", "mesos", ("masters",),
        units=_everywhere("dcos-mesos-master"), unit_var="__mesos_master_unit",
        # Without lb hosts the operator reaches it directly: admin (see installer.ports).
        ports=(Port("mesos master", "mesos", "master_port"),),
        foreign=Foreign(units=("mesos-master.service",), binaries=("mesos-master",), processes=("mesos-master",),
                        paths=("/usr/sbin/mesos-master",)),
        files=("/etc/dcos/mesos-master", "/etc/systemd/system/dcos-mesos-master.service"),
        data=(Folder("the Mesos master's work dir", "mesos", "master_work_dir"),
              Folder("the Mesos logs", path="/var/log/mesos")),
        services=(Service("mesos-master", _http("mesos", "master_port", "/health")),
                  Service("mesos-master", Probe(
                      "script", "mesos", "master_port", interval="5s",
                      script="curl -sf http://{ip}:{port}/metrics/snapshot | grep -q master/elected.:1 || exit 2"),
                      id="mesos-master-leader", tags=("leader",))),
        packages=_everywhere("mesos"), masked=("mesos-master", "mesos-slave"),
    ),
    Component(
        "mesos-agent", "mesos_agent", "mesos", ("agents",),
        units=_everywhere("dcos-mesos-agent"), unit_var="__mesos_agent_unit",
        ports=(Port("mesos agent", "mesos", "agent_port"),),
        foreign=Foreign(units=("mesos-agent.service", "mesos-slave.service"), binaries=("mesos-agent", "mesos-slave"),
                        processes=("mesos-agent", "mesos-slave"), paths=("/usr/sbin/mesos-agent",)),
        files=("/etc/dcos/mesos-agent", "/etc/systemd/system/dcos-mesos-agent.service"),
        data=(Folder("the Mesos agent's work dir", "mesos", "agent_work_dir", identity=("meta/slaves/latest",)),
              Folder("the Mesos logs", path="/var/log/mesos")),
        services=(Service("mesos-agent", _http("mesos", "agent_port", "/health")),),
        packages=_everywhere("mesos"), masked=("mesos-master", "mesos-slave"), leaves_processes=True,
    ),
    Component(
        "marathon", "marathon", "marathon", ("masters",),
        units=_everywhere("dcos-marathon"), unit_var="__marathon_unit",
        ports=(Port("marathon", "marathon", "port"),),
        foreign=Foreign(units=("marathon.service",), binaries=("marathon",), packages=("marathon",),
                        processes=("java", "marathon"), paths=("/usr/share/marathon/bin/marathon",)),
        files=("/etc/marathon", "/etc/systemd/system/dcos-marathon.service"),
        # Marathon asks for its credentials on every path, /ping too.
        services=(Service("marathon", _http("marathon", "port", "/ping", auth="marathon")),),
        packages=_everywhere("marathon"), masked=("marathon",),
    ),
    Component(
        "consul", "consul", "consul", ("all",),
        units=_everywhere("consul"), unit_var="__consul_unit",
        ports=(Port("consul server rpc", "consul", "server_port", groups=("masters",)),
               Port("consul serf lan", "consul", "serf_lan_port"),
               Port("consul serf lan (udp)", "consul", "serf_lan_port", "udp"),
               # Servers answer on the cluster address for HAProxy's Consul frontend; clients on loopback.
               Port("consul http", "consul", "http_port"),
               Port("consul dns", "consul", "dns_port", audience="local"),
               Port("consul dns (udp)", "consul", "dns_port", "udp", audience="local")),
        foreign=Foreign(units=("consul.service",), binaries=("consul",), packages=("consul",), processes=("consul",),
                        paths=("/usr/bin/consul", "/usr/local/bin/consul", "/etc/systemd/system/consul.service")),
        files=("/etc/consul.d", "/etc/systemd/system/consul.service", "/etc/dnsmasq.d/dcos-consul.conf",
               "/etc/dnsmasq-dcos-upstream.conf", "/etc/systemd/resolved.conf.d/consul.conf"),
        data=(Folder("Consul's data", path="/var/lib/consul"),),
        services=(Service("consul-http", _http("consul", "http_port", "/v1/status/leader"), groups=("masters",)),),
        packages={"Debian": ("consul",), "RedHat": ()},
        family_files={"RedHat": ("/usr/local/bin/consul",)},
    ),
    Component(
        "haproxy", "haproxy", "haproxy", ("lb",),
        units=_everywhere("haproxy"),
        ports=(Port("haproxy marathon frontend", "haproxy", "marathon_port", audience="admin"),
               Port("haproxy mesos frontend", "haproxy", "mesos_port", audience="admin"),
               Port("haproxy consul frontend", "haproxy", "consul_port", audience="admin"),
               Port("haproxy stats", "haproxy", "stats_port", audience="admin"),
               Port("haproxy http redirect", "haproxy", "http_port", audience="admin")),
        # [haproxy] extra_frontends add ports of their own (installer.ports).
        foreign=Foreign(units=("haproxy.service",), packages=("haproxy",), processes=("haproxy",),
                        paths=("/etc/haproxy/haproxy.cfg",)),
        files=("/etc/haproxy/haproxy.cfg", "/etc/haproxy/certs/dcos.pem"),
        packages=_everywhere("haproxy"),
    ),
    Component(
        "keepalived", "keepalived", "keepalived", ("lb",),
        units=_everywhere("keepalived"),
        foreign=Foreign(units=("keepalived.service",), packages=("keepalived",), processes=("keepalived",),
                        paths=("/etc/keepalived/keepalived.conf",)),
        files=("/etc/keepalived/keepalived.conf",),
        packages=_everywhere("keepalived"),
    ),
    Component(
        "mysql", "mysql", "mysql", ("mysql",),
        units=_everywhere("mariadb"), unit_var="__mysql_service",
        ports=(Port("mysql", "mysql", "port"),),
        foreign=Foreign(units=("mysql.service", "mysqld.service", "mariadb.service"),
                        packages=("mariadb-server", "mysql-server", "mysql-community-server"),
                        processes=("mysqld", "mariadbd"),
                        paths=("/usr/sbin/mariadbd", "/usr/sbin/mysqld",
                               "/usr/libexec/mariadbd", "/usr/libexec/mysqld")),
        files=("/etc/mysql/mariadb.conf.d/60-dcos.cnf", "/root/.my.cnf", "/usr/local/bin/dcos-mysql-vip-check"),
        family_files={"RedHat": ("/etc/my.cnf.d/dcos.cnf",)},
        data=(Folder("MySQL's data", "mysql", "data_dir"),),
        services=(Service("mysql-{mysql_role}", Probe("tcp", "mysql", "port", interval="5s", timeout="2s")),
                  # Passes on the master only: what the mysql-vip name resolves to.
                  Service("mysql-vip", Probe("script", "mysql", "port", script="/usr/local/bin/dcos-mysql-vip-check",
                                             interval="5s", timeout="4s"))),
        packages={"Debian": ("mariadb-server", "mariadb-server-core", "galera-4"), "RedHat": ("mariadb-server",)},
    ),
    Component(
        "cadvisor", "cadvisor", "cadvisor", ("cluster",),
        units=_everywhere("dcos-cadvisor"), unit_var="__cadvisor_unit",
        ports=(Port("cadvisor", "cadvisor", "port"),),
        foreign=Foreign(units=("cadvisor.service",), binaries=("cadvisor",), packages=("cadvisor",),
                        processes=("cadvisor",), paths=("/usr/bin/cadvisor", "/usr/local/bin/cadvisor")),
        files=("/etc/systemd/system/dcos-cadvisor.service",),
        services=(Service("cadvisor", _http("cadvisor", "port", "/healthz")),),
        enabled=lambda cfg: cfg.cadvisor.enabled,
        packages={"Debian": ("cadvisor",), "RedHat": ()}, masked=("cadvisor",),
        family_files={"RedHat": ("/usr/local/bin/cadvisor",)},
    ),
    Component(
        "firewall", "common", "cluster", ("installer", "cluster"),
        units=_everywhere("dcos-firewall"), unit_var="__common_firewall_unit",
        adoptable=False,
        files=("/etc/dcos/firewall.nft", "/etc/dcos/firewall-sources.nft", "/etc/systemd/system/dcos-firewall.service"),
        enabled=lambda cfg: cfg.cluster.firewall == "open-ports",
    ),
)

COMPONENT_NAMES = tuple(c.name for c in CATALOGUE if c.adoptable)  # what [cluster] adopt may name


def by_name(name: str) -> Component:
    for component in CATALOGUE:
        if component.name == name:
            return component
    raise KeyError(name)


def owner_of_port(section: str, key: str | None) -> Component | None:
    if (section, key) == ("haproxy", "extra_frontends"):
        return by_name("haproxy")
    for component in CATALOGUE:
        if any((p.section, p.key) == (section, key) for p in component.ports):
            return component
    return None


def components_of(cfg: Config, host: Host) -> list[Component]:
    """The components the host runs, in catalogue order."""
    return [c for c in CATALOGUE if c.on(cfg, host)]


def units_of(cfg: Config, host: Host) -> dict[str, list[str]]:
    """Per OS family, the systemd units the host runs: what verify asks systemd about."""
    return {family: [u for c in components_of(cfg, host) for u in c.units[family]] for family in FAMILIES}


def component_units_of(cfg: Config, host: Host) -> dict[str, dict[str, str]]:
    """Per OS family, each component of the host that runs a unit, with its (first) unit: verify
    names the unit that answers a check (a stopped one is not waited for)."""
    return {family: {c.name: c.units[family][0] for c in components_of(cfg, host) if c.units[family]}
            for family in FAMILIES}


def unit_packages_of(cfg: Config, host: Host) -> dict[str, dict[str, list[str]]]:
    """Per OS family, each unit the host runs with the packages that are its code: verify asks
    whether a process of the unit still runs files of them that were replaced since it started
    (a package upgraded under it). A unit of no package (EL's ZooKeeper and Consul come from an
    archive) has an empty list: nothing is asked."""
    return {family: {u: list(c.packages.get(family, ())) for c in components_of(cfg, host) for u in c.units[family]}
            for family in FAMILIES}


def versioned_packages(component: Component, family: str) -> tuple[str, ...]:
    """The packages whose installed version is the component's (what the upgrade's plan compares
    with the bundle): the ones uninstall takes off, or for a component kept by uninstall (chrony,
    on most hosts before us) the package that is its evidence."""
    return component.packages.get(family, ()) or (component.foreign.packages if component.adopt_by_default else ())


def all_versioned_packages() -> dict[str, list[str]]:
    """Per OS family, every package whose version a host reports (playbooks/versions.yml)."""
    return {f: sorted({p for c in CATALOGUE for p in versioned_packages(c, f)}) for f in FAMILIES}


def folders_of(cfg: Config, host: Host) -> list[tuple[Component, Folder, str]]:
    """(component, folder, path) of every data folder the host's components own."""
    out = []
    for component in CATALOGUE:
        if not component.on(cfg, host):
            continue
        for folder in component.data:
            path = folder.path if folder.path else getattr(getattr(cfg, folder.section), folder.key)
            out.append((component, folder, str(path)))
    return out


def _port_of(cfg: Config, probe: Probe) -> int:
    return int(getattr(getattr(cfg, probe.section), probe.key))


def consul_services(cfg: Config, host: Host) -> list[dict[str, Any]]:
    """The services the host registers in Consul, with their checks, asked on its cluster
    address. A check that needs credentials says so in `auth` (no secret here: the inventory is
    written to disk); group_vars adds the header from the secrets file."""
    groups = host_groups(cfg, host)
    ip = str(host.ip)
    mysql_role = "master" if host == cfg.mysql_master else "slave"
    out: list[dict[str, Any]] = []
    for component in components_of(cfg, host):
        for service in component.services:
            if service.groups and not set(service.groups) & set(groups):
                continue
            probe = service.probe
            port = _port_of(cfg, probe)
            check: dict[str, Any] = {"interval": probe.interval}
            if probe.timeout:
                check["timeout"] = probe.timeout
            if probe.kind == "tcp":
                check["tcp"] = f"{ip}:{port}"
            elif probe.kind == "http":
                check["http"] = f"http://{ip}:{port}{probe.path}"
            else:
                script = probe.script.format(ip=ip, port=port)
                check["args"] = ["/bin/sh", "-c", script] if " " in script else [script]
            entry: dict[str, Any] = {"name": service.name.format(mysql_role=mysql_role), "port": port}
            if service.id:
                entry["id"] = service.id
            if service.tags:
                entry["tags"] = list(service.tags)
            entry["check"] = check
            if probe.auth:
                entry["auth"] = probe.auth
            out.append(entry)
    return out
