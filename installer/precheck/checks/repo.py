"""Installer services: the bundle verifies; the local package repo, the registry and the NTP
server answer and hold what the install needs, seen from the installer host and from every
cluster host. Before those services exist, the checks say they will be installed."""

import json

from installer.precheck.model import Context, HostObservation, fail, ok
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
            return [ok(name, obs.host.id, f"{label} answers at {probe.get('url')}")]
        return [fail(name, obs.host.id, f"{label} {probe.get('url')} cannot be reached from here: "
                     f"{probe.get('error') or probe.get('status')}",
                     "check routing and the firewall between this host and the installer host")]

    return evaluate


check("repo_reachable", "repo", groups=("cluster",))(_reachable("repo_reachable", REPO_FACT, "package repo", (200,)))
check("registry_reachable", "repo", groups=("cluster",))(
    _reachable("registry_reachable", REGISTRY_FACT, "registry (TLS, cluster CA)", (200, 401)))
