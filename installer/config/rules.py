"""Cross-key rules of config.cfg, one per function, each with its own message. Every rule
sees the whole parsed config and returns all it finds; a section that failed its own
checks is None and rules leave it alone."""

import base64
import binascii
import difflib
from collections.abc import Callable
from pathlib import PurePosixPath

from installer.catalogue import COMPONENT_NAMES, folders_of
from installer.config import files
from installer.config.errors import ConfigError
from installer.config.model import Config, Host
from installer.config.reader import RawSection
from installer.config.types import IPV6_REFUSED, is_ipv6
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
    if "masters" in cfg.broken_sections:
        return []  # a host of it was refused: counted wrong
    count = len(cfg.group("masters"))
    if count and count not in (1, 3, 5, 7):
        return [_err(cfg, f"expected 1, 3, 5 or 7 masters, found {count}", "masters",
                     hint="ZooKeeper needs an odd ensemble for a majority")]
    return []


@rule
def lb_has_two_hosts(cfg: Config) -> list[ConfigError]:
    if "lb" in cfg.broken_sections:
        return []  # a host of it was refused: counted wrong
    count = len(cfg.group("lb"))
    if "lb" in cfg.raw.sections and count < 2:
        return [_err(cfg, f"expected at least 2 lb hosts, found {count}", "lb",
                     hint="Keepalived moves the VIP between two HAProxy hosts; remove [lb] to install without")]
    return []


@rule
def vip_is_given_with_lb(cfg: Config) -> list[ConfigError]:
    if (cfg.group("lb") and cfg.keepalived is not None and cfg.keepalived.vip is None
            and "vip" not in cfg.raw.sections.get("keepalived", RawSection("", 0)).entries):  # else: refused there
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
    """The key exists, is a file, holds a private key (not its .pub), and only its owner may read it."""
    if cfg.cluster is None or cfg.cluster.ssh_key_file is None:
        return []
    path = cfg.cluster.ssh_key_file

    def error(message: str, hint: str | None = None) -> list[ConfigError]:
        return [_err(cfg, message, "cluster", "ssh_key_file", path, hint=hint)]

    problem = files.unreadable(path, "key file")
    if problem:
        return error(problem, "give the private key Ansible logs in with, such as ~/.ssh/id_ed25519")
    problem = files.private_key_problem(files.read(path))
    if problem:
        private = path.with_suffix("") if path.suffix == ".pub" else None
        if private is not None and private.is_file():
            hint = f"give the private key: {private}"
        elif "public key" in problem:
            hint = "give the private key file, such as ~/.ssh/id_ed25519 rather than ~/.ssh/id_ed25519.pub"
        elif "PuTTY" in problem:
            hint = f"convert it: puttygen {path} -O private-openssh -o {path.with_suffix('')}"
        else:
            hint = "give the private key Ansible logs in with, such as ~/.ssh/id_ed25519"
        return error(f"{path} {problem}", hint)
    mode = files.mode_problem(path)
    if mode is not None:
        inside = path.resolve().is_relative_to(cfg.path.parent.resolve())
        # chmod only on a file next to config.cfg: elsewhere it may be shared or not ours to change.
        return error(f"{path} is readable by others; ssh refuses such keys: restrict it to its owner (its mode is "
                     f"{mode:04o})", hint=f"chmod 600 {path}" if inside else None)
    return []


def _tls_files(cfg: Config, section: str, cert_key: str, key_key: str, cert: str, key: str,
               ca_key: str | None = None, ca: str | None = None) -> list[ConfigError]:
    """A certificate and its key given as files: each is a readable PEM file; the key has no
    passphrase; the certificate is valid now and holds the key's public key; with a CA, the
    certificate (or the chain in its file) was issued by it."""
    base = cfg.path.parent
    errors: list[ConfigError] = []

    def error(key_name: str, value: object, message: str, hint: str | None = None) -> None:
        errors.append(_err(cfg, message, section, key_name, value, hint=hint))

    loaded: dict[str, object] = {}
    for name, value, kind in ((cert_key, cert, "certificate"), (key_key, key, "key"), (ca_key, ca, "ca")):
        if name is None or value is None:
            continue
        path = files.local_path(base, value)
        problem = files.unreadable(path, "certificate file" if kind != "key" else "key file")
        if problem:
            error(name, value, problem)
            continue
        data = files.read(path)
        if kind == "key":
            private, problem = files.load_private_key(path, data)
            if problem:
                hint = (f"remove it: openssl pkey -in {path} -out {path}.plain" if "passphrase" in problem
                        else f"convert it: openssl pkey -inform der -in {path} -out {path}.pem" if "DER" in problem
                        else None)
                error(name, value, problem, hint)
            else:
                loaded[kind] = private
            continue
        certificates, problem = files.load_certificates(path, data)
        if problem:
            hint = f"convert it: openssl x509 -inform der -in {path} -out {path}.pem" if "DER" in problem else None
            error(name, value, problem, hint)
            continue
        expired = [files.validity_problem(path, c) for c in (certificates[:1] if kind != "ca" else certificates)]
        expired = [p for p in expired if p]
        if expired:
            error(name, value, expired[0], "renew it" if "expired" in expired[0] else "check this machine's clock")
            continue
        loaded[kind] = certificates
    if "certificate" in loaded and "key" in loaded:
        leaf = loaded["certificate"][0]
        if not files.key_matches(leaf, loaded["key"]):
            error(key_key, key, f"{key_key} does not match {cert_key}: their public keys differ, it is not the key "
                  "of that certificate", hint=f"give the key {cert_key} was issued for")
    if "certificate" in loaded and "ca" in loaded:
        chain = loaded["certificate"]
        current, seen = chain[0], 0
        while seen < 8 and files.issued_by(current, loaded["ca"]) is None:
            parent = files.issued_by(current, chain[1:])
            if parent is None or parent is current:
                error(cert_key, cert, f"{cert_key} was not issued by {ca_key}",
                      hint=f"give the CA that signed it in {ca_key}, or a certificate it signed")
                break
            current, seen = parent, seen + 1
    return errors


