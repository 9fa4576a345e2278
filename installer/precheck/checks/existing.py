"""Existing installs: a component this host is to get but that is already there, not put
there by this installer, stops the install unless the operator lets it be adopted (the
reference installer refused to install over an existing service)."""

from installer.catalogue import Component, components_of
from installer.precheck.model import Context, HostObservation, fail, ok
from installer.precheck.registry import check


def expected_components(obs: HostObservation, ctx: Context) -> list[Component]:
    return [c for c in components_of(ctx.cfg, obs.host) if c.adoptable]


@check("existing_install", "existing")
def existing_install(obs: HostObservation, ctx: Context):
    seen = obs.probe.get("components", {})
    facts = obs.probe.get("local_facts", {})
    adopt = set(ctx.cfg.cluster.adopt)
    foreign, adopted, ours = [], [], []
    for component in expected_components(obs, ctx):
        found = seen.get(component.name, {})
        if not found.get("present"):
            continue
        if component.fact in facts:
            ours.append(component.name)
        elif component.adopt_by_default or component.name in adopt or "all" in adopt:
            adopted.append(component.name)
        else:
            foreign.append(f"{component.name} ({', '.join(found.get('evidence', []))})")
    if foreign:
        names = ", ".join(f.split(" ")[0] for f in foreign)
        return [fail("existing_install", obs.host.id, f"already installed, not by this installer: {'; '.join(foreign)}",
                     f"remove it, or let the installer take it over: [cluster] adopt = {names}")]
    parts = []
    if ours:
        parts.append(f"installed by this installer: {', '.join(ours)}")
    if adopted:
        parts.append(f"adopted: {', '.join(adopted)}")
    return [ok("existing_install", obs.host.id, "; ".join(parts) or "nothing installed yet")]
