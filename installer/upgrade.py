"""./install.sh config.cfg upgrade --plan: what an upgrade to the bundle config.cfg names would
change, host by host, in the order it would change it; read-only.

The hosts are asked (playbooks/versions.yml: each host's installed version of every package of
the catalogue's components, its records and OS release); each package a host has is compared
with the bundle's manifest for that host's release (installer/versions.py, as dpkg or rpm
compares) and given an action:

    upgrade     the bundle's is newer
    same        nothing to do
    DOWNGRADE   the bundle's is older: refused (exit 2) unless --allow-downgrade; MariaDB's never
                (its data files are not downgradable: a downgraded server may not start on them)
    absent      the host should have it and has not (a half-done install: run the install)
    not in bundle   the bundle does not carry the package for that release: it stays as it is

A pin in config.cfg ([zookeeper] version, [mesos], [marathon], [consul]) names the version the
install asks for (Debian: `pkg=<pin>*`; EL: `pkg-<pin>`): the bundle's package must match it, or
the plan is refused (the install would find nothing to install). A host whose records were
written by a newer installer than this one is refused: another controller has upgraded it, and
this one would go backwards.

The order (docs/design/upgrade.md) is the one every step of the upgrade keeps, so that a quorum
(ZooKeeper, the Mesos replicated log, Consul's raft) is never lost and each leader changes once:
each step's members one at a time (the agents in batches), the leader last, each healthy again
before the next. A host's own tools (Docker, cAdvisor, chrony) change in that host's turn.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer import __version__
from installer.bundle import BundleReport, os_target
from installer.catalogue import by_name, components_of, versioned_packages
from installer.versions import compare, debian_compare

if TYPE_CHECKING:
    from installer.config.model import Config
    from installer.runner import Run

# MariaDB's packages: never downgraded, even with --allow-downgrade.
NEVER_DOWNGRADED = ("mariadb-server", "mariadb-server-core", "galera-4")


@dataclass(frozen=True)
class Step:
    name: str
    components: tuple[str, ...]  # catalogue names
    how: str  # how its members take their turn


def steps(agent_batch: int = 1) -> tuple[Step, ...]:
    return (
        Step("installer", ("nginx", "docker-registry"),
             "the package repository and the registry on the installer host (the new bundle served first)"),
        Step("zookeeper", ("zookeeper",),
             "followers one at a time, the leader last; each back in the ensemble before the next"),
        Step("mesos-masters", ("mesos-master",),
             "the masters that do not lead first, the leader last; each back in the replicated log before the next"),
        Step("marathon", ("marathon",), "one at a time, the leader last"),
        Step("mesos-agents", ("mesos-agent",),
             f"in batches of {agent_batch}: each batch drained through Mesos maintenance (its tasks move), "
             "upgraded, registered again, maintenance ended"),
        Step("consul", ("consul",), "servers one at a time, the leader last, then the clients"),
        Step("lb", ("haproxy", "keepalived"), "the lb host without the VIP first, then the VIP's holder"),
        Step("mysql", ("mysql",), "the slave first (replication catches up), then the master"),
    )


# A host's own tools change in the turn of its first step in this order (an agent's with its
# drained batch; a master's with its Mesos master).
HOST_TOOLS = ("docker", "cadvisor", "chrony")
_TOOLS_WITH = ("mesos-agents", "mesos-masters", "installer", "lb", "mysql", "consul", "zookeeper", "marathon")
# The config.cfg pins: section -> its package.
PINS = {"zookeeper": "zookeeper", "mesos": "mesos", "marathon": "marathon", "consul": "consul"}


@dataclass
class Row:
    step: str
    host: str
    component: str
    package: str
    installed: str  # "" when the host has not got it
    target: str  # "" when the bundle does not carry it
    action: str  # upgrade | same | DOWNGRADE | absent | not in bundle
    pinned: bool = False
    family: str = "Debian"  # the host's OS family (how its packages are asked for)


@dataclass
class Plan:
    cluster: str
    bundle: str
    rows: list[Row]
    refused: list[str]  # why the upgrade cannot go on (empty: it can)
    agent_batch: int = 1

    @property
    def changes(self) -> list[Row]:
        return [r for r in self.rows if r.action in ("upgrade", "DOWNGRADE")]

    def to_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "bundle": self.bundle, "agent_batch": self.agent_batch,
                "refused": self.refused, "rows": [asdict(r) for r in self.rows]}


def _pins(cfg: Config) -> dict[str, str]:
    return {package: getattr(getattr(cfg, section, None), "version", "") or ""
            for section, package in PINS.items() if getattr(getattr(cfg, section, None), "version", "")}


def _step_of(component: str, host_steps: list[str], all_steps: tuple[Step, ...]) -> str | None:
    for step in all_steps:
        if component in step.components:
            return step.name
    if component in HOST_TOOLS:
        for name in _TOOLS_WITH:
            if name in host_steps:
                return name
    return None


def agent_batch(cfg: Config) -> int:
    return cfg.upgrade.agent_batch if cfg.upgrade else 1


def make_plan(cfg: Config, bundle: BundleReport, hosts: dict[str, dict[str, Any]], *,
              allow_downgrade: bool = False) -> Plan:
    """The plan from each host's fetched record ({"packages", "records", "os"}, by host id)."""
    batch = agent_batch(cfg)
    all_steps = steps(batch)
    pins = _pins(cfg)
    rows: list[Row] = []
    refused: list[str] = []
    mismatched: dict[tuple[str, str, str, str], list[str]] = {}  # (package, pin, bundle's, release) -> hosts
    releases = bundle.releases
    for host in cfg.all_hosts():
        fetched = hosts.get(host.id)
        if fetched is None:
            refused.append(f"{host.id}: its versions were not read (see the run's log): an upgrade plans every host")
            continue
        family = fetched.get("os", {}).get("os_family", "Debian")
        release = os_target(fetched.get("os", {}))
        served = releases.get(release)
        if served is None:
            refused.append(f"{host.id}: runs {release or 'an unknown release'}; the bundle serves "
                           f"{', '.join(sorted(releases)) or 'nothing'}")
            continue
        newer = sorted({str(r.get("version")) for r in fetched.get("records", {}).values()
                        if isinstance(r, dict) and r.get("version") and r.get("version") != "unknown"
                        and _newer_installer(str(r["version"]))})
        if newer:
            refused.append(f"{host.id}: installed by installer {', '.join(newer)}, newer than this one "
                           f"({__version__}): upgrade from that controller, or with that installer")
        components = components_of(cfg, host)
        host_steps = [s.name for s in all_steps if set(s.components) & {c.name for c in components}]
        seen: set[str] = set()
        for step in all_steps:
            for component in components:
                if _step_of(component.name, host_steps, all_steps) != step.name:
                    continue
                for package in versioned_packages(component, family):
                    if package in seen:
                        continue  # a master that is an agent too: its mesos goes with the master
                    seen.add(package)
                    target = served.versions.get(package, "")
                    if package in pins and target and not pin_matches(family, pins[package], target):
                        mismatched.setdefault((package, pins[package], target, release), []).append(host.id)
                    rows.append(_row(step.name, host.id, component.name, package, family,
                                     fetched.get("packages", {}).get(package, ""), target, package in pins))
    for (package, pin, target, release), names in mismatched.items():
        section = next(s for s, p in PINS.items() if p == package)
        refused.append(f"{_names(names)}: [{section}] version = {pin} in config.cfg, but the bundle carries {package} "
                       f"{target} for {release}: put the bundle with that version next to config.cfg, or change the "
                       "pin")
    downgrades: dict[tuple[str, str, str, bool], list[str]] = {}
    for row in rows:
        if row.action == "DOWNGRADE" and (row.package in NEVER_DOWNGRADED or not allow_downgrade):
            downgrades.setdefault((row.package, row.installed, row.target, row.pinned), []).append(row.host)
    for (package, installed, target, pinned), names in downgrades.items():
        if package in NEVER_DOWNGRADED:
            refused.append(f"{_names(names)}: {package} {installed} would go down to {target}: MariaDB is never "
                           "downgraded (its data files may not open in an older server)")
        else:
            refused.append(f"{_names(names)}: {package} {installed} would go down to {target} (the bundle has an "
                           f"older one{', matching the pin in config.cfg' if pinned else ''}): pass "
                           "--allow-downgrade if that is meant")
    agents = len(cfg.group("agents"))
    if agents > 1 and batch >= agents:
        refused.append(f"[upgrade] agent_batch = {batch} in config.cfg, with {agents} agents: every agent would be "
                       "drained at once and their tasks would have nowhere to go; make it at most "
                       f"{agents - 1}")
    return Plan(cfg.cluster.name, str(bundle.path), rows, refused, batch)


