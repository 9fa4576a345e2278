"""./install.sh restore ARCHIVE --rehearse: prove that a backup restores, before the day it must.

Nothing of the cluster the archive was taken from is touched, and no config.cfg is needed: the
archive's own (secrets/config.cfg) describes the cluster. The rehearsal

1. opens and checks the archive whole (installer/restore.py, the same checks as a restore);
2. makes one throwaway container per host of that config (the demo's node image, systemd and
   sshd, prefix `dcos-rehearse-`, on an `--internal` Docker network of its own: no route out,
   as in an air-gapped data center), named as the archive's hosts are (ZooKeeper's ids and the
   MySQL roles follow the names);
3. writes a config.cfg that is the archive's with only what ties it to its site changed: each
   host's address (everywhere it appears), the SSH login, the VIP and its interface, the admin
   networks, the bundle, and the precheck's hardware floors (containers share this machine);
   every other key, the non-default ones included, is the archive's;
4. puts the archive's secrets, repository key and cluster CA into a private runs folder of its
   own (runs/rehearse/<cluster>/runs), so that the data opens as it would in the real cluster;
5. installs (every phase, the precheck first), restores the archive (playbooks/restore.yml,
   then verify), and reads back what came back: Marathon's apps, and each database of the
   archive with its tables and their rows, on the MySQL master;
6. removes the containers and the copies of the secrets (--keep keeps both, to look around).

It needs Docker and a checkout of the installer (demo/node builds the image), like --demo,
and a Debian 12 bundle: the archive's config's own when it is one on this controller, else
the demo's (made from demo/standins and the Debian mirror)."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from installer.config import ConfigInvalid, load_config
from installer.config.schema import HOST_SECTIONS
from installer.restore import Backup

PREFIX = "dcos-rehearse"
LABEL = "dcos-rehearse=1"
SUBNET = "172.29.60.0/24"
FIRST_HOST = 10  # the hosts' addresses: .10, .11, ... of the subnet, in the order config.cfg gives them
VIP_OFFSET = 250
# What the rehearsal's containers are, whatever the real hosts were: the precheck's hardware
# floors are the real machines' (containers share this one's cores, memory and disk).
HARDWARE = {("precheck", "master_min_cpus"): "1", ("precheck", "master_min_memory_gb"): "1",
            ("precheck", "min_free_gb"): "1"}
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*(?:[;#].*)?$")
_ENTRY = re.compile(r"^(?P<key>[^=:\s;#\[][^=:]*?)\s*(?:(?P<sep>[=:])\s*(?P<value>.*?))?\s*$")
_INLINE_COMMENT = re.compile(r"\s[;#].*$")
_IPV4 = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$")
_ANY_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")  # in a list, with a :port


class RehearsalError(Exception):
    """The rehearsal cannot start; str() says why and what to do."""


@dataclass
class Rehearsal:
    backup: Backup
    subnet: str = SUBNET
    prefix: str = PREFIX
    # the archive's hosts in the order config.cfg defines them: (name of the node, old address)
    hosts: list[tuple[str, str]] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # old address -> the container's

    @property
    def network(self) -> str:
        return f"{self.prefix}-net"

    @property
    def vip(self) -> str:
        net = ipaddress.ip_network(self.subnet)
        return f"{net.network_address + VIP_OFFSET}/{net.prefixlen}"


def _value(raw: str | None) -> str:
    return _INLINE_COMMENT.sub("", raw or "").strip()


def _entries(text: str):
    """(section, key as written, raw value or None) of every entry of config.cfg text."""
    section = ""
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group("name").strip().lower()
            continue
        entry = _ENTRY.match(line)
        if entry and not line.lstrip().startswith(("#", ";")):
            yield section, entry.group("key").strip(), entry.group("value")


def defined_hosts(text: str) -> list[tuple[str | None, str]]:
    """The hosts config.cfg text defines, in order: (name or None for a bare address, address)."""
    out: list[tuple[str | None, str]] = []
    seen: set[str] = set()
    for section, written, raw in _entries(text):
        if section not in HOST_SECTIONS:
            continue
        key, value = written.lower(), _value(raw)
        address = value.split()[0] if value else (key if _IPV4.match(key) else "")
        if not _IPV4.match(address) or address in seen:
            continue
        seen.add(address)
        out.append((key if value else None, address))
    return out


def plan_hosts(rehearsal: Rehearsal, text: str) -> None:
    """Name and address every host of the archive's config in the rehearsal's subnet."""
    net = ipaddress.ip_network(rehearsal.subnet)
    hosts = defined_hosts(text)
    room = net.num_addresses - FIRST_HOST - 2
    if not hosts:
        raise RehearsalError("the archive's config.cfg defines no host")
    if len(hosts) > min(room, VIP_OFFSET - FIRST_HOST):
        raise RehearsalError(f"{len(hosts)} hosts do not fit the rehearsal's network {rehearsal.subnet}")
    for number, (name, address) in enumerate(hosts):
        node = name or "host-" + address.replace(".", "-")
        rehearsal.hosts.append((node, address))
        rehearsal.addresses[address] = str(net.network_address + FIRST_HOST + number)


def rewrite_config(text: str, addresses: dict[str, str], values: dict[tuple[str, str], str]) -> str:
    """The archive's config with every host address replaced (in host lines, where the `ssh=`
    address Ansible used goes too, and wherever else a value names one, such as [mysql] master
    by address), and the given keys set (added to their section when missing). Every other
    line, comments included, stays as it is."""
    out: list[str] = []
    section = ""
    pending = dict(values)

    def flush(name: str) -> None:
        for (sec, key), value in list(pending.items()):
            if sec == name:
                out.append(f"{key} = {value}")
                del pending[(sec, key)]

    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            flush(section)
            section = header.group("name").strip().lower()
            out.append(line)
            continue
        entry = _ENTRY.match(line)
        if not entry or line.lstrip().startswith(("#", ";")):
            out.append(line)
            continue
        key, raw = entry.group("key").strip(), entry.group("value")
        if (section, key.lower()) in pending:
            out.append(f"{key} = {pending.pop((section, key.lower()))}")
            continue
        if section in HOST_SECTIONS:
            value = _value(raw)
            if raw is None:  # a bare address or name
                out.append(addresses.get(key, key))
            else:
                address = value.split()[0] if value else ""
                out.append(f"{key} = {addresses.get(address, address)}")  # ssh=... left out: the container's
            continue
        if raw is None:
            out.append(line)
            continue
        replaced = _ANY_IPV4.sub(lambda m: addresses.get(m.group(0), m.group(0)), _value(raw))
        out.append(line if replaced == _value(raw) else f"{key} = {replaced}")
    flush(section)
    for (sec, key), value in pending.items():
        out += ["", f"[{sec}]", f"{key} = {value}"]
    return "\n".join(out) + "\n"


def choose_bundle(text: str, folder: Path) -> tuple[Path, str]:
    """The bundle the rehearsal installs from, and why that one: the archive's config's when it
    names a Debian 12 bundle on this controller that verifies (the cluster's own versions),
    else the demo's, made under folder (the stand-in Mesos and Marathon from demo/standins)."""
    from installer.bundle import verify_bundle
    from installer.demo import TOP, build_bundle

    bundle = next((_value(raw) for section, key, raw in _entries(text)
                   if section == "repo" and key.lower() == "bundle"), "")
    # A relative path was relative to the config's folder on the cluster's controller: here,
    # to the folder the rehearsal is started from (where the installer and its bundle/ are).
    path = Path(bundle).expanduser().resolve() if bundle else None
    if path is not None and path.is_dir():
        report = verify_bundle(path)
        if report.ok and report.os == "debian12":
            return path, "the archive's config.cfg's own, found on this controller and verified"
    if not (TOP / "demo" / "standins").is_dir():
        raise RehearsalError("no Debian 12 bundle: the archive's config.cfg names none on this controller, and the "
                             "demo's is made from a checkout of the installer (demo/standins)")
    build_bundle(folder / "bundle", folder / "standins")
    return folder / "bundle", "the demo's (the archive's config.cfg names no Debian 12 bundle on this controller)"


def site_values(rehearsal: Rehearsal, key: Path, bundle: Path, has_vip: bool) -> dict[tuple[str, str], str]:
    from installer.demo import SSH_USER

    values = {("cluster", "ssh_user"): SSH_USER, ("cluster", "ssh_key_file"): str(key),
              ("cluster", "ssh_port"): "22", ("cluster", "become"): "true", ("cluster", "become_method"): "sudo",
              ("cluster", "python_interpreter"): "auto", ("cluster", "admin_networks"): rehearsal.subnet,
              ("repo", "bundle"): str(bundle), **HARDWARE}
    if has_vip:
        values.update({("keepalived", "vip"): rehearsal.vip, ("keepalived", "interface"): ""})
    return values


def _has_section(text: str, name: str) -> bool:
    return any((m := _SECTION.match(line)) and m.group("name").strip().lower() == name
               for line in text.splitlines())


def prepare(rehearsal: Rehearsal, folder: Path, out) -> tuple[Path, list]:
    """Containers, key, bundle and config.cfg under folder (made anew); returns the config's
    path and the nodes."""
    from installer.demo import IMAGE, Node, ensure_testbed, ssh_keypair, start_nodes
    from installer.rundir import private_dir

    text = rehearsal.backup.files["secrets/config.cfg"].read_text()
    plan_hosts(rehearsal, text)
    remove(rehearsal)
    shutil.rmtree(folder / "runs", ignore_errors=True)
    private_dir(folder.parent)
    private_dir(folder)
    ensure_testbed()
    bundle, why = choose_bundle(text, folder)
    print(f"  bundle: {bundle} ({why})", file=out, flush=True)
    key = ssh_keypair(folder)
    nodes = [Node(f"{rehearsal.prefix}-{name}", name, rehearsal.addresses[address], IMAGE)
             for name, address in rehearsal.hosts]
    start = time.monotonic()
    start_nodes(nodes, rehearsal.network, rehearsal.subnet, key, LABEL, internal=True)
    print(f"  {len(nodes)} containers up in {time.monotonic() - start:.0f} s", file=out, flush=True)
    config = folder / "config.cfg"
    config.write_text(rewrite_config(text, rehearsal.addresses,
                                     site_values(rehearsal, key, bundle, _has_section(text, "lb"))))
    config.chmod(0o600)  # the archive's config may hold passwords
    return config, nodes


def remove(rehearsal: Rehearsal) -> None:
    """Every container and the network of the rehearsal's prefix (this one's or one left by a
    rehearsal that was killed)."""
    from installer.demo import docker, remove_nodes

    names = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"label={LABEL}", check=False).stdout.split()
    remove_nodes([n for n in names if n.startswith(f"{rehearsal.prefix}-")], rehearsal.network)


