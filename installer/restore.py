"""./install.sh config.cfg restore ARCHIVE: bring a cluster's state back from its backup
(installer/backup.py) into an installed cluster of the same name and secrets.

Before any host is contacted the archive is opened and checked whole: one folder, regular files
only, no path leaving it, SHA256SUMS holding for every file and every file in it, a complete
manifest of this cluster, ZooKeeper's data only under version-2/. Then the secrets:

- runs/secrets/<cluster>.yml missing (a new controller): the archive's secrets, repository key
  and cluster CA are put back, and nothing else is done: the cluster is installed with them
  first (ZooKeeper's ACLs and the MySQL accounts of the data only open with these secrets),
  then the restore is run again;
- the same as the archive's: the restore runs (playbooks/restore.yml, then verify);
- different: refused (exit 2), naming the keys that differ, never their values.

The data: Marathon, the Mesos masters and ZooKeeper stop on every master (a restore is
downtime), each member's version-2 is moved aside (version-2.pre-restore-<stamp>, kept: a
restore can be undone; a member keeps its two newest) and the archive's unpacked; ZooKeeper
starts and elects, then the Mesos masters and Marathon; the dump is loaded into the MySQL
master (the slave replicates it). Running it again gives the same result."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from installer.rundir import private_dir

if TYPE_CHECKING:
    from installer.config.model import Config

CHUNK = 1 << 20
# A backup of this installer holds a few files per host and one tarball per part: far fewer.
# Every member is counted and sized before it is written, so a crafted archive (a gzip bomb, a
# sparse member, a million empty files) is refused before it fills the disk or the memory.
MAX_MEMBERS = 20_000
SPARE_BYTES = 256 << 20  # left free on the filesystem the archive is unpacked on
# The archive's files a restore uses, by part.
ZOOKEEPER = "zookeeper/data.tar.gz"
MYSQL = "mysql/databases.sql.gz"
ACCOUNTS = "secrets/mysql-accounts.sql.gz"  # the password hashes are secrets
UNLISTED = {"SHA256SUMS", "manifest.json"}  # SHA256SUMS lists every other file but the manifest


class BadArchive(Exception):
    """The archive cannot be restored from; str() says why (no secret in it)."""


@dataclass
class Backup:
    """An archive unpacked into a private folder and checked."""

    path: Path  # the archive
    folder: Path  # where it is unpacked (0700; removed by close())
    manifest: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)  # name in the archive -> unpacked file
    zookeeper_bytes: int = 0  # ZooKeeper's part, unpacked

    @property
    def cluster(self) -> str:
        return self.manifest["cluster"]

    @property
    def created(self) -> str:
        return str(self.manifest.get("created", "?"))

    @property
    def databases(self) -> list[str]:
        return list(self.manifest.get("parts", {}).get("mysql", {}).get("databases", []))

    def has(self, name: str) -> bool:
        return name in self.files

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _safe_name(name: str) -> str | None:
    """The member's name below the archive's one folder, or None when it would leave it."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
        return None
    return str(PurePosixPath(*path.parts[1:]))


def open_backup(path: Path, workdir: Path | None = None) -> Backup:
    """Unpack and check the archive (BadArchive when anything is wrong: the folder is removed)."""
    path = Path(path)
    if not path.is_file():
        raise BadArchive(f"{path}: no such file")
    folder = Path(tempfile.mkdtemp(prefix="dcos-restore-", dir=workdir))
    backup = Backup(path=path, folder=folder, manifest={})
    try:
        _unpack(path, folder, backup)
        _check_sums(backup)
        _check_manifest(backup)
        if backup.has(ZOOKEEPER):
            backup.zookeeper_bytes = _check_zookeeper(backup.files[ZOOKEEPER])
        for name in (ACCOUNTS, MYSQL):
            if backup.has(name):
                _check_gzip(backup.files[name], name)
        if backup.has(MYSQL) != backup.has(ACCOUNTS):
            raise BadArchive(f"{path}: the MySQL part needs both {MYSQL} and {ACCOUNTS}")
    except BaseException:
        backup.close()
        raise
    return backup


def _bounded(path: Path, tar: tarfile.TarFile, label: str):
    """The archive's members, refused past MAX_MEMBERS and for a sparse file (its holes would be
    written out in full: a few bytes of archive, gigabytes on disk)."""
    for count, member in enumerate(tar, start=1):
        if count > MAX_MEMBERS:
            raise BadArchive(f"{label}: more than {MAX_MEMBERS} files: not a backup of this installer")
        if member.issparse():
            raise BadArchive(f"{label}: {member.name!r} is a sparse file: refused")
        yield member


