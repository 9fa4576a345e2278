"""What a cluster was installed as, recorded on every host (/etc/ansible/facts.d/
dcos_cluster.fact, written by the hosts phase) and compared by the precheck before any phase
runs: the cluster's name, its masters in order (their ZooKeeper ids), the MySQL pair, and a
hash of each of its secrets (never the value).

Why: a changed master list rewrites ZooKeeper's myid and zoo.cfg over existing data; a moved
MySQL pair re-initialises a server; a lost runs/ folder (or another --runs-dir, or a renamed
cluster) makes new secrets that break the running cluster (a new Consul token is refused, the
replica loses its master). Each is refused with what changed and what to do."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from installer.config import Config

FACT = "dcos_cluster"
# Slow on purpose: a hash of a password kept on the hosts must not be a shortcut to it.
_ITERATIONS = 100_000


def secret_hash(cluster: str, name: str, value: str) -> str:
    """PBKDF2-SHA256 of one secret, salted with the cluster and the secret's name; 16 bytes hex."""
    salt = f"dcos-installer/{cluster}/{name}".encode()
    return hashlib.pbkdf2_hmac("sha256", value.encode(), salt, _ITERATIONS, dklen=16).hex()


def identity(cfg: Config, secrets: dict[str, str]) -> dict[str, Any]:
    """What the hosts record, from config.cfg and this run's secrets."""
    name = cfg.cluster.name
    return {
        "cluster": name,
        "masters": [{"ip": str(h.ip), "id": i} for i, h in enumerate(cfg.group("masters"), start=1)],
        "mysql": ({"master": str(cfg.mysql_master.ip), "slave": str(cfg.mysql_slave.ip)}
                  if cfg.mysql is not None and cfg.mysql_master and cfg.mysql_slave else None),
        "secrets": {key: secret_hash(name, key, value) for key, value in sorted(secrets.items())},
        "data_dirs": data_dirs(cfg),
    }


def data_dirs(cfg: Config) -> dict[str, str]:
    """The folders that hold the cluster's data: a changed one would start an empty service
    beside the data (an empty MySQL, a new ZooKeeper ensemble, a new Mesos log)."""
    out = {"zookeeper": cfg.zookeeper.data_dir, "mesos_master": cfg.mesos.master_work_dir,
           "mesos_agent": cfg.mesos.agent_work_dir, "registry": cfg.registry.data_dir}
    if cfg.mysql is not None:
        out["mysql"] = cfg.mysql.data_dir
    return out


def given_secret_names(cfg: Config) -> set[str]:
    """Secrets config.cfg gives this run: a deliberate change, never refused."""
    from installer.secrets import SECRETS

    given = set()
    for spec in SECRETS:
        section = getattr(cfg, spec.section, None)
        if spec.key and section is not None and getattr(section, spec.key, None) is not None:
            given.add(spec.name)
    return given


def differences(recorded: dict[str, Any], current: dict[str, Any], given: set[str]) -> list[tuple[str, str]]:
    """(what, explanation) for every way the current config and secrets differ from what a
    host was installed as. A secret config.cfg gives is the operator's change: not reported."""
    out = []
    if recorded.get("cluster") != current["cluster"]:
        out.append(("cluster", f"this host belongs to cluster {recorded.get('cluster')!r}, not {current['cluster']!r}"))
        return out  # the rest compares two different clusters
    old = [(m.get("ip"), m.get("id")) for m in recorded.get("masters") or []]
    new = [(m["ip"], m["id"]) for m in current["masters"]]
    if old and old != new:
        out.append(("masters", "the masters were " + ", ".join(f"{ip} (id {i})" for ip, i in old)
                    + "; config.cfg now says " + ", ".join(f"{ip} (id {i})" for ip, i in new)))
    if recorded.get("mysql") and current["mysql"] != recorded["mysql"]:
        now = current["mysql"]
        out.append(("mysql", f"the MySQL pair was master {recorded['mysql'].get('master')}, slave "
                             f"{recorded['mysql'].get('slave')}; config.cfg now says "
                    + (f"master {now['master']}, slave {now['slave']}" if now else "no [mysql]")))
    moved = [f"{what} was {old}, now {current['data_dirs'][what]}"
             for what, old in sorted((recorded.get("data_dirs") or {}).items())
             if what in current.get("data_dirs", {}) and current["data_dirs"][what] != old]
    if moved:
        out.append(("data_dirs", "data folders changed: " + "; ".join(moved)))
    changed = sorted(name for name, digest in (recorded.get("secrets") or {}).items()
                     if name in current["secrets"] and current["secrets"][name] != digest and name not in given)
    if changed:
        out.append(("secrets", "these secrets are not the ones the cluster was installed with: " + ", ".join(changed)))
    return out
