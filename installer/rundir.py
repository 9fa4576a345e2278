"""Render runs/<run-id>/ as an ansible-runner private_data_dir:

    inventory/hosts.yml   the groups (installer, masters, agents, lb, cluster, mysql_*), one entry per host
    env/extravars         the validated config as `dcos` (no secrets) and run facts
    env/envvars           ANSIBLE_CONFIG and the repo's roles/collections paths, fact cache
    env/settings          ansible-runner settings
    project -> playbooks/ (symlink)
    config.cfg            the config this run was made from, secret keys redacted
runs/latest points at the newest run.

Everything written here is data for Ansible, never a template: every string goes out as
`!unsafe`, so a config value such as "{{ lookup('pipe', ...) }}" reaches the hosts as that
literal text and runs nothing on the controller. The folder is 0700 and its files 0600:
the inventory and logs name the cluster's hosts and users."""

import contextlib
import copy
import datetime as dt
import json
import os
import re
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from installer import __version__
from installer.catalogue import component_units_of, consul_services, unit_packages_of, units_of
from installer.config import Config, Host
from installer.phases import PLAYBOOKS, TOP
from installer.ports import admin_networks, cluster_addresses, firewall_rules, firewall_sources, host_ports
from installer.secrets import REDACTED, SECRET_KEYS, is_secret_key
from installer.stamps import role_digests


@dataclass(frozen=True)
class RunDir:
    path: Path
    run_id: str
    # Makes the stamped roles' inputs again and writes them into the inventory (install runs:
    # the repo and registry phases make files the later roles read, such as the CA).
    refresh_stamps: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    # The inventory as written (the survey resolves the plays' host patterns in it), and the
    # stamped roles' inputs of the last refresh: host -> role -> digest (installer/survey.py).
    inventory: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    stamp_inputs: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def log_file(self) -> Path:
        return self.path / "install.log"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"


def new_run_id(cfg: Config, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{cfg.cluster.name}"


def _plain(value: Any) -> Any:
    """Config values as YAML-safe data; secrets are dropped (they travel separately)."""
    if isinstance(value, SecretStr) or value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)  # addresses, interfaces


def config_vars(cfg: Config) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("cluster", "keepalived", "registry", "repo", "ntp", "zookeeper", "mesos", "marathon", "consul",
                 "haproxy", "mysql", "cadvisor", "precheck"):
        section = getattr(cfg, name)
        if section is None:
            continue
        out[name] = {k: _plain(getattr(section, k)) for k in type(section).model_fields
                     if (name, k) not in SECRET_KEYS}
    if cfg.keepalived is not None and cfg.keepalived.vip is not None:
        out["keepalived"]["vip_address"] = str(cfg.keepalived.vip.ip)
        prefix = cfg.keepalived.vip.network.prefixlen
        out["keepalived"]["vip_prefix"] = prefix if prefix != 32 else None
    # Certificate files given as paths relative to config.cfg's folder, made absolute.
    for section, key in (("registry", "tls_cert"), ("registry", "tls_key"), ("haproxy", "tls_cert"),
                         ("haproxy", "tls_key")):
        value = out.get(section, {}).get(key)
        if value and value != "generate":
            out[section][key] = str((cfg.path.parent / Path(value).expanduser()).resolve())
    out["cluster"]["admin_networks"] = admin_networks(cfg)  # the default made explicit
    out["cluster"]["addresses"] = cluster_addresses(cfg)
    if cfg.mysql is not None:
        out["mysql"]["master_host"] = cfg.mysql_master.id
        out["mysql"]["slave_host"] = cfg.mysql_slave.id
    return out


def ansible_host(host: Host) -> str:
    """Where Ansible reaches the host (its inventory's ansible_host)."""
    return host.ssh_address or str(host.ip)