def load(config: Path):
    try:
        return load_config(config)
    except ConfigInvalid as exc:
        problems = "; ".join(f"line {e.line}: {e.message}" if getattr(e, "line", None) else str(e.message)
                             for e in exc.errors)
        raise RehearsalError(f"the archive's config.cfg, moved to the rehearsal's containers, is not valid "
                             f"({problems}): it names files this controller does not have?") from None


# ---- what came back -------------------------------------------------------------------------
_APPS = """
import base64, json, sys, urllib.request
ask = json.load(sys.stdin)
auth = base64.b64encode(f"{ask['user']}:{ask['password']}".encode()).decode()
try:
    req = urllib.request.Request(ask["url"], headers={"Authorization": "Basic " + auth})
    with urllib.request.urlopen(req, timeout=10) as resp:
        print(json.dumps(sorted(a["id"] for a in json.load(resp)["apps"])))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__}))
"""


def marathon_apps(cfg, nodes, secrets: dict) -> list[str] | None:
    """The ids of Marathon's apps, asked of each master in turn (on the master itself, with the
    cluster's credentials given on stdin); None when none answers."""
    by_ip = {n.ip: n for n in nodes}
    ask = {"user": cfg.marathon.username, "password": secrets.get("marathon_password", "")}
    for master in cfg.group("masters"):
        node = by_ip.get(str(master.ip))
        if node is None:
            continue
        ask["url"] = f"http://{master.ip}:{cfg.marathon.port}/v2/apps"
        try:
            answer = json.loads(node.python(_APPS, stdin=json.dumps(ask), timeout=30).strip() or "{}")
        except Exception:  # a master that does not answer: the next
            continue
        if isinstance(answer, list):
            return answer
    return None


def database_rows(node, database: str) -> dict[str, int] | None:
    """Each table of the database and its rows, on the MySQL master (root by its socket); None
    when the database is missing."""
    if "`" in database or "\n" in database:
        return None
    if database not in _mysql(node, "SHOW DATABASES").split("\n"):
        return None
    quoted = database.replace("\\", "\\\\").replace("'", "\\'")
    tables = _mysql(node, "SELECT table_name FROM information_schema.tables "
                          f"WHERE table_schema = '{quoted}' AND table_type = 'BASE TABLE'")
    rows: dict[str, int] = {}
    for table in sorted(t for t in tables.split("\n") if t and "`" not in t):
        count = _mysql(node, f"SELECT COUNT(*) FROM `{database}`.`{table}`").strip()
        rows[table] = int(count) if count.isdigit() else -1
    return rows


def _mysql(node, query: str) -> str:
    return node.sh(f"mysql -N -B -e {shlex.quote(query)}", check=False, timeout=60)