@rule
def registry_cert_comes_with_its_key(cfg: Config) -> list[ConfigError]:
    if cfg.registry is None:
        return []
    cert, key = cfg.registry.tls_cert, cfg.registry.tls_key
    if (cert == "generate") != (key == "generate"):
        given, missing = ("tls_cert", "tls_key") if key == "generate" else ("tls_key", "tls_cert")
        return [_err(cfg, f"{given} is given without {missing}", "registry", missing,
                     getattr(cfg.registry, missing), hint="give both files, or 'generate' for both")]
    return []


@rule
def registry_tls_files_are_valid(cfg: Config) -> list[ConfigError]:
    if cfg.registry is None or "generate" in (cfg.registry.tls_cert, cfg.registry.tls_key):
        return []
    return _tls_files(cfg, "registry", "tls_cert", "tls_key", cfg.registry.tls_cert, cfg.registry.tls_key)


@rule
def registry_certificate_names_the_registry(cfg: Config) -> list[ConfigError]:
    """Docker on every host reaches the registry at [registry] hostname, or the installer's IP:
    a certificate valid for neither is refused by every pull."""
    if cfg.registry is None or cfg.registry.tls_cert == "generate" or cfg.installer is None:
        return []
    path = files.local_path(cfg.path.parent, cfg.registry.tls_cert)
    if files.unreadable(path):
        return []
    certificates, problem = files.load_certificates(path, files.read(path))
    if problem or not certificates:
        return []  # said by registry_tls_files_are_valid
    name = cfg.registry.hostname or str(cfg.installer.ip)
    if files.covers(certificates[0], name):
        return []
    dns, ips = files.names_of(certificates[0])
    return [_err(cfg, f"the certificate is not valid for {name}, the address Docker uses for the registry "
                 f"(it names: {', '.join([*dns, *ips]) or 'nothing'})", "registry", "tls_cert",
                 hint="set [registry] hostname to a name it holds, or give a certificate for that address")]


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
    return []


@rule
def vip_tls_files_are_valid(cfg: Config) -> list[ConfigError]:
    if cfg.haproxy is None or not cfg.group("lb") or "generate" in (cfg.haproxy.tls_cert, cfg.haproxy.tls_key):
        return []
    return _tls_files(cfg, "haproxy", "tls_cert", "tls_key", cfg.haproxy.tls_cert, cfg.haproxy.tls_key)


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
    return errors


@rule
def consul_tls_files_are_valid(cfg: Config) -> list[ConfigError]:
    consul = cfg.consul
    if consul is None or not consul.tls:
        return []
    given = {k: getattr(consul, k) for k in ("tls_ca_file", "tls_cert_file", "tls_key_file")}
    if given["tls_cert_file"] is None or given["tls_key_file"] is None:
        # one file alone is still checked
        errors = []
        for name, path in given.items():
            if path is not None:
                problem = files.unreadable(path, "certificate file" if name != "tls_key_file" else "key file")
                if problem:
                    errors.append(_err(cfg, problem, "consul", name))
        return errors
    return _tls_files(cfg, "consul", "tls_cert_file", "tls_key_file", str(given["tls_cert_file"]),
                      str(given["tls_key_file"]), "tls_ca_file" if given["tls_ca_file"] else None,
                      str(given["tls_ca_file"]) if given["tls_ca_file"] else None)