def _names(names: list[str]) -> str:
    return ", ".join(names)


def pin_matches(family: str, pin: str, version: str) -> bool:
    """Whether the install's request for a pinned package finds `version`: on Debian `name=<pin>*`
    (apt's glob on the whole version, epoch included); on EL `name-<pin>` (yum: the version, or
    version-release, without the epoch)."""
    if family == "Debian":
        return version.startswith(pin)
    bare = version.split(":", 1)[1] if ":" in version else version
    return bare == pin or bare.startswith(pin + "-")


def _newer_installer(version: str) -> bool:
    try:
        return debian_compare(version, __version__) > 0
    except ValueError:
        return False


def _row(step: str, host: str, component: str, package: str, family: str, installed: str, target: str,
         pinned: bool) -> Row:
    if not installed:
        action = "absent"
    elif not target:
        action = "not in bundle"
    else:
        order = compare(family, target, installed)
        action = "upgrade" if order > 0 else "DOWNGRADE" if order < 0 else "same"
    return Row(step, host, component, package, installed, target, action, pinned, family)


def render(plan: Plan) -> str:
    """The plan as the operator reads it: the steps in order, what changes in each, the rest
    counted; then what refuses it."""
    lines = [f"Upgrade plan of cluster {plan.cluster}, to the bundle {plan.bundle}:"]
    width = max([len(r.host) for r in plan.rows] + [4])
    pack = max([len(r.package) for r in plan.rows] + [7])
    ver = max([len(r.installed) for r in plan.rows] + [9])
    number = 0
    for step in steps(plan.agent_batch):
        rows = [r for r in plan.rows if r.step == step.name]
        if not rows:
            continue
        number += 1
        lines.append(f"  {number}. {step.name}: {step.how}")
        moving = [r for r in rows if r.action != "same"]
        for r in moving:
            target = r.target or "-"
            lines.append(f"       {r.host:<{width}}  {r.package:<{pack}}  {r.installed or '-':<{ver}}  -> "
                         f"{target}{' (pinned)' if r.pinned else ''}  {r.action}")
        same = len(rows) - len(moving)
        if same:
            hosts = sorted({r.host for r in rows if r.action == "same"})
            lines.append(f"       {same} package{'s' if same > 1 else ''} already at the target on "
                         f"{', '.join(hosts)}")
    changes = plan.changes
    absent = [r for r in plan.rows if r.action == "absent"]
    if absent:
        lines.append(f"  absent: {', '.join(f'{r.package} on {r.host}' for r in absent)}: the install did not "
                     "finish there; run ./install.sh config.cfg first")
    if plan.refused:
        lines.append("Refused:")
        lines.extend(f"  {why}" for why in plan.refused)
    elif not changes:
        lines.append("Nothing to upgrade: every package of the cluster is at its target version.")
    else:
        hosts = sorted({r.host for r in changes})
        lines.append(f"{len(changes)} package{'s' if len(changes) > 1 else ''} to change on {len(hosts)} "
                     f"host{'s' if len(hosts) > 1 else ''}; every other member keeps serving during each turn.")
    return "\n".join(lines)


