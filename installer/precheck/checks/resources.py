"""CPU and memory per role: below the configured minimum FAILs, below DC/OS's
recommendation (masters 4 CPUs/32 GB, agents 2 CPUs/16 GB) WARNs."""

from installer.precheck.model import Context, HostObservation, fail, ok, warn
from installer.precheck.registry import check

RECOMMENDED = {"masters": (4, 32), "agents": (2, 16)}


def _needs(obs: HostObservation, ctx: Context, dimension: int) -> tuple[int, int, str]:
    """(minimum, recommendation, role) of the host's most demanding role; dimension 0 CPUs, 1 GB."""
    p = ctx.cfg.precheck
    options = [((1, 1), (1, 2), "this host")]
    if "masters" in obs.groups:
        options.append(((p.master_min_cpus, p.master_min_memory_gb), RECOMMENDED["masters"], "a master"))
    if "agents" in obs.groups:
        options.append(((p.agent_min_cpus, p.agent_min_memory_gb), RECOMMENDED["agents"], "an agent"))
    minimum, recommended, role = max(options, key=lambda o: (o[0][dimension], o[1][dimension]))
    return minimum[dimension], recommended[dimension], role


@check("cpu", "resources")
def cpu(obs: HostObservation, ctx: Context):
    need, recommended, role = _needs(obs, ctx, 0)
    have = obs.probe.get("cpus") or obs.facts.get("processor_vcpus")
    if not have:
        return [warn("cpu", obs.host.id, "CPU count unknown", "check /proc/cpuinfo")]
    if have < need:
        return [fail("cpu", obs.host.id, f"{have} CPUs; {role} needs at least {need}",
                     "give the host more CPUs, or lower the minimum in [precheck]")]
    if have < recommended:
        return [warn("cpu", obs.host.id, f"{have} CPUs; DC/OS recommends {recommended} for {role}")]
    return [ok("cpu", obs.host.id, f"{have} CPUs")]


@check("memory", "resources")
def memory(obs: HostObservation, ctx: Context):
    need, recommended, role = _needs(obs, ctx, 1)
    mb = obs.probe.get("memory_mb") or obs.facts.get("memtotal_mb")
    if not mb:
        return [warn("memory", obs.host.id, "memory size unknown", "check /proc/meminfo")]
    gb = mb / 1024
    # Installed memory reads a little under its nominal size: allow 5%.
    if gb < need * 0.95:
        return [fail("memory", obs.host.id, f"{gb:.1f} GB of memory; {role} needs at least {need} GB",
                     "give the host more memory, or lower the minimum in [precheck]")]
    if gb < recommended * 0.95:
        return [warn("memory", obs.host.id, f"{gb:.1f} GB of memory; DC/OS recommends {recommended} GB for {role}")]
    return [ok("memory", obs.host.id, f"{gb:.1f} GB of memory")]
