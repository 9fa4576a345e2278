"""Cross-key rules of config.cfg, one per function, each with its own message. Every rule
sees the whole parsed config and returns all it finds; a section that failed its own
checks is None and rules leave it alone."""

import base64
import binascii
import os
import stat
from collections.abc import Callable

from installer.components import COMPONENT_NAMES
from installer.config.errors import ConfigError
from installer.config.model import Config
from installer.ports import host_ports

Rule = Callable[[Config], list[ConfigError]]
RULES: list[Rule] = []


def rule(func: Rule) -> Rule:
    RULES.append(func)
    return func


def _err(cfg: Config, message: str, section: str, key: str | None = None, value: object = None,
         hint: str | None = None, line: int | None = None) -> ConfigError:
    raw = cfg.raw.sections.get(section)
    if raw is not None and key in raw.entries:
        value = raw.entries[key].value  # show the value as written
    return ConfigError(cfg.path, message, line or cfg.line_of(section, key), section, key,
                       None if value is None else str(value), hint)


@rule
def installer_is_one_host(cfg: Config) -> list[ConfigError]:
    hosts = cfg.group("installer")
    if len(hosts) > 1:
        return [_err(cfg, f"expected exactly one installer host, found {len(hosts)}", "installer",
                     hint="the installer host serves the repo, registry and NTP")]
    return []


@rule
def master_count_is_odd(cfg: Config) -> list[ConfigError]:
    count = len(cfg.group("masters"))
    if count and count not in (1, 3, 5, 7):
        return [_err(cfg, f"expected 1, 3, 5 or 7 masters, found {count}", "masters",
                     hint="ZooKeeper needs an odd ensemble for a majority")]
    return []


@rule
def lb_has_two_hosts(cfg: Config) -> list[ConfigError]:
    count = len(cfg.group("lb"))
    if "lb" in cfg.raw.sections and count < 2:
        return [_err(cfg, f"expected at least 2 lb hosts, found {count}", "lb",
                     hint="Keepalived moves the VIP between two HAProxy hosts; remove [lb] to install without")]
    return []


@rule
def vip_is_given_with_lb(cfg: Config) -> list[ConfigError]:
    if cfg.group("lb") and cfg.keepalived is not None and cfg.keepalived.vip is None:
        return [_err(cfg, "required key missing: the lb hosts need a virtual IP", "keepalived", "vip",
                     hint="vip = 10.0.0.100/24", line=cfg.line_of("keepalived") or cfg.line_of("lb"))]
    return []


@rule
def vip_is_not_a_host_address(cfg: Config) -> list[ConfigError]:
    if cfg.keepalived is None or cfg.keepalived.vip is None:
        return []
    vip = cfg.keepalived.vip.ip
    for host in cfg.all_hosts():
        if host.ip == vip:
            return [_err(cfg, f"the VIP is the address of host {host}", "keepalived", "vip",
                         cfg.keepalived.vip.with_prefixlen, hint="pick a free address in the lb hosts' network")]
    return []


@rule
def vip_is_in_the_lb_network(cfg: Config) -> list[ConfigError]:
    if cfg.keepalived is None or cfg.keepalived.vip is None or cfg.keepalived.vip.network.prefixlen == 32:
        return []  # prefix unknown: checked on the hosts by the precheck
    network = cfg.keepalived.vip.network
    outside = [str(h) for h in cfg.group("lb") if h.ip not in network]
    if outside:
        return [_err(cfg, f"the VIP's network {network} does not hold lb host(s) {', '.join(outside)}",
                     "keepalived", "vip", cfg.keepalived.vip.with_prefixlen,
                     hint="VRRP moves the VIP inside one L2 network")]
    return []


@rule
def ports_are_unique_per_host(cfg: Config) -> list[ConfigError]:
    errors = []
    for host in cfg.all_hosts():
        taken: dict[tuple[int, str], object] = {}
        for use in host_ports(cfg, host):
            first = taken.get((use.port, use.protocol))
            if first is None:
                taken[(use.port, use.protocol)] = use
                continue
            if first.component == use.component:
                continue
            where = f"[{first.section}] {first.key}" if first.key else first.section
            errors.append(_err(cfg, f"port {use.port} on host {host} is also taken by {first.component} ({where})",
                               use.section, use.key, use.port, hint=f"give {use.component} another port"))
    # One message per clash of two keys is enough, whatever the number of hosts sharing it.
    return list({(e.section, e.key, e.message.split(" on host ")[0]): e for e in errors}.values())


@rule
def mysql_master_is_not_the_slave(cfg: Config) -> list[ConfigError]:
    if cfg.mysql is None or cfg.mysql_master is None or cfg.mysql_master != cfg.mysql_slave:
        return []
    return [_err(cfg, f"the slave is the master's host ({cfg.mysql_master})", "mysql", "slave", cfg.mysql.slave,
                 hint="replication needs two hosts")]