# Units reloaded rather than restarted when their package changes (HAProxy's master process
# re-executes the new binary and keeps its connections).
RELOADED = ("haproxy",)


def package_spec(family: str, package: str, version: str) -> str:
    """How the upgrade asks for a package at the plan's version: `name=version` (apt, epoch
    included), `name-version` (dnf, version-release without the epoch)."""
    if family == "Debian":
        return f"{package}={version}"
    return f"{package}-{version.split(':', 1)[1] if ':' in version else version}"


def turns(plan: Plan, cfg: Config) -> dict[str, dict[str, dict[str, list[str]]]]:
    """What playbooks/upgrade.yml applies (`dcos_upgrade`): step -> host -> {packages: the specs at
    the plan's versions, units: restarted in that order once they are installed, the host's
    tools' first, "name:reload" for a reloaded one}. Only the rows the plan changes (upgrade, or
    DOWNGRADE when the plan was not refused for it). A master that is an agent too has its mesos
    installed in the masters' step and its agent restarted, drained, in the agents' step."""
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    agents = {h.id for h in cfg.group("agents")}
    for row in plan.rows:
        if row.action not in ("upgrade", "DOWNGRADE") or not row.target:
            continue
        turn = out.setdefault(row.step, {}).setdefault(row.host, {"packages": [], "units": []})
        turn["packages"].append(package_spec(row.family, row.package, row.target))
        units = [u + (":reload" if u in RELOADED else "") for u in by_name(row.component).units.get(row.family, ())]
        first = row.component in HOST_TOOLS
        for unit in units:
            if unit not in turn["units"]:
                turn["units"] = [unit, *turn["units"]] if first else [*turn["units"], unit]
        if row.step == "mesos-masters" and row.component == "mesos-master" and row.host in agents:
            agent = out.setdefault("mesos-agents", {}).setdefault(row.host, {"packages": [], "units": []})
            for unit in by_name("mesos-agent").units.get(row.family, ()):
                if unit not in agent["units"]:
                    agent["units"].append(unit)
    return out


