"""Render runs/<run-id>/ as an ansible-runner private_data_dir:

    inventory/hosts.yml   groups of DESIGN.md, one entry per host with its address
    env/extravars         the validated config as `dcos` (no secrets) and run facts
    env/envvars           ANSIBLE_CONFIG and the repo's roles/collections paths, fact cache
    env/settings          ansible-runner settings
    project -> playbooks/ (symlink)
    config.cfg            the config this run was made from
runs/latest points at the newest run."""

import contextlib
import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from installer import __version__
from installer.config import Config, Host
from installer.phases import PLAYBOOKS, TOP
from installer.ports import host_ports
from installer.secrets import SECRET_KEYS


@dataclass(frozen=True)
class RunDir:
    path: Path
    run_id: str

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
    if cfg.mysql is not None:
        out["mysql"]["master_host"] = cfg.mysql_master.id
        out["mysql"]["slave_host"] = cfg.mysql_slave.id
    return out


def _host_vars(cfg: Config, host: Host) -> dict[str, Any]:
    hv: dict[str, Any] = {"ansible_host": host.ssh_address or str(host.ip), "dcos_ip": str(host.ip)}
    if host.name:
        hv["dcos_hostname"] = host.name
    # The ports this host's components need (the firewall opens exactly these).
    hv["dcos_ports"] = [{"port": port, "proto": proto}
                        for port, proto in dict.fromkeys((u.port, u.protocol) for u in host_ports(cfg, host))]
    masters = cfg.group("masters")
    if host in masters:
        # Stable: the host's place in the configured list, never reshuffled by appending a host.
        hv["zookeeper_myid"] = masters.index(host) + 1
    return hv


def inventory(cfg: Config) -> dict[str, Any]:
    cluster = cfg.cluster
    all_vars: dict[str, Any] = {
        "ansible_user": cluster.ssh_user,
        "ansible_port": cluster.ssh_port,
        "ansible_become": cluster.become,
        "ansible_become_method": cluster.become_method,
        "ansible_python_interpreter": "auto_silent" if cluster.python_interpreter == "auto"
        else cluster.python_interpreter,
    }
    if cluster.ssh_key_file is not None:
        all_vars["ansible_ssh_private_key_file"] = str(cluster.ssh_key_file)

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


def _write(path: Path, text: str, mode: int = 0o640) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def create_run_dir(cfg: Config, runs_dir: Path, secrets_file: Path, extra: dict[str, Any] | None = None,
                   run_id: str | None = None) -> RunDir:
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id(cfg)
    path = runs_dir / run_id
    suffix = 1
    while path.exists():
        suffix += 1
        path = runs_dir / f"{run_id}-{suffix}"
    path.mkdir(mode=0o750)
    run = RunDir(path=path, run_id=path.name)

    _write(path / "inventory" / "hosts.yml", yaml.safe_dump(inventory(cfg), sort_keys=False))
    extravars = {
        "dcos": config_vars(cfg),
        "dcos_run_id": run.run_id,
        "dcos_installer_version": __version__,
        "dcos_secrets_file": str(secrets_file.resolve()),
        # Controller-side state kept across runs: the repository build and its signing key.
        "dcos_state_dir": str((runs_dir / "state" / cfg.cluster.name).resolve()),
        "dcos_gpg_home": str((secrets_file.parent / f"{cfg.cluster.name}-gpg").resolve()),
        **(extra or {}),
    }
    _write(path / "env" / "extravars", yaml.safe_dump(extravars, sort_keys=False))
    envvars = {
        "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(TOP / "roles"),
        "ANSIBLE_COLLECTIONS_PATH": str(TOP / "collections"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(path / "facts"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    _write(path / "env" / "envvars", yaml.safe_dump(envvars, sort_keys=False))
    _write(path / "env" / "settings", yaml.safe_dump({"suppress_ansible_output": True}, sort_keys=False))
    (path / "project").symlink_to(PLAYBOOKS)
    shutil.copyfile(cfg.path, path / "config.cfg")

    latest = runs_dir / "latest"
    tmp = runs_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run.run_id)
    tmp.replace(latest)
    return run


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


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