@rule
def ssh_key_file_is_private(cfg: Config) -> list[ConfigError]:
    if cfg.cluster is None or cfg.cluster.ssh_key_file is None:
        return []
    path = cfg.cluster.ssh_key_file
    if not path.is_file():
        return [_err(cfg, f"no such file: {path}", "cluster", "ssh_key_file", path,
                     hint="give the private key Ansible logs in with")]
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [_err(cfg, f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}); ssh refuses such keys",
                     "cluster", "ssh_key_file", path, hint=f"chmod 600 {path}")]
    if not os.access(path, os.R_OK):
        return [_err(cfg, f"{path} cannot be read by this user", "cluster", "ssh_key_file", path)]
    return []


@rule
def registry_cert_comes_with_its_key(cfg: Config) -> list[ConfigError]:
    if cfg.registry is None:
        return []
    cert, key = cfg.registry.tls_cert, cfg.registry.tls_key
    if (cert == "generate") != (key == "generate"):
        given, missing = ("tls_cert", "tls_key") if key == "generate" else ("tls_key", "tls_cert")
        return [_err(cfg, f"{given} is given without {missing}", "registry", missing,
                     getattr(cfg.registry, missing), hint="give both files, or 'generate' for both")]
    errors = []
    if cert != "generate":
        base = cfg.path.parent
        for name, value in (("tls_cert", cert), ("tls_key", key)):
            path = (base / value).expanduser() if not value.startswith(("/", "~")) else type(base)(value).expanduser()
            if not path.is_file():
                errors.append(_err(cfg, f"no such file: {path}", "registry", name, value))
    return errors


@rule
def vip_certificate_comes_with_its_key_and_a_ca(cfg: Config) -> list[ConfigError]:
    if cfg.haproxy is None or not cfg.group("lb"):
        return []
    cert, key = cfg.haproxy.tls_cert, cfg.haproxy.tls_key
    if (cert == "generate") != (key == "generate"):
        given, missing = ("tls_cert", "tls_key") if key == "generate" else ("tls_key", "tls_cert")
        return [_err(cfg, f"{given} is given without {missing}", "haproxy", missing,
                     getattr(cfg.haproxy, missing), hint="give both files, or 'generate' for both")]
    if cert == "generate":
        if cfg.registry is not None and cfg.registry.tls_cert != "generate":
            return [_err(cfg, "a generated VIP certificate needs the cluster CA, made only with [registry] "
                         "tls_cert = generate", "haproxy", "tls_cert",
                         hint="give [haproxy] tls_cert and tls_key files, or let the registry's certificate "
                              "be generated")]
        return []
    errors = []
    base = cfg.path.parent
    for name, value in (("tls_cert", cert), ("tls_key", key)):
        path = (base / value).expanduser() if not value.startswith(("/", "~")) else type(base)(value).expanduser()
        if not path.is_file():
            errors.append(_err(cfg, f"no such file: {path}", "haproxy", name, value))
    return errors


@rule
def consul_gossip_key_is_32_bytes(cfg: Config) -> list[ConfigError]:
    if cfg.consul is None or cfg.consul.gossip_key is None:
        return []
    try:
        raw = base64.b64decode(cfg.consul.gossip_key.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        # not _err: it would show the value as written, and this one is a secret
        return [ConfigError(cfg.path, "expected the base64 of 32 random bytes (44 characters)",
                            cfg.line_of("consul", "gossip_key"), "consul", "gossip_key", "(hidden)",
                            'make one: python3 -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())"'
                            ", or leave it empty to have one generated once")]
    return []


@rule
def consul_tls_has_its_files(cfg: Config) -> list[ConfigError]:
    if cfg.consul is None or not cfg.consul.tls:
        return []
    errors = []
    for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
        path = getattr(cfg.consul, name)
        if path is None:
            errors.append(_err(cfg, f"tls = true needs {name}", "consul", name,
                               hint="give the CA, certificate and key files, or set tls = false"))
        elif not path.is_file():
            errors.append(_err(cfg, f"no such file: {path}", "consul", name))
    return errors


@rule
def agents_are_given(cfg: Config) -> list[ConfigError]:
    if "agents" in cfg.raw.sections and not cfg.group("agents"):
        return [_err(cfg, "expected at least one agent", "agents", hint="agents run the workloads")]
    return []


@rule
def waivers_name_known_hosts(cfg: Config) -> list[ConfigError]:
    if cfg.precheck is None:
        return []
    errors = []
    for waiver in cfg.precheck.waive:
        check, at, host = waiver.partition("@")
        if not at or not check or not host:
            errors.append(_err(cfg, "expected check@host", "precheck", "waive", waiver,
                               hint="for example disk_space@agent1"))
        elif host != "*" and cfg.find_host(host) is None:
            errors.append(_err(cfg, f"waiver for unknown host {host!r}", "precheck", "waive", waiver))
    return errors


@rule
def adopted_components_are_known(cfg: Config) -> list[ConfigError]:
    if cfg.cluster is None:
        return []
    known = (*COMPONENT_NAMES, "all")
    return [_err(cfg, f"unknown component {name!r}", "cluster", "adopt", ", ".join(cfg.cluster.adopt),
                 hint=f"components: {', '.join(known)}")
            for name in cfg.cluster.adopt if name not in known]
