"""The inputs of a run, per host and stamped role, as one digest each: what the `stamp` module
compares with the record a role left on the host (docs/design/fast-reruns.md).

A role's input on a host is what Ansible gives it there, resolved on the controller before the
run: every variable of the role's interface (the names in its defaults/main.yml), templated as
the phase would template them for that host (playbooks/group_vars over the defaults, the
inventory, the run's variables, the role's parameters in the playbook that runs it there), and
the content of every file those values name by an absolute path (a certificate the operator
gave, the CA, a binary of the bundle); with the role's own tree (roles/<role>, and any role
it takes files from), roles/stamp, collections/, playbooks/, the installer's version, the
bundle's manifest and what runs it all (ansible-core's version, ansible.cfg, the installed
collections' manifests). A role reads
nothing else: tests/unit/test_stamps.py holds every stamped role's tasks, templates and vars to
its own names, facts and the few globals listed there.

So adding an agent changes the input of the roles whose values list the hosts (the NTP
server's allow list) and of no other: the old hosts run only those, and role membership (not
stamped: the /etc/hosts block and the firewall's source sets, a few tasks on every run). A
variable that cannot be resolved on the controller (it would need the host's facts) makes that
role's input on that host the coarse one (run_digest: every input of the run, the groups
included), never a partial one.

Digests are keyed (HMAC-SHA256, with a random key kept in runs/state/<cluster>/stamp.key): the
values include secrets, and a host's record must not let anyone test guesses of a secret
against it. A lost key changes every input once: every stamped role runs again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import re
import secrets as pysecrets
import tempfile
from pathlib import Path
from typing import Any

import yaml

TOP = Path(__file__).resolve().parents[1]
TREES = ("roles", "playbooks", "collections")
SMALL = 1 << 20  # files up to this size are hashed; larger ones by size and modification time
PHASE_PLAYBOOKS = ("hosts.yml", "mesos.yml", "consul.yml", "lb.yml", "mysql.yml", "zookeeper.yml",
                   "marathon.yml", "repo.yml", "registry.yml")


def stamped_roles(installer: Path = TOP) -> list[str]:
    """The roles that include roles/stamp's check (and so take the fast path)."""
    found = []
    for main in sorted((installer / "roles").glob("*/tasks/main.yml")):
        text = main.read_text()
        if "name: stamp" in text and "tasks_from: check" in text:
            found.append(main.parents[1].name)
    return found


def _file_digest(digest: Any, path: Path, name: str | None = None) -> None:
    """The file's name (its path, or `name`) and its content's digest (a large file: its size
    and modification time)."""
    stat = path.stat()
    digest.update((name if name is not None else str(path)).encode() + b"\0")
    if stat.st_size <= SMALL:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    else:
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())


def _tree(digest: Any, root: Path) -> None:
    if not root.exists():
        digest.update(b"missing\0" + str(root).encode() + b"\0")
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        _file_digest(digest, path, str(path.relative_to(root)))


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _named_files(value: Any) -> list[Path]:
    """Every file a value names by its absolute path (a certificate the operator gave, its key,
    the secrets file): its content is an input, not only its name."""
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


def stamp_key(state_dir: Path) -> bytes:
    """The cluster's key of the input digests (made once, 0600)."""
    path = state_dir / "stamp.key"
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=state_dir, prefix=".stamp.key.")
    with os.fdopen(fd, "wb") as out:
        out.write(pysecrets.token_bytes(32))
    Path(temp).replace(path)
    return path.read_bytes()


def run_digest(extravars: dict[str, Any], secrets_file: Path, state_dir: Path, bundle: Path | None,
               installer: Path = TOP) -> str:
    """Everything a role on any host could read (the coarse input: the fallback)."""
    digest = hashlib.sha256(b"dcos-stamp-input-1\0")
    for name in TREES:
        _tree(digest, installer / name)
    given = {k: v for k, v in extravars.items() if k != "dcos_run_id"}
    digest.update(_json(given))
    for path in sorted(set(_named_files(given))):
        _file_digest(digest, path)
    digest.update(secrets_file.read_bytes() if secrets_file.is_file() else b"no secrets\0")
    _tree(digest, state_dir)
    digest.update(_bundle_manifests(bundle))
    return digest.hexdigest()