def _unpack(path: Path, folder: Path, backup: Backup) -> None:
    tops: set[str] = set()
    free = shutil.disk_usage(folder).free - SPARE_BYTES
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in _bounded(path, tar, str(path)):
                tops.add(PurePosixPath(member.name).parts[0] if member.name else "")
                if member.isdir():
                    continue
                name = _safe_name(member.name)
                if name is None or not member.isfile():
                    raise BadArchive(f"{path}: {member.name!r} is not a file inside the backup's folder: refused")
                free -= member.size
                if free < 0:
                    raise BadArchive(f"{path}: unpacked, it would not fit in {folder.parent} (keeping "
                                     f"{SPARE_BYTES >> 20} MiB free): make room there, or set TMPDIR to a larger "
                                     "filesystem")
                if name in backup.files:
                    raise BadArchive(f"{path}: {name} is in it twice: refused")
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                source = tar.extractfile(member)
                with source, target.open("xb") as out:
                    target.chmod(0o600)
                    shutil.copyfileobj(source, out, CHUNK)
                backup.files[name] = target
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadArchive(f"{path}: not a backup archive, or not whole ({exc}): a truncated or damaged copy?") from None
    if len(tops) != 1:
        raise BadArchive(f"{path}: not one backup folder (found {len(tops)} top-level names)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sums(backup: Backup) -> None:
    if "SHA256SUMS" not in backup.files:
        raise BadArchive(f"{backup.path}: no SHA256SUMS: not a backup of this installer")
    listed: dict[str, str] = {}
    for number, line in enumerate(backup.files["SHA256SUMS"].read_text(errors="replace").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BadArchive(f"{backup.path}: SHA256SUMS line {number} is malformed")
        listed[name] = digest
    changed = [name for name, digest in sorted(listed.items())
               if name in backup.files and _sha256(backup.files[name]) != digest]
    missing = sorted(set(listed) - set(backup.files))
    added = sorted(set(backup.files) - set(listed) - UNLISTED)
    problems = ([f"changed: {', '.join(changed)}"] if changed else []) + \
               ([f"missing: {', '.join(missing)}"] if missing else []) + \
               ([f"not in SHA256SUMS: {', '.join(added)}"] if added else [])
    if problems:
        raise BadArchive(f"{backup.path}: the files do not match SHA256SUMS ({'; '.join(problems)}): refused")


def _check_manifest(backup: Backup) -> None:
    if "manifest.json" not in backup.files:
        raise BadArchive(f"{backup.path}: no manifest.json")
    try:
        manifest = json.loads(backup.files["manifest.json"].read_text())
    except ValueError:
        raise BadArchive(f"{backup.path}: manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cluster"), str):
        raise BadArchive(f"{backup.path}: manifest.json names no cluster")
    if manifest.get("complete") is not True:
        raise BadArchive(f"{backup.path}: the manifest says the backup is not complete: refused")
    files, parts = manifest.get("files") or {}, manifest.get("parts") or {}
    if not isinstance(files, dict) or not isinstance(parts, dict) or not all(
            isinstance(v, dict) for v in parts.values()) or not isinstance(
            parts.get("mysql", {}).get("databases", []), list):
        raise BadArchive(f"{backup.path}: manifest.json is not a backup manifest of this installer")
    # The files the manifest vouches for are the ones SHA256SUMS holds.
    for name, entry in files.items():
        if name not in backup.files or not isinstance(entry, dict) or entry.get("sha256") != _sha256(
                backup.files[name]):
            raise BadArchive(f"{backup.path}: manifest.json and the files disagree on {name}: refused")
    for needed in (ZOOKEEPER, "secrets/secrets.yml"):
        if needed not in backup.files:
            raise BadArchive(f"{backup.path}: {needed} is not in it: not a backup this installer can restore")
    backup.manifest = manifest


def _check_zookeeper(path: Path) -> int:
    """Only ZooKeeper's version-2 folder, files and folders: what is unpacked on the masters.
    Returns its size unpacked (each member checks it has that much room before unpacking)."""
    size = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = []
            for member in _bounded(path, tar, ZOOKEEPER):
                size += member.size
                parts = PurePosixPath(member.name).parts
                if (not parts or parts[0] != "version-2" or ".." in parts or PurePosixPath(member.name).is_absolute()
                        or not (member.isfile() or member.isdir())):
                    raise BadArchive(f"{ZOOKEEPER}: {member.name!r} is not in version-2/: refused")
                names.append(member.name)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadArchive(f"{ZOOKEEPER}: cannot be read ({exc})") from None
    if not any(PurePosixPath(n).name.startswith("snapshot.") for n in names):
        raise BadArchive(f"{ZOOKEEPER}: no snapshot in it: not ZooKeeper's data")
    return size


def _check_gzip(path: Path, name: str) -> None:
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(CHUNK):
                pass
    except (OSError, EOFError) as exc:
        raise BadArchive(f"{name}: cannot be read ({exc})") from None


# ---- against this cluster ------------------------------------------------------------------
def _secret_values(data: bytes) -> dict[str, Any]:
    try:
        values = yaml.safe_load(io.BytesIO(data))
    except yaml.YAMLError:
        return {}
    return values if isinstance(values, dict) else {}


@dataclass
class SecretsState:
    state: str  # "same" | "missing" | "different"
    differing: list[str] = field(default_factory=list)  # key names only


def secrets_state(cfg: Config, backup: Backup, runs_dir: Path) -> SecretsState:
    mine = Path(runs_dir) / "secrets" / f"{cfg.cluster.name}.yml"
    theirs = backup.files["secrets/secrets.yml"].read_bytes()
    if not mine.exists():
        return SecretsState("missing")
    ours = mine.read_bytes()
    if ours == theirs:
        return SecretsState("same")
    a, b = _secret_values(ours), _secret_values(theirs)
    differing = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return SecretsState("same") if not differing else SecretsState("different", differing)


def put_secrets_back(cfg: Config, backup: Backup, runs_dir: Path) -> tuple[list[Path], list[Path]]:
    """The archive's secrets file, repository key and cluster CA where the installer keeps them
    (only where none is: nothing of this controller is overwritten). Returns what was written
    and what this controller had already (kept: the hosts of a new install trust that CA)."""
    runs_dir = private_dir(Path(runs_dir).resolve())
    secrets = private_dir(runs_dir / "secrets")
    name = cfg.cluster.name
    written: list[Path] = []
    kept: list[Path] = []
    target = secrets / f"{name}.yml"
    if not target.exists():
        _private_copy(backup.files["secrets/secrets.yml"], target)
        written.append(target)
    for prefix, folder in (("secrets/gpg/", secrets / f"{name}-gpg"),
                           ("secrets/registry-pki/", runs_dir / "state" / name / "registry-pki")):
        members = {n[len(prefix):]: p for n, p in backup.files.items() if n.startswith(prefix)}
        if not members:
            continue
        if folder.exists():
            kept.append(folder)
            continue
        private_dir(folder.parent)
        private_dir(folder)
        for inside, source in sorted(members.items()):
            dest = folder / inside
            private_dir(dest.parent)
            _private_copy(source, dest)
        written.append(folder)
    return written, kept


def _private_copy(source: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.restoring")
    with source.open("rb") as src, open(tmp, "wb", opener=lambda p, f: os.open(p, f, 0o600)) as out:
        shutil.copyfileobj(src, out, CHUNK)
    tmp.replace(dest)


def check_against(cfg: Config, backup: Backup) -> list[str]:
    """Why this archive cannot be restored into this cluster (empty: it can)."""
    if backup.cluster != cfg.cluster.name:
        return [f"the archive is of cluster {backup.cluster!r}, config.cfg describes {cfg.cluster.name!r}: a "
                "backup is restored into its own cluster (its secrets, ZooKeeper's paths and ACLs are that "
                "cluster's)"]
    return []


def plan(cfg: Config, backup: Backup, size: int) -> str:
    masters = [h.id for h in cfg.group("masters")]
    lines = [f"Restore cluster {cfg.cluster.name} from {backup.path.name} (taken {backup.created}, "
             f"{size // 1024} KiB, SHA256SUMS hold):",
             "  the cluster is DOWN meanwhile: Marathon, the Mesos masters and ZooKeeper stop on "
             f"{', '.join(masters)}",
             "  ZooKeeper: each member's version-2 is moved aside (version-2.pre-restore-<stamp>; the two newest "
             "are kept) and the "
             f"archive's unpacked (taken from {backup.manifest.get('parts', {}).get('zookeeper', {}).get('from')}); "
             "ZooKeeper starts and elects a leader, then the Mesos masters, then Marathon (its apps are the "
             "archive's: apps made since the backup are gone)"]
    if cfg.mysql is not None and backup.has(MYSQL):
        dbs = backup.databases
        names = ", ".join(dbs) if dbs else "no database (there was none)"
        lines.append(f"  MySQL: on the master {cfg.mysql_master.id} (the slave replicates it): the archive's "
                     f"accounts (the missing ones made, their grants given), then {names} each dropped and "
                     "loaded as it was; other databases are left alone")
    elif cfg.mysql is not None:
        lines.append("  MySQL: the archive has no dump: left as it is")
    lines.append("  then the verify phase")
    return "\n".join(lines)


def run_options(backup: Backup, **options: Any):
    from installer.runner import RunOptions

    parts: dict[str, Any] = {"zookeeper": str(backup.files[ZOOKEEPER]), "zookeeper_bytes": backup.zookeeper_bytes}
    if backup.has(MYSQL):
        parts.update(mysql=str(backup.files[MYSQL]), mysql_accounts=str(backup.files[ACCOUNTS]))
    return RunOptions(operation="restore", precheck=False, again=f"restore {shlex.quote(str(backup.path))}", extravars={
        "dcos_restore": {**parts, "stamp": time.strftime("%Y%m%d-%H%M%S"), "archive": backup.path.name}}, **options)
