"""Installer services: the bundle verifies; the local package repo, the registry and the NTP
server answer and hold what the install needs, seen from the installer host and from every
cluster host. Before those services exist, the checks say they will be installed."""

import itertools
import json
from urllib.parse import urlsplit

from installer.bundle import TARGETS, os_target
from installer.precheck.model import Context, HostObservation, admitted_later, fail, ok
from installer.precheck.registry import check

REPO_FACT, REGISTRY_FACT = "dcos_repo", "dcos_registry"


@check("bundle", "repo", groups=("installer",))
def bundle(obs: HostObservation, ctx: Context):
    if ctx.bundle is None:
        return [ok("bundle", obs.host.id, "not needed by the selected phases")]
    report = ctx.bundle
    if report.problems:
        shown = "; ".join(report.problems[:5]) + (f"; and {len(report.problems) - 5} more"
                                                  if len(report.problems) > 5 else "")
        return [fail("bundle", obs.host.id, f"bundle {report.path}: {shown}",
                     "copy the bundle again, or rebuild it with ./install.sh bundle")]
    return [ok("bundle", obs.host.id, f"bundle {report.path}: {report.files} files, "
               f"{report.bytes / 1024**2:.0f} MB, checksums match")]


def _packages_in_index(text: str) -> set[str]:
    return {line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Package:")}


@check("repo_service", "repo", groups=("installer",))
def repo_service(obs: HostObservation, ctx: Context):
    if not ctx.ours_on_installer(REPO_FACT):
        return [ok("repo_service", obs.host.id, "package repo will be installed")]
    probe = obs.probe.get("urls", {}).get("repo_index", {})
    if probe.get("status") != 200:
        return [fail("repo_service", obs.host.id, f"package repo {probe.get('url')} does not answer: "
                     f"{probe.get('error') or probe.get('status')}", "systemctl status nginx; re-run the repo phase")]
    wanted = set(ctx.bundle.packages) if ctx.bundle else set()
    missing = sorted(wanted - _packages_in_index(probe.get("body", ""))) if probe.get("body") else []
    if missing:
        return [fail("repo_service", obs.host.id, f"the repo index lacks {', '.join(missing[:10])}",
                     "re-run the repo phase to refresh the index")]
    return [ok("repo_service", obs.host.id, f"package repo answers at {probe.get('url')}")]


@check("registry_service", "repo", groups=("installer",))
def registry_service(obs: HostObservation, ctx: Context):
    if not ctx.ours_on_installer(REGISTRY_FACT):
        return [ok("registry_service", obs.host.id, "registry will be installed")]
    probe = obs.probe.get("urls", {}).get("registry_catalog", {})
    if probe.get("status") == 401:
        return [ok("registry_service", obs.host.id, "registry answers over TLS (auth required to list images)")]
    if probe.get("status") != 200:
        return [fail("registry_service", obs.host.id, f"registry {probe.get('url')} does not answer over TLS with "
                     f"the cluster CA: {probe.get('error') or probe.get('status')}",
                     "systemctl status docker-registry; re-run the registry phase")]
    try:
        held = set(json.loads(probe.get("body") or "{}").get("repositories", []))
    except ValueError:
        held = set()
    wanted = {image.split(":")[0] for image in (ctx.bundle.images if ctx.bundle else [])}
    missing = sorted(wanted - held)
    if missing:
        return [fail("registry_service", obs.host.id, f"the registry lacks {', '.join(missing[:10])}",
                     "re-run the registry phase to push the bundle's images")]
    return [ok("registry_service", obs.host.id, f"registry answers over TLS and holds {len(held)} repositories")]


def _reachable(name: str, fact: str, label: str, good: tuple[int, ...]):
    def evaluate(obs: HostObservation, ctx: Context):
        if "installer" in obs.groups:
            return []
        if not ctx.ours_on_installer(fact):
            return [ok(name, obs.host.id, f"{label} will be installed on the installer host")]
        probe = obs.probe.get("urls", {}).get(name.removesuffix("_reachable"), {})
        if probe.get("status") in good:
            if probe.get("ca_missing"):
                return [ok(name, obs.host.id, f"{label} answers at {probe.get('url')} (its certificate not checked: "
                           f"the cluster CA, {probe['ca_missing']}, is put on this host by the registry phase)")]
            return [ok(name, obs.host.id, f"{label} answers at {probe.get('url')}")]
        later = admitted_later(name, obs, ctx, "tcp", urlsplit(str(probe.get("url") or "")).port or 0,
                               f"{label} {probe.get('url')}")
        if later is not None:
            return [later]
        return [fail(name, obs.host.id, f"{label} {probe.get('url')} cannot be reached from here: "
                     f"{probe.get('error') or probe.get('status')}",
                     "check routing and the firewall between this host and the installer host")]

    return evaluate


check("repo_reachable", "repo", groups=("cluster",))(_reachable("repo_reachable", REPO_FACT, "package repo", (200,)))
check("registry_reachable", "repo", groups=("cluster",))(
    _reachable("registry_reachable", REGISTRY_FACT, "registry (TLS, cluster CA)", (200, 401)))


def _family(target: str) -> str:
    return "el" if target.startswith("el") else "debian"


@check("repo_release", "repo")
def repo_release(obs: HostObservation, ctx: Context):
    """The bundle serves this host's OS release: the top bundle's own, or a sub-bundle of the
    same family under targets/ (a Debian 11 host beside Debian 12 ones)."""
    if ctx.bundle is None or not ctx.bundle.os:
        return [ok("repo_release", obs.host.id, "not needed by the selected phases")]
    mine, top = os_target(obs.facts), ctx.bundle.os
    served = ctx.bundle.releases
    if mine in served:
        where = "the top bundle" if mine == top else f"{TARGETS}/{mine}"
        return [ok("repo_release", obs.host.id, f"{mine} packages from {where}")]
    if _family(mine) != _family(top):
        return [fail("repo_release", obs.host.id, f"this host runs {mine} and the installer host's bundle is of "
                     f"{top}: one cluster's hosts are all of one family (Debian or EL)",
                     "install this host with an OS of the bundle's family")]
    if _family(top) == "el":
        return [fail("repo_release", obs.host.id, f"this host runs {mine}; the bundle serves {top} only (a second "
                     "EL release beside the first is not served)", f"install this host with {top}")]
    return [fail("repo_release", obs.host.id, f"this host runs {mine}; the bundle serves {', '.join(served)} only",
                 f"on a machine with access: ./install.sh bundle --target {mine} --out "
                 f"{ctx.bundle.path}/{TARGETS}/{mine}, then copy that folder in")]


def upstream_version(version: str) -> tuple[int, ...]:
    """The upstream part of a package version as numbers: 1:10.11.6-0+deb12u1 -> (10, 11, 6)."""
    upstream = version.split(":", 1)[-1].rsplit("-", 1)[0]
    numbers = []
    for part in upstream.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


@check("mysql_versions", "repo", groups=("mysql",))
def mysql_versions(obs: HostObservation, ctx: Context):
    """MariaDB replicates from an older master to a newer slave, not the reverse: with the pair
    on two OS releases, the slave's release must not bring an older MariaDB."""
    cfg = ctx.cfg
    if obs.host != cfg.mysql_slave or cfg.mysql_master is None or ctx.bundle is None:
        return []
    master = ctx.hosts.get(cfg.mysql_master.id)
    if master is None or not master.observed:
        return []
    releases = ctx.bundle.releases
    found = {}
    for role, host in (("master", master), ("slave", obs)):
        target = os_target(host.facts)
        version = releases.get(target).versions.get("mariadb-server", "") if target in releases else ""
        if not version:
            return []  # repo_release names a release without a bundle
        found[role] = (target, version)
    (m_target, m_version), (s_target, s_version) = found["master"], found["slave"]
    if upstream_version(s_version)[:2] >= upstream_version(m_version)[:2]:
        return [ok("mysql_versions", obs.host.id, f"MariaDB {s_version} here, {m_version} on the master")]
    return [fail("mysql_versions", obs.host.id, f"MariaDB {s_version} of {s_target} here is older than "
                 f"{m_version} of {m_target} on the master "
                 f"{cfg.mysql_master.id}: replication runs from an older master to a newer slave only",
                 "make the host of the newer OS release the slave ([mysql] master and slave), or put both on "
                 "one release")]
