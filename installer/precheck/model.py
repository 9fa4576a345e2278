"""Results of checks and the context they are evaluated in."""

import enum
import ipaddress
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

    def installer_admits(self, address: str, proto: str, port: int) -> bool | None:
        """Whether the installer's firewall table, as loaded on the installer host now, admits
        address on proto/port; None when no table is loaded there or it does not filter that
        port (then nothing of ours stands between the two)."""
        obs = self.installer
        state = (obs.probe.get("firewall") or {}) if obs and obs.observed else {}
        rules = [r for r in state.get("dcos_admits") or [] if r.get("proto") == proto and port in r.get("ports", [])]
        if not state.get("dcos_table") or not rules:
            return None
        return any(_within(address, source) for rule in rules for source in rule.get("sources") or [])


def _within(address: str, source: str) -> bool:
    """address in an nft set's element: an address, a range a-b, or a network."""
    try:
        ip = ipaddress.ip_address(address)
        if "-" in source:
            first, last = (ipaddress.ip_address(part.strip()) for part in source.split("-", 1))
            return first <= ip <= last
        return ip in ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False


def admitted_later(check: str, obs: "HostObservation", ctx: Context, proto: str, port: int,
                   what: str) -> "Result | None":
    """A host config.cfg names but the installer host's firewall does not admit yet (added since
    the last run): the repo phase admits it before it uses the installer's services, so a
    timeout now says nothing about the network. What can be checked is the path to the
    installer host (its SSH port, which the table never filters). None: the table is not why."""
    if ctx.installer_admits(str(obs.host.ip), proto, port) is not False:
        return None
    if ctx.phases and not {"repo", "hosts"} & set(ctx.phases):
        return None  # nothing in this run admits it: the failure stands
    path = obs.probe.get("tcp", {}).get("installer_ssh", {})
    if path.get("open"):
        return ok(check, obs.host.id, f"{what}: the installer host's firewall admits this host from this run on "
                  "(config.cfg names it now; the repo phase admits it first); the installer host answers on SSH "
                  "from here")
    return warn(check, obs.host.id, f"{what} cannot be checked: the installer host's firewall does not admit this "
                "host yet (the repo phase admits it first), and the installer host's SSH port does not answer from "
                f"here either ({path.get('error', 'not asked')})",
                "check routing and any other firewall between this host and the installer host")


def ok(check: str, host: str, message: str) -> Result:
    return Result(check, host, Status.PASS, message)


def warn(check: str, host: str, message: str, fix: str = "") -> Result:
    return Result(check, host, Status.WARN, message, fix)


def fail(check: str, host: str, message: str, fix: str = "") -> Result:
    return Result(check, host, Status.FAIL, message, fix)


CheckFn = Callable[[HostObservation, Context], list[Result]]
