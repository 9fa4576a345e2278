"""Cluster secrets: taken from config.cfg when given, else generated on the first run; kept
(mode 0600) in runs/secrets/<cluster>.yml, the one file the playbooks read, for every later
run. A secret generated anew on each run breaks a cluster (new Consul gossip key: new nodes
never join), so generated values are never replaced.
Secrets are never printed and never written into a run directory or a log."""

import base64
import contextlib
import os
import re
import secrets as _random
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from installer.config import Config
from installer.config.redact import SECRET_KEYS, is_secret_key

__all__ = ["REDACTED", "SECRETS", "SECRET_KEYS", "Scrubber", "ensure_secrets", "is_secret_key", "scrubber_for",
           "secrets_path"]


def _password(length: int = 24) -> Callable[[], str]:
    alphabet = string.ascii_letters + string.digits
    return lambda: "".join(_random.choice(alphabet) for _ in range(length))


def _gossip_key() -> str:
    return base64.b64encode(_random.token_bytes(32)).decode()


@dataclass(frozen=True)
class SecretSpec:
    name: str
    section: str
    key: str | None  # config key that may give it; None: always generated
    generate: Callable[[], str]
    needed: Callable[[Config], bool] = lambda cfg: True


SECRETS = (
    SecretSpec("keepalived_auth_pass", "keepalived", "auth_pass", _password(8), lambda c: bool(c.group("lb"))),
    SecretSpec("consul_gossip_key", "consul", "gossip_key", _gossip_key),
    SecretSpec("consul_management_token", "consul", None, lambda: str(uuid.uuid4())),
    SecretSpec("haproxy_stats_password", "haproxy", "stats_password", _password(), lambda c: bool(c.group("lb"))),
    SecretSpec("mysql_root_password", "mysql", "root_password", _password(), lambda c: c.mysql is not None),
    SecretSpec("mysql_replication_password", "mysql", "replication_password", _password(),
               lambda c: c.mysql is not None),
    # The control plane's credentials: always on (secure by default).
    SecretSpec("registry_password", "registry", "password", _password()),
    SecretSpec("marathon_password", "marathon", "password", _password()),
    SecretSpec("mesos_password", "mesos", "password", _password()),
    SecretSpec("mesos_agent_secret", "mesos", None, _password(32)),
    SecretSpec("mesos_marathon_secret", "mesos", None, _password(32)),
    SecretSpec("zookeeper_password", "zookeeper", "password", _password()),
)


# (section, key) of every config key that holds a secret (the schema's SecretStr fields; never
# copied into a run directory), and the test of a key name that says "secret" even misspelt or
# in the wrong section ("pasword", "token"): one definition, in installer.config.redact, which
# the error messages of config.cfg use as well.
REDACTED = "(redacted)"


class Scrubber:
    """Replaces every secret value (and the HTTP Basic form of each user:password pair) in
    text and in nested data with ********: the last guard before a record is written."""

    MASK = "********"

    def __init__(self, values: Iterable[str], pairs: Iterable[tuple[str, str]] = ()):
        needles = {v for v in values if v and len(v) >= 4}
        for user, password in pairs:
            if user and password:
                needles.add(base64.b64encode(f"{user}:{password}".encode()).decode())
        # Longest first: a secret that contains another is masked whole.
        self._needles = sorted(needles, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(n) for n in self._needles)) if self._needles else None

    def text(self, value: str) -> str:
        if self._pattern is None or not value:
            return value
        return self._pattern.sub(self.MASK, value)

    def data(self, value: Any) -> Any:
        """A copy of value with every string scrubbed (dict keys too)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def in_place(self, event: dict[str, Any]) -> dict[str, Any]:
        """Scrub a dict in place (ansible-runner writes the very dict its handler saw)."""
        cleaned = self.data(event)
        event.clear()
        event.update(cleaned)
        return event


def secrets_path(runs_dir: Path, cluster_name: str) -> Path:
    return runs_dir / "secrets" / f"{cluster_name}.yml"


def _write_private(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Secrets of this cluster, generated by the DCOS installer. Keep this file.\n")
        yaml.safe_dump(data, out, default_flow_style=False)
    tmp.replace(path)


def ensure_secrets(cfg: Config, runs_dir: Path) -> tuple[Path, dict[str, str]]:
    """The secrets of this cluster, in the one file the playbooks read (runs/secrets/<cluster>.yml,
    0600): a value config.cfg gives wins and is kept there; a stored one is reused; a missing one
    is generated once. Returns the file and this run's values."""
    path = secrets_path(runs_dir, cfg.cluster.name)
    stored: dict[str, str] = {}
    if path.exists():
        stored = yaml.safe_load(path.read_text()) or {}
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    values: dict[str, str] = {}
    kept = dict(stored)
    for spec in SECRETS:
        if not spec.needed(cfg):
            continue
        section = getattr(cfg, spec.section)
        given = getattr(section, spec.key) if (section is not None and spec.key) else None
        if given is not None:
            kept[spec.name] = given.get_secret_value()
        elif spec.name not in kept:
            kept[spec.name] = spec.generate()
        values[spec.name] = kept[spec.name]
    if kept != stored or not path.exists():
        _write_private(path, kept)
    return path, values


def scrubber_for(cfg: Config, values: dict[str, str], path: Path | None = None) -> Scrubber:
    """The scrubber of one run: every secret of the cluster (given, generated, and every value
    kept in its secrets file), and the Basic header of every user:password pair it configures."""
    stored: dict[str, Any] = {}
    if path is not None and path.exists():
        stored = yaml.safe_load(path.read_text()) or {}
    pairs = []
    for section, user_key, secret in (("marathon", "username", "marathon_password"),
                                      ("registry", "username", "registry_password"),
                                      ("mesos", "username", "mesos_password"),
                                      ("haproxy", "stats_user", "haproxy_stats_password"),
                                      ("zookeeper", "username", "zookeeper_password")):
        model = getattr(cfg, section, None)
        user = getattr(model, user_key, "") if model is not None else ""
        if secret in values:
            pairs.append((user, values[secret]))
    for principal, secret in (("dcos-agent", "mesos_agent_secret"), ("marathon", "mesos_marathon_secret")):
        if secret in values:
            pairs.append((principal, values[secret]))
    return Scrubber([*values.values(), *(str(v) for v in stored.values() if isinstance(v, str | int))], pairs)