@rule
def agents_are_given(cfg: Config) -> list[ConfigError]:
    if "agents" in cfg.broken_sections:
        return []  # a host of it was refused: counted wrong
    if "agents" in cfg.raw.sections and not cfg.group("agents"):
        return [_err(cfg, "expected at least one agent", "agents", hint="agents run the workloads")]
    return []


@rule
def waivers_name_known_hosts(cfg: Config) -> list[ConfigError]:
    if cfg.precheck is None:
        return []
    from installer.precheck import checks  # noqa: F401 - registers the checks
    from installer.precheck.registry import check_names

    names = check_names()
    errors = []
    for waiver in cfg.precheck.waive:
        check, at, host = waiver.partition("@")
        if not at or not check or not host:
            errors.append(_err(cfg, "expected check@host", "precheck", "waive", waiver,
                               hint="for example disk_space@agent1"))
        elif check != "*" and check not in names:
            guess = difflib.get_close_matches(check, names, n=1)
            errors.append(_err(cfg, f"waiver for unknown check {check[:60]!r}", "precheck", "waive", waiver,
                               hint=f"did you mean {guess[0]}?" if guess else f"checks: {', '.join(names)}"))
        elif is_ipv6(host):
            errors.append(_err(cfg, f"waiver for {host[:60]}: {IPV6_REFUSED}", "precheck", "waive", waiver))
        elif host != "*" and cfg.find_host(host) is None and host.lower() not in cfg.broken_hosts:
            errors.append(_err(cfg, f"waiver for unknown host {host[:60]!r}", "precheck", "waive", waiver))
    return errors


@rule
def adopted_components_are_known(cfg: Config) -> list[ConfigError]:
    if cfg.cluster is None:
        return []
    known = (*COMPONENT_NAMES, "all")
    return [_err(cfg, f"unknown component {name!r}", "cluster", "adopt", ", ".join(cfg.cluster.adopt),
                 hint=f"components: {', '.join(known)}")
            for name in cfg.cluster.adopt if name not in known]


@rule
def ports_leave_the_ssh_port_free(cfg: Config) -> list[ConfigError]:
    """Ansible reaches every host on [cluster] ssh_port: no service may listen there."""
    if cfg.cluster is None:
        return []
    ssh = cfg.cluster.ssh_port
    written = "ssh_port" in cfg.raw.sections["cluster"].entries
    errors = {}
    for host in cfg.all_hosts():
        for use in host_ports(cfg, host):
            if use.port != ssh or use.protocol != "tcp" or use.key is None or (use.section, use.key) in errors:
                continue
            errors[(use.section, use.key)] = _err(
                cfg, f"port {ssh} is [cluster] ssh_port: {use.component} on host {host} would take the port "
                "Ansible and the operators log in on", use.section, use.key, use.port,
                hint=f"give {use.component} another port, or move [cluster] ssh_port")
            if written:  # said at both keys: either may be the one to change
                errors[("cluster", use.section, use.key)] = _err(
                    cfg, f"port {ssh} is also [{use.section}] {use.key}: {use.component} on host {host} would "
                    "listen on the SSH port", "cluster", "ssh_port", ssh,
                    hint=f"move [cluster] ssh_port, or give {use.component} another port")
    return list(errors.values())


def _folders_of(cfg: Config, host: Host) -> list[tuple[str, str | None, str | None, str]]:
    """(what, section, key, folder) of every folder a component owns on host (the catalogue's)."""
    return list(dict.fromkeys((folder.what, folder.section, folder.key, path)
                              for _, folder, path in folders_of(cfg, host)))


@rule
def data_folders_are_not_shared(cfg: Config) -> list[ConfigError]:
    """Two components on one host may not share a data folder, nor keep one inside the
    other's: each removes, chowns and fills its own. Said at both keys, each naming the other."""
    errors: dict[tuple[str | None, str | None, str | None, str | None], ConfigError] = {}
    for host in cfg.all_hosts():
        folders = _folders_of(cfg, host)
        for i, (what, section, key, folder) in enumerate(folders):
            for other_what, other_section, other_key, other in folders[:i] + folders[i + 1:]:
                if section is None or (section, key) == (other_section, other_key):
                    continue
                mine, theirs = PurePosixPath(folder), PurePosixPath(other)
                if mine == theirs:
                    relation = "is also"
                elif mine.is_relative_to(theirs):
                    relation = "is inside"
                elif theirs.is_relative_to(mine):
                    relation = "holds"
                else:
                    continue
                where = f" ([{other_section}] {other_key})" if other_section else f" ({other})"
                errors.setdefault((section, key, other_section, other_key), _err(
                    cfg, f"{relation} {other_what}{where} on host {host}: two components may not share a folder",
                    section, key, folder, hint=f"give {what} a folder of its own"))
    return list(errors.values())
