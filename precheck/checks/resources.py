"""CPU and memory per role: below the configured minimum FAILs, below DC/OS's
recommendation (masters 4 CPUs/32 GB, agents 2 CPUs/16 GB) WARNs."""

from precheck.model import Context, HostObservation, fail, ok, warn
from precheck.registry import check

RECOMMENDED = {"masters": (4, 32), "agents": (2, 16)}


def _needs(obs: HostObservation, ctx: Context) -> tuple[int, int, int, int, str]:
    """(min cpus, min GB, recommended cpus, recommended GB, role) for the host's most demanding role."""
    p = ctx.cfg.precheck
    options = [(1, 1, 1, 2, "installer")]
    if "masters" in obs.groups:
        options.append((p.master_min_cpus, p.master_min_memory_gb, *RECOMMENDED["masters"], "master"))
    if "agents" in obs.groups:
        options.append((p.agent_min_cpus, p.agent_min_memory_gb, *RECOMMENDED["agents"], "agent"))
    return max(options, key=lambda o: (o[0], o[1]))


@check("cpu", "resources")
def cpu(obs: HostObservation, ctx: Context):
    need, _, recommended, _, role = _needs(obs, ctx)
    have = obs.probe.get("cpus") or obs.facts.get("processor_vcpus")
    if not have:
        return [warn("cpu", obs.host.id, "CPU count unknown", "check /proc/cpuinfo")]
    if have < need:
        return [fail("cpu", obs.host.id, f"{have} CPUs; a {role} needs at least {need}",
                     "give the host more CPUs, or lower the minimum in [precheck]")]
    if have < recommended:
        return [warn("cpu", obs.host.id, f"{have} CPUs; DC/OS recommends {recommended} for a {role}")]
    return [ok("cpu", obs.host.id, f"{have} CPUs")]


@check("memory", "resources")
def memory(obs: HostObservation, ctx: Context):
    _, need, _, recommended, role = _needs(obs, ctx)
    mb = obs.probe.get("memory_mb") or obs.facts.get("memtotal_mb")
    if not mb:
        return [warn("memory", obs.host.id, "memory size unknown", "check /proc/meminfo")]
    gb = mb / 1024
    # Installed memory reads a little under its nominal size: allow 5%.
    if gb < need * 0.95:
        return [fail("memory", obs.host.id, f"{gb:.1f} GB of memory; a {role} needs at least {need} GB",
                     "give the host more memory, or lower the minimum in [precheck]")]
    if gb < recommended * 0.95:
        return [warn("memory", obs.host.id, f"{gb:.1f} GB of memory; DC/OS recommends {recommended} GB for a {role}")]
    return [ok("memory", obs.host.id, f"{gb:.1f} GB of memory")]