def _host_vars(cfg: Config, host: Host) -> dict[str, Any]:
    hv: dict[str, Any] = {"ansible_host": ansible_host(host), "dcos_ip": str(host.ip)}
    if host.name:
        hv["dcos_hostname"] = host.name
    # The ports this host's components need (the firewall opens exactly these).
    hv["dcos_ports"] = [{"port": port, "proto": proto}
                        for port, proto in dict.fromkeys((u.port, u.protocol) for u in host_ports(cfg, host)
                                                         if u.audience != "local")]
    # Who may reach them: the firewall's rules (ports by protocol and audience; who each
    # audience is: dcos_firewall_sources, the same for every host).
    hv["dcos_firewall"] = firewall_rules(cfg, host)
    # From the catalogue: the units this host runs (per OS family; verify asks systemd about
    # them) and the services it registers in Consul (no secret: a check that needs
    # credentials names them in `auth`, group_vars adds them).
    hv["dcos_units"] = units_of(cfg, host)
    hv["dcos_unit_packages"] = unit_packages_of(cfg, host)
    hv["dcos_component_units"] = component_units_of(cfg, host)
    hv["dcos_consul_services"] = consul_services(cfg, host)
    masters = cfg.group("masters")
    if host in masters:
        # Stable: the host's place in the configured list, never reshuffled by appending a host.
        hv["zookeeper_myid"] = masters.index(host) + 1
    return hv


def inventory(cfg: Config, known_hosts: Path | None = None) -> dict[str, Any]:
    cluster = cfg.cluster
    all_vars: dict[str, Any] = {
        "ansible_user": cluster.ssh_user,
        "ansible_port": cluster.ssh_port,
        "ansible_become": cluster.become,
        "ansible_become_method": cluster.become_method,
        "ansible_python_interpreter": "auto_silent" if cluster.python_interpreter == "auto"
        else cluster.python_interpreter,
        # who each audience of the firewall is: the same on every host (role membership)
        "dcos_firewall_sources": firewall_sources(cfg),
    }
    if cluster.ssh_key_file is not None:
        all_vars["ansible_ssh_private_key_file"] = str(cluster.ssh_key_file)
    if known_hosts is not None:
        # Trust on first use, per cluster: a host's key is recorded at the first contact and a
        # changed key is refused (someone in the middle, or a rebuilt host: see docs/security.md).
        all_vars["ansible_ssh_common_args"] = (f"-o StrictHostKeyChecking=accept-new "
                                               f"-o UserKnownHostsFile={known_hosts}")

    def group(hosts: list[Host]) -> dict[str, Any]:
        return {"hosts": {h.id: None for h in hosts}} if hosts else {"hosts": {}}

    children = {name: group(cfg.group(name)) for name in ("installer", "masters", "agents", "lb")}
    children["cluster"] = group(cfg.cluster_hosts())
    children["mysql_master"] = group([cfg.mysql_master] if cfg.mysql_master else [])
    children["mysql_slave"] = group([cfg.mysql_slave] if cfg.mysql_slave else [])
    return {
        "all": {
            "hosts": {h.id: _host_vars(cfg, h) for h in cfg.all_hosts()},
            "vars": all_vars,
            "children": children,
        }
    }


class _UnsafeDumper(yaml.SafeDumper):
    """YAML for Ansible in which every string is tagged !unsafe: data, never a template."""


def _unsafe_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", value, style="'" if value else None)


def _plain_keys(dumper: yaml.SafeDumper, value: dict) -> yaml.MappingNode:
    """Mapping keys stay plain (names of variables, groups and hosts); values are data."""
    pairs = [(yaml.SafeDumper.represent_str(dumper, str(k)), dumper.represent_data(v)) for k, v in value.items()]
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs)


_UnsafeDumper.add_representer(str, _unsafe_str)
_UnsafeDumper.add_representer(dict, _plain_keys)


def unsafe_yaml(data: Any) -> str:
    """YAML that Ansible reads with every string marked unsafe (`!unsafe`): config values are
    never evaluated as Jinja, whatever they hold."""
    return yaml.dump(data, Dumper=_UnsafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1 << 16)  # one value per line: no string folded over two