def _bundle_manifests(bundle: Path | None) -> bytes:
    """The bundle's manifest and those of its sub-bundles (targets/<release>/): a new bundle
    of any OS release is a new input."""
    manifest = bundle / "manifest.json" if bundle is not None else None
    if manifest is None or not manifest.is_file():
        return b"no bundle\0"
    parts = [manifest.read_bytes()]
    for sub in sorted((bundle / "targets").glob("*/manifest.json")):
        parts += [b"\0" + sub.parent.name.encode() + b"\0", sub.read_bytes()]
    return b"".join(parts)


def host_digests(shared: str, inventory: dict[str, Any]) -> dict[str, str]:
    """One coarse digest per host: the run's, with the host's inventory entry and the groups."""
    everything = inventory["all"]
    common = _json({"vars": everything.get("vars", {}), "children": everything.get("children", {})})
    return {host: hashlib.sha256(shared.encode() + common + _json(values)).hexdigest()
            for host, values in everything["hosts"].items()}


def _runtime(digest: Any, installer: Path) -> None:
    """What runs the roles: ansible-core's version, ansible.cfg, and the installed collections'
    manifests (community.general, ansible.posix ... come with the `ansible` package)."""
    try:
        import ansible_collections
        from ansible.release import __version__ as ansible_version
    except ImportError:  # no Ansible here: the run would not start either
        digest.update(b"no ansible\0")
        return
    digest.update(b"ansible-core " + ansible_version.encode() + b"\0")
    config = installer / "ansible.cfg"
    digest.update(config.read_bytes() if config.is_file() else b"no ansible.cfg\0")
    for root in sorted(str(p) for p in ansible_collections.__path__):
        for manifest in sorted(Path(root).glob("*/*/MANIFEST.json")):
            digest.update(str(manifest.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(manifest.read_bytes()).digest())


_SIBLING = re.compile(r"role_path \}\}/\.\./([A-Za-z0-9_]+)/")


def _role_trees(role: str, installer: Path) -> list[Path]:
    """The role's own tree and the trees of the roles it takes files from (`{{ role_path
    }}/../rolling_restart/tasks/main.yml` in mesos_agent's handler)."""
    base = installer / "roles" / role
    others = {m.group(1) for p in base.rglob("*.yml") for m in _SIBLING.finditer(p.read_text())}
    return [base, *(installer / "roles" / name for name in sorted(others - {role}))]


def play_roles(play: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """(name, parameters) of each role a play lists (`- ntp` or `- role: ntp` with `vars:`)."""
    return [(entry, {}) if isinstance(entry, str)
            else (entry.get("role", entry.get("name")), dict(entry.get("vars") or {}))
            for entry in (play or {}).get("roles") or []]


def _plays_of(role: str, installer: Path, only: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(hosts pattern, the role's parameters) of every play of the install's phases that runs
    the role with the fast path (an invocation that sets dcos_stamp_input is not one)."""
    plays = []
    for name in PHASE_PLAYBOOKS if only is None else (only,):
        path = installer / "playbooks" / name
        if not path.is_file():
            continue
        for play in yaml.safe_load(path.read_text()) or []:
            for entry_name, params in play_roles(play):
                if entry_name == role and "dcos_stamp_input" not in params:
                    plays.append((str(play.get("hosts", "")), params))
    return plays


def stamped_phases(installer: Path = TOP) -> set[str]:
    """The phases (playbook names without .yml) that run a stamped role with the fast path."""
    roles = stamped_roles(installer)
    found = set()
    for name in PHASE_PLAYBOOKS:
        path = installer / "playbooks" / name
        if path.is_file() and any(_plays_of(role, installer, only=name) for role in roles):
            found.add(name.removesuffix(".yml"))
    return found


class _Resolver:
    """Ansible's own inventory, variable manager and templar over the run's inventory and
    variables with playbooks/group_vars: the values a play gives a host, without its facts."""

    def __init__(self, inventory_text: str, extravars_file: Path, installer: Path):
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.plugins.loader import init_plugin_loader
        from ansible.vars.hostvars import HostVars
        from ansible.vars.manager import VariableManager

        self._folder = tempfile.TemporaryDirectory(prefix="dcos-stamps-")
        folder = Path(self._folder.name)
        (folder / "hosts.yml").write_text(inventory_text)
        (folder / "group_vars").symlink_to(installer / "playbooks" / "group_vars")
        self.loader = DataLoader()
        self.inventory = InventoryManager(loader=self.loader, sources=[str(folder / "hosts.yml")])
        self.variables = VariableManager(loader=self.loader, inventory=self.inventory)
        extravars = self.loader.load_from_file(str(extravars_file))
        extravars.pop("dcos_run_id", None)  # another run, the same inputs
        self.variables._extra_vars = extravars
        self.variables._hostvars = HostVars(inventory=self.inventory, variable_manager=self.variables,
                                            loader=self.loader)
        init_plugin_loader()

    def close(self) -> None:
        self._folder.cleanup()

    def hosts(self, pattern: str) -> list[str]:
        return [h.name for h in self.inventory.get_hosts(pattern)]

    def values(self, host: str, role: str, params: dict[str, Any], installer: Path) -> dict[str, Any] | None:
        """The role's interface as the play gives it to the host; None if a value needs facts."""
        from ansible.template import Templar

        defaults_file = installer / "roles" / role / "defaults" / "main.yml"
        defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.is_file() else {}
        base = self.variables.get_vars(host=self.inventory.get_host(host), include_hostvars=True)
        values = {**defaults, **base, **params, "role_path": str(installer / "roles" / role)}
        templar = Templar(loader=self.loader, variables=values)
        out = {}
        for name in sorted({*defaults, *params}):
            try:
                out[name] = templar.template(values[name], fail_on_undefined=True)
            except Exception:  # an AnsibleError or a filter's error: the coarse input, never a partial one
                return None
        return json.loads(_json(out))


def role_digests(inventory: dict[str, Any], inventory_text: str, extravars: dict[str, Any], extravars_file: Path,
                 secrets_file: Path, state_dir: Path, bundle: Path | None,
                 installer: Path = TOP) -> dict[str, dict[str, str]]:
    """host -> {stamped role -> input digest}, for the hosts each role runs on in the install.
    inventory and extravars as dicts and as the run's files (written as the run reads them: a
    value of config.cfg is data, never a template)."""
    key = stamp_key(state_dir)
    coarse = host_digests(run_digest(extravars, secrets_file, state_dir, bundle, installer), inventory)
    common = hashlib.sha256(b"dcos-stamp-role-input-1\0")
    for name in ("playbooks", "collections"):
        _tree(common, installer / name)
    _tree(common, installer / "roles" / "stamp")
    _runtime(common, installer)
    common.update(str(extravars.get("dcos_installer_version", "")).encode() + b"\0")
    common.update(_bundle_manifests(bundle))
    out: dict[str, dict[str, str]] = {}
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        resolver = _Resolver(inventory_text, extravars_file, installer)
        try:
            for role in stamped_roles(installer):
                tree = common.copy()
                for root in _role_trees(role, installer):
                    _tree(tree, root)
                for pattern, params in _plays_of(role, installer):
                    for host in resolver.hosts(pattern):
                        values = resolver.values(host, role, params, installer)
                        digest = tree.copy()
                        if values is None:
                            digest.update(b"coarse\0" + coarse[host].encode())
                        else:
                            digest.update(_json(values))
                            for path in sorted(set(_named_files(values))):
                                _file_digest(digest, path)
                        previous = out.setdefault(host, {}).get(role)
                        # A host two plays give the role to: both inputs, in play order.
                        value = hmac.new(key, digest.digest(), hashlib.sha256).hexdigest()
                        out[host][role] = value if previous is None else hmac.new(
                            key, (previous + value).encode(), hashlib.sha256).hexdigest()
        finally:
            resolver.close()
    return out
