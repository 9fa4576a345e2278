"""./install.sh config.cfg backup [--out DIR]: one archive of what the cluster cannot be rebuilt
without, with a manifest and checksums.

    <cluster>-backup-<stamp>/
      manifest.json        what is in it, from where and how, each part's sha256 and size, and
                           the versions the hosts record
      SHA256SUMS           sha256sum -c checks every file
      config.cfg           config.cfg, its secrets redacted
      zookeeper/data.tar.gz   ZooKeeper's version-2 folder (snapshots and transaction logs) of a
                           follower, copied while that member was stopped: consistent (no file
                           changes under the copy), while the other members keep the quorum
                           (Marathon's apps, the Mesos masters' leader election, ACLs)
      mysql/databases.sql.gz   the operator's databases (mysqldump --single-transaction
                           --add-drop-database), taken from the slave (the master keeps serving),
                           or from the master when the slave does not replicate or lags (the
                           manifest's parts.mysql.why says which and why); never the mysql
                           schema (the slave's own replication state)
      records/<host>.json  the installer's records of each host (what it runs, at which version)
      secrets/             runs/secrets/<cluster>.yml, the repository's signing key, the cluster
                           CA and its key, the certificates made from it, config.cfg as written

No secret is outside secrets/ (the test greps for every one). The archive is written 0600 in a
0700 folder and not encrypted: an encrypted backup needs a key kept somewhere else, and a lost
key is a lost backup at the worst moment; keep the archive where the secrets file itself is
kept (both give the whole cluster away). Copy it off the controller."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer import __version__
from installer.archive import PrivateArchive
from installer.rundir import redacted_config

if TYPE_CHECKING:
    from installer.config.model import Config
    from installer.runner import Run

# What the hosts' part brings (fetched/<name>), and where it goes in the archive.
PARTS = {"zookeeper.tar.gz": "zookeeper/data.tar.gz", "mysql.sql.gz": "mysql/databases.sql.gz",
         "mysql-accounts.sql.gz": "secrets/mysql-accounts.sql.gz"}


# The MySQL slave the dump is taken on may be this far behind its master (Seconds_Behind_Master);
# further, or not replicating, the dump is taken on the master (playbooks/backup.yml).
SLAVE_LAG_MAX = 60


def plan(cfg: Config) -> str:
    masters = cfg.group("masters")
    lines = [f"Back up cluster {cfg.cluster.name}:"]
    if len(masters) > 1:
        lines.append("  ZooKeeper: the data of one follower, stopped for the copy (a few seconds; the other members "
                     "keep the quorum), started again and back in the ensemble before the run goes on")
    else:
        lines.append(f"  ZooKeeper: the data of {masters[0].id}, the only member: it stops for the copy (a few "
                     "seconds: Mesos and Marathon wait for it meanwhile)")
    if cfg.mysql is not None and cfg.mysql_slave is not None:
        lines.append("  MySQL: the accounts and every database of yours, dumped from the slave "
                     f"{cfg.mysql_slave.id} in one transaction (from the master {cfg.mysql_master.id} if the "
                     f"slave does not replicate or lags more than {SLAVE_LAG_MAX} s: the output says so)")
    lines.append("  the hosts' records (components and versions), config.cfg")
    lines.append("  secrets/: the cluster's secrets, the repository's signing key, the cluster CA and its key")
    return "\n".join(lines)


def run_options(cfg: Config, out: Path | None = None, **options: Any):
    from installer.catalogue import all_versioned_packages
    from installer.runner import RunOptions

    return RunOptions(operation="backup", archive_out=out, precheck=False,
                      again="backup" + (f" --out {shlex.quote(str(out))}" if out is not None else ""),
                      extravars={"dcos_version_packages": all_versioned_packages(),
                                 "dcos_backup_slave_lag_max": SLAVE_LAG_MAX}, **options)


def wanted(cfg: Config) -> list[str]:
    """The parts a complete backup of this cluster has."""
    mysql = cfg.mysql is not None and cfg.mysql_slave is not None
    return ["zookeeper.tar.gz"] + (["mysql-accounts.sql.gz", "mysql.sql.gz"] if mysql else [])


def assemble(run: Run, fetched: Path) -> tuple[Path | None, dict[str, Any]]:
    """The backup archive from the hosts' parts (fetched/) and the controller's files; no
    archive when a part is missing (a backup that looks whole and is not is worse than none)."""
    cfg, runs_dir = run.cfg, Path(run.options.runs_dir).resolve()
    missing = {name: "not fetched (see the run's log)" for name in wanted(cfg) if not (fetched / name).is_file()}
    records = sorted(fetched.glob("records/*.json"))
    unrecorded = [h.id for h in cfg.all_hosts() if not (fetched / "records" / f"{h.id}.json").is_file()]
    if unrecorded:
        missing["records"] = f"not fetched from {', '.join(unrecorded)}"
    failed = [r.phase for r in getattr(run, "results", []) if r.status != "successful"]
    if failed:
        missing["run"] = "the backup run did not succeed (see the run's log)"
    manifest: dict[str, Any] = {"complete": not missing, "missing": missing}
    if missing:
        return None, manifest
    with PrivateArchive.for_run(run, "backup") as archive:
        for name, inside in PARTS.items():
            if (fetched / name).is_file():
                archive.add(inside, (fetched / name).read_bytes())
        versions = {}
        for record in records:
            archive.add(f"records/{record.name}", record.read_bytes())
            facts = json.loads(record.read_text())
            versions[record.stem] = facts.get("packages", {})
        archive.add("config.cfg", redacted_config(cfg).encode())
        secrets = runs_dir / "secrets"
        archive.add("secrets/secrets.yml", (secrets / f"{cfg.cluster.name}.yml").read_bytes())
        archive.add("secrets/config.cfg", Path(cfg.path).read_bytes())
        if (secrets / f"{cfg.cluster.name}-gpg").is_dir():
            archive.add_tree("secrets/gpg", secrets / f"{cfg.cluster.name}-gpg")
        pki = runs_dir / "state" / cfg.cluster.name / "registry-pki"
        if pki.is_dir():
            archive.add_tree("secrets/registry-pki", pki)
        # source-<part>: the host it was taken on, then (MySQL) why that host.
        source = {part: (fetched / f"source-{part}").read_text().strip().split("\n", 1)
                  if (fetched / f"source-{part}").is_file() else [None] for part in ("zookeeper", "mysql")}
        listed = fetched / "mysql-databases"
        databases = [d for d in listed.read_text().split("\n") if d] if listed.is_file() else []
        manifest.update({
            "cluster": cfg.cluster.name, "created": archive.stamp, "installer_version": __version__,
            "parts": {
                "zookeeper": {"file": PARTS["zookeeper.tar.gz"], "from": source["zookeeper"][0],
                              "how": "the version-2 folder of a member stopped for the copy (a follower when there "
                                     "are several)"},
                **({"mysql": {"file": PARTS["mysql.sql.gz"], "accounts": PARTS["mysql-accounts.sql.gz"],
                              "from": source["mysql"][0], "why": (source["mysql"][1:] or [None])[0],
                              "how": "the accounts: mysqldump --system=users --insert-ignore; the databases: "
                                     "--single-transaction --add-drop-database --routines --events --triggers",
                              "databases": databases}}
                   if "mysql.sql.gz" in wanted(cfg) else {}),
                "secrets": {"file": "secrets/", "how": "the controller's files as they are; the archive is 0600"},
            },
            "versions": versions,
            "files": {name: {"sha256": archive.sums[name], "bytes": archive.sizes[name]}
                      for name in sorted(archive.sums)},
        })
        sums = "".join(f"{archive.sums[name]}  {name}\n" for name in sorted(archive.sums))
        archive.add("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        archive.add("SHA256SUMS", sums.encode())
    return archive.path, manifest
