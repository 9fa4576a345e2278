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
      mysql/all-databases.sql.gz   mysqldump --single-transaction of every database, taken
                           from the slave (the master keeps serving)
      records/<host>.json  the installer's records of each host (what it runs, at which version)
      secrets/             runs/secrets/<cluster>.yml, the repository's signing key, the cluster
                           CA and its key, the certificates made from it, config.cfg as written

No secret is outside secrets/ (the test greps for every one). The archive is written 0600 in a
0700 folder and not encrypted: an encrypted backup needs a key kept somewhere else, and a lost
key is a lost backup at the worst moment; keep the archive where the secrets file itself is
kept (both give the whole cluster away). Copy it off the controller."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer import __version__
from installer.rundir import redacted_config

if TYPE_CHECKING:
    from installer.config.model import Config
    from installer.runner import Run

# What the hosts' part brings (fetched/<name>), and where it goes in the archive.
PARTS = {"zookeeper.tar.gz": "zookeeper/data.tar.gz", "mysql.sql.gz": "mysql/all-databases.sql.gz"}


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
        lines.append(f"  MySQL: every database, dumped from the slave {cfg.mysql_slave.id} in one transaction")
    lines.append("  the hosts' records (components and versions), config.cfg")
    lines.append("  secrets/: the cluster's secrets, the repository's signing key, the cluster CA and its key")
    return "\n".join(lines)


def run_options(cfg: Config, out: Path | None = None, **options: Any):
    from installer.diagnostics import spec
    from installer.runner import RunOptions

    return RunOptions(operation="backup", archive_out=out, precheck=False,
                      extravars={"dcos_backup_packages": spec("-1h")["packages"]}, **options)


def wanted(cfg: Config) -> list[str]:
    """The parts a complete backup of this cluster has."""
    return ["zookeeper.tar.gz"] + (["mysql.sql.gz"] if cfg.mysql is not None and cfg.mysql_slave is not None else [])


class _Tar:
    def __init__(self, path: Path, top: str):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w:gz")  # noqa: SIM115 (closed by close())
        self.top, self.sums, self.sizes = top, {}, {}

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(f"{self.top}/{name}")
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        self._tar.addfile(info, io.BytesIO(data))
        self.sums[name], self.sizes[name] = hashlib.sha256(data).hexdigest(), len(data)

    def add_tree(self, name: str, folder: Path) -> None:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.startswith("S.gpg-agent"):
                self.add(f"{name}/{path.relative_to(folder)}", path.read_bytes())

    def close(self) -> None:
        self._tar.close()
        self._file.close()


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
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    top = f"{cfg.cluster.name}-backup-{stamp}"
    out_dir = Path(run.options.archive_out).resolve() if run.options.archive_out else run.run_dir.path
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{top}.tar.gz"
    tar = _Tar(path, top)
    try:
        for name, inside in PARTS.items():
            if (fetched / name).is_file():
                tar.add(inside, (fetched / name).read_bytes())
        versions = {}
        for record in records:
            tar.add(f"records/{record.name}", record.read_bytes())
            facts = json.loads(record.read_text())
            versions[record.stem] = facts.get("packages", {})
        tar.add("config.cfg", redacted_config(cfg).encode())
        secrets = runs_dir / "secrets"
        tar.add("secrets/secrets.yml", (secrets / f"{cfg.cluster.name}.yml").read_bytes())
        tar.add("secrets/config.cfg", Path(cfg.path).read_bytes())
        if (secrets / f"{cfg.cluster.name}-gpg").is_dir():
            tar.add_tree("secrets/gpg", secrets / f"{cfg.cluster.name}-gpg")
        pki = runs_dir / "state" / cfg.cluster.name / "registry-pki"
        if pki.is_dir():
            tar.add_tree("secrets/registry-pki", pki)
        source = {part: (fetched / f"source-{part}").read_text().strip() if (fetched / f"source-{part}").is_file()
                  else None for part in ("zookeeper", "mysql")}
        manifest.update({
            "cluster": cfg.cluster.name, "created": stamp, "installer_version": __version__,
            "parts": {
                "zookeeper": {"file": PARTS["zookeeper.tar.gz"], "from": source.get("zookeeper"),
                              "how": "the version-2 folder of a member stopped for the copy (a follower when there "
                                     "are several)"},
                **({"mysql": {"file": PARTS["mysql.sql.gz"], "from": source.get("mysql"),
                              "how": "mysqldump --single-transaction --all-databases --routines --events --triggers"}}
                   if "mysql.sql.gz" in wanted(cfg) else {}),
                "secrets": {"file": "secrets/", "how": "the controller's files as they are; the archive is 0600"},
            },
            "versions": versions,
            "files": {name: {"sha256": tar.sums[name], "bytes": tar.sizes[name]} for name in sorted(tar.sums)},
        })
        sums = "".join(f"{tar.sums[name]}  {name}\n" for name in sorted(tar.sums))
        tar.add("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        tar.add("SHA256SUMS", sums.encode())
    except BaseException:
        tar.close()
        path.unlink(missing_ok=True)
        raise
    tar.close()
    return path, manifest