PLAN_FILE = "upgrade-plan.json"


def assemble(run: Run, fetched: Path) -> tuple[Path | None, dict[str, Any]]:
    """The plan (upgrade-plan.json in the run's folder) from the hosts' fetched records."""
    from installer.bundle import verify_bundle

    cfg = run.cfg
    hosts = {p.stem: json.loads(p.read_text()) for p in sorted(fetched.glob("records/*.json"))}
    bundle = verify_bundle(Path(cfg.repo.bundle))
    plan = make_plan(cfg, bundle, hosts, allow_downgrade=bool(run.options.extravars.get("dcos_allow_downgrade")))
    missing = {h.id: "versions not read" for h in cfg.all_hosts() if h.id not in hosts}
    if not bundle.ok:
        missing["bundle"] = "; ".join(bundle.problems[:3])
    path = run.run_dir.path / PLAN_FILE
    path.write_text(json.dumps(plan.to_json(), indent=2) + "\n")
    path.chmod(0o600)
    run.plan = plan
    return path, {"complete": not missing, "missing": missing}


def run_options(allow_downgrade: bool = False, **options: Any):
    """The RunOptions of the plan's read-only run (install.sh and the portal's API)."""
    from installer.catalogue import all_versioned_packages
    from installer.runner import RunOptions

    return RunOptions(operation="upgrade-plan", precheck=False,
                      again="upgrade --plan" + (" --allow-downgrade" if allow_downgrade else ""),
                      extravars={"dcos_version_packages": all_versioned_packages(),
                                 "dcos_allow_downgrade": allow_downgrade},
                      **options)


def apply_options(plan: Plan, applied: dict[str, Any], allow_downgrade: bool = False, **options: Any):
    """The RunOptions of the upgrade itself (install.sh and the portal's API): the repo and
    registry phases publish the new bundle, playbooks/upgrade.yml applies `applied` (turns()),
    verify checks the cluster after. Run again, it plans again from the hosts: what is done is
    `same` there, so it goes on where it stopped."""
    from installer.runner import RunOptions

    return RunOptions(operation="upgrade",
                      again="upgrade" + (" --allow-downgrade" if allow_downgrade else ""),
                      extravars={"dcos_upgrade": applied, "dcos_upgrade_agent_batch": plan.agent_batch,
                                 "dcos_allow_downgrade": allow_downgrade},
                      **options)
