"""The sections and keys of config.cfg, typed. Every key has a description; the example
file (config.cfg.example) documents the same keys and a unit test keeps the two equal."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from installer.config.types import (
    Attributes,
    Bool,
    Choice,
    Containerizers,
    Domain,
    Duration,
    FileOrGenerate,
    Frontends,
    Hostname,
    Image,
    Int,
    Interface,
    Interpreter,
    LocalPath,
    Name,
    Networks,
    NtpServers,
    OptionalHostname,
    OptionalLocalPath,
    Password,
    Port,
    RemotePath,
    Resources,
    Secret,
    SshUser,
    StrList,
    Timezone,
    User,
    Version,
    Vip,
    VrrpPassword,
)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ClusterSection(Section):
    name: Name = Field(description="Cluster name: letters, digits and '-'; names the run and the Mesos cluster.")
    domain: Domain = Field("", description="DNS domain appended to host names for their FQDN; empty: none.")
    ssh_user: SshUser = Field("root", description="User Ansible logs in as over SSH (a POSIX user name).")
    ssh_key_file: OptionalLocalPath = Field(
        None, description="Private key (PEM or OpenSSH, not the .pub) for that user, readable by its owner only "
                          "(0600); empty: ssh's defaults and agent.")
    ssh_port: Port = Field(22, description="SSH port of every host.")
    become: Bool = Field(True, description="Become root with become_method (needed unless ssh_user is root).")
    become_method: Choice("sudo", "su") = Field("sudo", description="How to become root: sudo or su.")
    python_interpreter: Interpreter = Field(
        "auto", description="Python on the hosts for Ansible: auto (finds it) or an absolute path.")
    timezone: Timezone = Field(
        "", description="Timezone of the IANA database to set on every host, such as UTC; empty: leave it.")
    firewall: Choice("open-ports", "off") = Field(
        "open-ports", description="open-ports: each port the installer's components listen on is open only to "
                                  "who needs it (the cluster's hosts, or admin_networks); off: no filtering by the "
                                  "installer.")
    admin_networks: Networks = Field(
        [], description="Networks (CIDRs, comma-separated) that may reach the VIP's HTTPS frontends and the registry; "
                        "empty: the VIP's network (without lb hosts: the masters' /24 networks).")
    selinux: Choice("permissive", "enforcing", "disabled") = Field(
        "permissive", description="SELinux mode on EL hosts.")
    adopt: StrList = Field(
        [], description="Components already on the hosts that the installer may take over instead of refusing.")
    task_timeout: Int(60, 86400, "seconds") = Field(
        1800, description="Seconds one task may take on a host before it fails, naming the host (a hung host).")
    phase_timeout: Int(300, 172800, "seconds") = Field(
        7200, description="Seconds a whole phase may take before the run stops, naming the hosts still busy.")


class KeepalivedSection(Section):
    vip: Vip | None = Field(None, description="Virtual IP of the lb hosts, with its prefix when known: 10.0.0.100/24.")
    interface: Interface = Field(
        "", description="Interface that carries the VIP; empty: the one holding the host's IP.")
    router_id: Int(1, 255, "a VRRP router id") = Field(51, description="VRRP virtual router id, unique in the LAN.")
    unicast: Bool = Field(True, description="Unicast VRRP between the lb hosts (clouds drop multicast).")
    auth_pass: VrrpPassword = Field(
        None, description="VRRP password: 8 to 64 of letters, digits and ._+=~^*?!- (VRRP uses the first 8); "
                          "empty: generated once.")


class RegistrySection(Section):
    port: Port = Field(5000, description="Port of the private Docker registry on the installer host.")
    hostname: OptionalHostname = Field(
        "", description="Name clients use for the registry (in its certificate); empty: its IP.")
    tls_cert: FileOrGenerate = Field("generate", description="TLS certificate file, or 'generate' (a CA is made "
                                                             "and kept).")
    tls_key: FileOrGenerate = Field("generate", description="Key of tls_cert, or 'generate'.")
    data_dir: RemotePath = Field("/var/lib/docker-registry", description="Registry storage on the installer host.")
    username: User = Field("dcos", description="Registry user (htpasswd); anonymous pulls and pushes are refused.")
    password: Password = Field(None, description="Password of username; empty: generated once.")


class RepoSection(Section):
    port: Port = Field(8081, description="Port of the local package repository (nginx) on the installer host.")
    bundle: LocalPath = Field(Path("bundle"), description="Offline bundle folder, relative to this file's folder.")
    keep_host_repos: Bool = Field(False, description="Keep the hosts' own package repos enabled.")


class NtpSection(Section):
    upstream: NtpServers = Field(
        [], description="Upstream NTP servers of the installer host (host names or IPv4 addresses); empty: its own "
                        "clock.")
    clock_control: Choice("auto", "true", "false") = Field(
        "auto", description="Let chronyd set the clock; auto: not inside containers.")


class ZookeeperSection(Section):
    client_port: Port = Field(2181, description="ZooKeeper client port.")
    peer_port: Port = Field(2888, description="ZooKeeper quorum port.")
    election_port: Port = Field(3888, description="ZooKeeper leader election port.")
    data_dir: RemotePath = Field("/var/lib/zookeeper", description="ZooKeeper data directory.")
    heap_mb: Int(64, 65536, "a heap size in MiB") = Field(512, description="ZooKeeper JVM heap in MiB.")
    username: User = Field("dcos", description="Digest user Mesos and Marathon connect as; their znodes are "
                                               "writable by it only.")
    password: Password = Field(None, description="Password of the digest user; empty: generated once.")
    version: Version = Field("", description="Version to install; empty: the one in the bundle.")


class MesosSection(Section):
    master_port: Port = Field(5050, description="Mesos master port.")
    agent_port: Port = Field(5051, description="Mesos agent port.")
    master_work_dir: RemotePath = Field("/var/lib/mesos/master", description="Mesos master work_dir.")
    agent_work_dir: RemotePath = Field("/var/lib/mesos/agent", description="Mesos agent work_dir.")
    containerizers: Containerizers = Field(["docker", "mesos"], description="Agent containerizers.")
    attributes: Attributes = Field("", description="Agent attributes, such as rack:r1;zone:a.")
    resources: Resources = Field("", description="Agent resources, such as cpus:4;mem:8192; empty: detected.")
    executor_registration_timeout: Duration = Field("5mins", description="Agent executor registration timeout.")
    username: User = Field("admin", description="Operator user of the masters' and agents' read-write HTTP "
                                                "endpoints (frameworks and agents authenticate with their own).")
    password: Password = Field(None, description="Its password; empty: generated once.")
    version: Version = Field("", description="Version to install; empty: the one in the bundle.")


class MarathonSection(Section):
    port: Port = Field(8080, description="Marathon HTTP port on the masters.")
    heap_mb: Int(128, 65536, "a heap size in MiB") = Field(1024, description="Marathon JVM heap in MiB.")
    username: User = Field("admin", description="HTTP basic auth user of the API and UI (always on).")
    password: Password = Field(None, description="Its password; empty: generated once.")
    version: Version = Field("", description="Version to install; empty: the one in the bundle.")


class ConsulSection(Section):
    datacenter: Name = Field("dc1", description="Consul datacenter name.")
    domain: Hostname = Field("consul", description="Consul DNS domain.")
    server_port: Port = Field(8300, description="Consul server RPC port.")
    serf_lan_port: Port = Field(8301, description="Consul LAN gossip port.")
    http_port: Port = Field(8500, description="Consul HTTP API port.")
    dns_port: Port = Field(8600, description="Consul DNS port.")
    gossip_key: Secret = Field(None, description="Gossip encryption key (base64, 32 bytes); empty: generated once.")
    acl: Bool = Field(True, description="ACLs on with default deny.")
    tls: Bool = Field(False, description="TLS for Consul RPC.")
    tls_ca_file: OptionalLocalPath = Field(None, description="CA of the agents' certificates (with tls).")
    tls_cert_file: OptionalLocalPath = Field(
        None, description="Certificate of the agents, valid for server.<datacenter>.<domain> (with tls).")
    tls_key_file: OptionalLocalPath = Field(None, description="Key of tls_cert_file (with tls).")
    version: Version = Field("", description="Version to install; empty: the one in the bundle.")


class HaproxySection(Section):
    marathon_port: Port = Field(443, description="HTTPS port on the VIP for the Marathon API and UI.")
    mesos_port: Port = Field(8050, description="HTTPS port on the VIP for the Mesos UI (leading master).")
    consul_port: Port = Field(8550, description="HTTPS port on the VIP for the Consul UI.")
    http_port: Int(0, 65535, "a port number, or 0") = Field(
        80, description="Plain HTTP port on the VIP that redirects to the Marathon HTTPS port; 0: none.")
    tls_cert: FileOrGenerate = Field("generate", description="Certificate of the VIP's HTTPS frontends, or "
                                                             "'generate' (issued by the cluster CA for the VIP).")
    tls_key: FileOrGenerate = Field("generate", description="Key of tls_cert, or 'generate'.")
    stats_port: Port = Field(9090, description="HTTPS port of the HAProxy stats page.")
    stats_user: User = Field("admin", description="Stats page user.")
    stats_password: Password = Field(None, description="Stats page password; empty: generated once.")
    stats_admin: Bool = Field(False, description="Let the stats page change servers (enable, disable, drain); "
                                                 "false: read-only.")
    extra_frontends: Frontends = Field(
        [], description="More frontends on the VIP, name:port:service[:/check|tcp], comma-separated.")


class MysqlSection(Section):
    master: str = Field(description="The MySQL master: a host of this cluster, by name or IP.")
    slave: str = Field(description="The read-only slave: another host of this cluster.")
    port: Port = Field(3306, description="MySQL port.")
    data_dir: RemotePath = Field("/var/lib/mysql", description="MySQL data directory.")
    root_password: Password = Field(None, description="MySQL root password; empty: generated once.")
    replication_password: Password = Field(
        None, description="Replication user's password; empty: generated once.")


class CadvisorSection(Section):
    enabled: Bool = Field(True, description="Run cAdvisor on every host.")
    port: Port = Field(4194, description="cAdvisor HTTP port.")
    image: Image = Field("", description="Run this image from the private registry instead of the package.")


class UpgradeSection(Section):
    agent_batch: Int(1, 1000, "a number of agents") = Field(
        1, description="Agents an upgrade drains and upgrades at a time; fewer than the agents, so the drained "
                       "tasks have somewhere to go.")


class PrecheckSection(Section):
    waive: StrList = Field([], description="Checks to waive, as check@host (host by name or IP), comma-separated.")
    min_free_gb: Int(0, 100000, "a size in GB") = Field(5, description="Free space needed on each path written.")
    min_free_inodes: Int(0, 10**9, "a number of inodes") = Field(100000, description="Free inodes on each path.")
    max_clock_offset_ms: Int(1, 3600000, "milliseconds") = Field(
        1000, description="Largest clock offset to the installer's NTP server.")
    master_min_cpus: Int(1, 1024, "a CPU count") = Field(2, description="CPUs a master needs at least.")
    master_min_memory_gb: Int(1, 65536, "a size in GB") = Field(4, description="Memory a master needs at least.")
    agent_min_cpus: Int(1, 1024, "a CPU count") = Field(1, description="CPUs an agent needs at least.")
    agent_min_memory_gb: Int(1, 65536, "a size in GB") = Field(2, description="Memory an agent needs at least.")


# Sections whose entries are hosts ("name = ip", or a bare "ip", or a bare name already
# defined in another host section), in the order hosts are numbered.
HOST_SECTIONS = ("installer", "masters", "agents", "lb")
REQUIRED_HOST_SECTIONS = ("installer", "masters", "agents")

SECTIONS: dict[str, type[Section]] = {
    "cluster": ClusterSection,
    "keepalived": KeepalivedSection,
    "registry": RegistrySection,
    "repo": RepoSection,
    "ntp": NtpSection,
    "zookeeper": ZookeeperSection,
    "mesos": MesosSection,
    "marathon": MarathonSection,
    "consul": ConsulSection,
    "haproxy": HaproxySection,
    "mysql": MysqlSection,
    "cadvisor": CadvisorSection,
    "upgrade": UpgradeSection,
    "precheck": PrecheckSection,
}
REQUIRED_SECTIONS = ("cluster",)
# Sections that mean "install this component" by being present.
OPTIONAL_COMPONENT_SECTIONS = ("mysql",)
