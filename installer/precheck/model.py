"""Results of checks and the context they are evaluated in."""

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from installer.bundle import BundleReport
from installer.config import Config, Host


class Status(enum.IntEnum):
    """Ordered by severity: a report sorts FAIL first."""

    FAIL = 0
    WARN = 1
    PASS = 2


@dataclass(frozen=True)
class Result:
    check: str
    host: str
    status: Status
    message: str  # what was found, against what was expected
    fix: str = ""  # what to do
    waived: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "host": self.host, "status": self.status.name, "message": self.message,
                "fix": self.fix, "waived": self.waived}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Result":
        return cls(data["check"], data["host"], Status[data["status"]], data["message"], data.get("fix", ""),
                   bool(data.get("waived")))


@dataclass
class HostObservation:
    """What was gathered from one host: Ansible facts and our module's `precheck` dict.
    `error` is set when the host could not be observed at all (unreachable, become failed)."""

    host: Host
    groups: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    error_kind: str = ""  # unreachable | become | failed

    @property
    def observed(self) -> bool:
        return not self.error


@dataclass
class Context:
    cfg: Config
    hosts: dict[str, HostObservation]  # by host id
    bundle: BundleReport | None = None  # None: no selected phase needs the bundle
    # What the hosts must have been installed as (installer/identity.py); None: not compared.
    identity: dict[str, Any] | None = None
    given_secrets: set[str] = field(default_factory=set)  # secrets config.cfg gives: deliberate
    certificates: list[Any] = field(default_factory=list)  # installer.certs.Cert, those that exist
    phases: tuple[str, ...] = ()  # the phases this run goes on to

    @property
    def installer(self) -> HostObservation | None:
        host = self.cfg.installer
        return self.hosts.get(host.id) if host else None

    def ours_on_installer(self, fact: str) -> bool:
        obs = self.installer
        return bool(obs and obs.observed and fact in obs.probe.get("local_facts", {}))


def ok(check: str, host: str, message: str) -> Result:
    return Result(check, host, Status.PASS, message)


def warn(check: str, host: str, message: str, fix: str = "") -> Result:
    return Result(check, host, Status.WARN, message, fix)


def fail(check: str, host: str, message: str, fix: str = "") -> Result:
    return Result(check, host, Status.FAIL, message, fix)


CheckFn = Callable[[HostObservation, Context], list[Result]]
