"""The inputs of a run, per host, as one digest: what the `stamp` module compares with the record
a role left on the host (docs/design/fast-reruns.md).

The first version is deliberately coarse: one digest per host over everything a role on it may
read, so that a role is skipped only when nothing it could see has changed:

- the installer itself: every file under roles/, playbooks/ and collections/ (the tasks,
  templates, modules and group_vars), and its version;
- the run's variables (env/extravars without the run's own id: the validated config as `dcos`,
  the identity), the content of every file they name by its absolute path (a certificate and key
  the operator gave: replaced at the same path, they are a new input), the secrets file, and the
  controller's state of the cluster (runs/state/<name>: the CA, the certificates, the
  repository's build);
- the bundle's manifest (its checksums say what every package and image is);
- the host's own inventory entry and the groups (its ports, firewall rules, units, services, the
  other hosts' names and addresses).

A changed config.cfg therefore runs every role again on every host. Narrowing the digest to what
each role reads (so that adding an agent re-runs only the roles that list the hosts) is the next
step of #23.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

TOP = Path(__file__).resolve().parents[1]
TREES = ("roles", "playbooks", "collections")
SMALL = 1 << 20  # files up to this size are hashed; larger ones by size and modification time


def _tree(digest: Any, root: Path) -> None:
    if not root.exists():
        digest.update(b"missing\0" + str(root).encode() + b"\0")
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        stat = path.stat()
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        if stat.st_size <= SMALL:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _named_files(value: Any) -> list[Path]:
    """Every file a variable of the run names by its absolute path (a certificate the operator
    gave, its key, the secrets file): its content is an input, not only its name."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _named_files(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _named_files(v)]
    if isinstance(value, str) and value.startswith("/") and "\n" not in value and len(value) < 4096:
        path = Path(value)
        try:
            return [path] if path.is_file() else []
        except OSError:
            return []
    return []


def run_digest(extravars: dict[str, Any], secrets_file: Path, state_dir: Path, bundle: Path | None,
               installer: Path = TOP) -> str:
    """What every host of the run shares."""
    digest = hashlib.sha256(b"dcos-stamp-input-1\0")
    for name in TREES:
        _tree(digest, installer / name)
    given = {k: v for k, v in extravars.items() if k != "dcos_run_id"}
    digest.update(_json(given))
    for path in sorted(set(_named_files(given))):
        stat = path.stat()
        digest.update(str(path).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if stat.st_size <= SMALL
                      else f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(secrets_file.read_bytes() if secrets_file.is_file() else b"no secrets\0")
    _tree(digest, state_dir)
    manifest = bundle / "manifest.json" if bundle is not None else None
    digest.update(manifest.read_bytes() if manifest is not None and manifest.is_file() else b"no bundle\0")
    return digest.hexdigest()


def host_digests(shared: str, inventory: dict[str, Any]) -> dict[str, str]:
    """One digest per host: the run's, with the host's inventory entry and the groups."""
    everything = inventory["all"]
    common = _json({"vars": everything.get("vars", {}), "children": everything.get("children", {})})
    return {host: hashlib.sha256(shared.encode() + common + _json(values)).hexdigest()
            for host, values in everything["hosts"].items()}