def private_dir(path: Path) -> Path:
    """A folder only the installer's user may enter (runs/, a run, its subfolders)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(mode)


_KEY_LINE = re.compile(r"^(?P<key>[^=:\s;#\[][^=:]*?)\s*(?P<sep>[=:])(?P<value>.*)$")


def redacted_config(cfg: Config) -> str:
    """config.cfg as written, with the value of every secret key replaced: the copy in a run
    folder says which keys were given, never what they hold."""
    out = []
    section = None
    for line in cfg.path.read_text(encoding="utf-8-sig").splitlines():
        header = re.match(r"^\s*\[(?P<name>[^\]]*)\]", line)
        if header:
            section = header.group("name").strip()
            out.append(line)
            continue
        match = _KEY_LINE.match(line)
        secret = (match is not None and section is not None and match.group("value").strip()
                  and is_secret_key(section, match.group("key").strip().lower()))
        out.append(f"{match.group('key')} {match.group('sep')} {REDACTED}" if secret else line)
    return "\n".join(out) + "\n"


def _files_state(*roots: Path) -> list[tuple[str, int, int]]:
    """(path, size, modification time) of every file under the roots (a root may be a file)."""
    out = []
    for root in roots:
        for path in sorted([root, *root.rglob("*")]):
            with contextlib.suppress(OSError):
                st = path.stat()
                if stat.S_ISREG(st.st_mode):
                    out.append((str(path), st.st_size, st.st_mtime_ns))
    return out


def create_run_dir(cfg: Config, runs_dir: Path, secrets_file: Path, extra: dict[str, Any] | None = None,
                   run_id: str | None = None, stamps: str = "off") -> RunDir:
    """stamps: "check" (a role converged since its last run on a host is skipped there, and
    recorded again when it runs), "record" (every role runs and is recorded: --full), "off"
    (operations that run no role of the install)."""
    private_dir(runs_dir)
    run_id = run_id or new_run_id(cfg)
    path = runs_dir / run_id
    suffix = 1
    while path.exists():
        suffix += 1
        path = runs_dir / f"{run_id}-{suffix}"
    path.mkdir(mode=0o700)

    state = private_dir(runs_dir / "state" / cfg.cluster.name)
    hosts = inventory(cfg, (state / "known_hosts").resolve())
    extravars = {
        "dcos": config_vars(cfg),
        "dcos_run_id": path.name,
        "dcos_installer_version": __version__,
        "dcos_secrets_file": str(secrets_file.resolve()),
        # Controller-side state kept across runs: the repository build and its signing key.
        "dcos_state_dir": str((runs_dir / "state" / cfg.cluster.name).resolve()),
        "dcos_gpg_home": str((secrets_file.parent / f"{cfg.cluster.name}-gpg").resolve()),
        **(extra or {}),
    }
    _write(path / "env" / "extravars", unsafe_yaml(extravars))
    _write(path / "inventory" / "hosts.yml", unsafe_yaml(hosts))
    refresh = None
    current: dict[str, dict[str, str]] = {}
    if stamps != "off":
        made_from: list[tuple[str, int, int]] | None = None

        def refresh() -> None:
            """installer/stamps.py: what each stamped role is given on each host, as one digest,
            from the files as they are now. Within a run only the controller's state (the CA, the
            certificates, the repository build, the signing key) and the secrets can change under
            a digest (config.cfg, the bundle and the installer do not): when none of their files
            changed (name, size, modification time) since the last digests, they stand (about
            1.5 s of each phase that runs a stamped role)."""
            nonlocal made_from
            roots = (state, secrets_file, Path(extravars["dcos_gpg_home"]))
            if made_from is not None and _files_state(*roots) == made_from:
                return
            inputs = role_digests(hosts, unsafe_yaml(hosts), extravars, path / "env" / "extravars", secrets_file,
                                  state, Path(cfg.repo.bundle))
            made_from = _files_state(*roots)  # as the digests read them (the first makes the key)
            current.clear()
            current.update(copy.deepcopy(inputs))
            stamped = copy.deepcopy(hosts)
            for host, values in stamped["all"]["hosts"].items():
                values["dcos_stamp_input"] = inputs.get(host, {})
            stamped["all"]["vars"]["dcos_stamp_check"] = stamps == "check"
            _write(path / "inventory" / "hosts.yml", unsafe_yaml(stamped))

        refresh()
    run = RunDir(path=path, run_id=path.name, refresh_stamps=refresh, inventory=hosts, stamp_inputs=current)
    envvars = {
        "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(TOP / "roles"),
        "ANSIBLE_COLLECTIONS_PATH": str(TOP / "collections"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(path / "facts"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # Host keys are checked against the cluster's own known_hosts (accept-new, inventory).
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }
    _write(path / "env" / "envvars", yaml.safe_dump(envvars, sort_keys=False))
    _write(path / "env" / "settings", yaml.safe_dump({"suppress_ansible_output": True}, sort_keys=False))
    (path / "project").symlink_to(PLAYBOOKS)
    _write(path / "config.cfg", redacted_config(cfg))
    for name in ("artifacts", "facts"):
        private_dir(path / name)

    latest = runs_dir / "latest"
    tmp = runs_dir / f".latest-{uuid.uuid4().hex}"  # unique per run, also for runs of one portal process
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run.run_id)
    tmp.replace(latest)
    return run


def point_latest(runs_dir: Path) -> None:
    """runs/latest at the newest run folder left (after one was taken back), or gone."""
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.is_symlink()
                  and re.fullmatch(r"\d{8}-\d{6}-.+", p.name))
    latest = runs_dir / "latest"
    latest.unlink(missing_ok=True)
    if runs:
        latest.symlink_to(runs[-1].name)


def unfinished_run(runs_dir: Path, cluster: str) -> dict[str, str | None] | None:
    """The cluster's newest run, when it never ended (its installer was killed, or the machine
    went down): its id and the phase it was in. A run that failed or was interrupted ends with
    run_end and is not reported. Call with the cluster's lock held."""
    # Run ids are new_run_id's "YYYYmmdd-HHMMSS-<cluster>": the cluster "prod" must not pick up
    # a run of "eu-prod".
    runs = sorted(p for p in runs_dir.glob(f"*-{cluster}")
                  if re.fullmatch(rf"\d{{8}}-\d{{6}}-{re.escape(cluster)}", p.name) and p.is_dir()
                  and not p.is_symlink())
    if not runs or not (runs[-1] / "events.jsonl").is_file():
        return None
    phase = None
    for line in (runs[-1] / "events.jsonl").read_text(errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a line cut short by the kill
        if ev.get("type") == "run_end":
            return None
        if ev.get("type") in ("phase_start", "precheck_start"):
            phase = ev.get("phase", "precheck")
    return {"run_id": runs[-1].name, "phase": phase}


def open_private_append(path: Path):
    """A run record opened to append, created 0600 whatever the process's umask."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a")


def make_private(folder: Path) -> None:
    """Every file and folder under a run folder readable by the installer's user only (0600,
    0700): what a copied or archived run folder keeps too, not only its top folder's 0700."""
    # Symbolic links are never followed: project/ points into the installer's own tree.
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                mode = path.lstat().st_mode
                if not path.is_symlink() and mode & 0o077:
                    path.chmod(mode & 0o700)


def purge_partial_events(runs_dir: Path) -> int:
    """Remove ansible-runner's partial event files (job_events/*-partial.json) that a killed run
    left behind: they hold task results before the installer's scrubbing. Returns how many."""
    removed = 0
    for partial in runs_dir.glob("*/artifacts/*/job_events/*-partial.json"):
        with contextlib.suppress(OSError):
            partial.unlink()
            removed += 1
    return removed


def read_yaml(path: Path) -> Any:
    """Read a file written by unsafe_yaml (tests and tools): !unsafe strings as plain str."""
    return yaml.load(path.read_text(), Loader=_UnsafeLoader)


class _UnsafeLoader(yaml.SafeLoader):
    pass


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def write_json(path: Path, data: Any) -> None:
    _write(path, json.dumps(data, indent=2, default=str) + "\n")
