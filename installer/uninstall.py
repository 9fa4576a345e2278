"""./install.sh config.cfg uninstall [--hosts a,b] [--purge-data]: take off the hosts what this
installer put there, and give back what it changed.

What goes is decided on each host by its own records (the facts the roles wrote under
/etc/ansible/facts.d), never by config.cfg alone: a component someone else installed is never
touched, and a host whose config.cfg entry changed since is still cleaned of what it really
runs. The catalogue (installer/catalogue.py) says what each recorded component is made of:
units, packages, files, data folders. roles/uninstall does the work; this module gives it the
catalogue, picks the hosts and prints the plan the operator confirms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from installer.catalogue import CATALOGUE, FAMILIES, components_of, folders_of

if TYPE_CHECKING:
    from installer.config.model import Config, Host

# The host settings of the hosts phase, given back on every host (roles/uninstall).
GIVEN_BACK = (
    "the cluster's block in /etc/hosts",
    "kernel module, sysctl and limits files (/etc/modules-load.d, /etc/sysctl.d, /etc/security/limits.d, "
    "systemd's limits drop-in)",
    "the installer's firewall table and unit, and the ports it opened in firewalld or ufw",
    "the local package repo's source and key; the host's own sources renamed *.dcos-disabled are renamed back",
    "the registry's CA in the system and Docker trust stores",
    "Consul's DNS forwarding (dnsmasq or systemd-resolved) and the nameserver line in /etc/resolv.conf",
    "the installer's records (/etc/ansible/facts.d/dcos_*.fact)",
)


def catalogue_vars(cfg: Config) -> list[dict[str, Any]]:
    """The catalogue as roles/uninstall reads it (`uninstall_catalogue`): every component, each
    with its units, packages and family files for both OS families, its files and data folders
    (`record` names the key of the host's identity record that holds the folder it was
    installed with; `path` is config.cfg's)."""
    out = []
    for c in CATALOGUE:
        data = []
        for folder in c.data:
            if folder.path:
                data.append({"what": folder.what, "path": folder.path, "record": "",
                             "identity": list(folder.identity)})
            else:
                section = getattr(cfg, folder.section, None)
                path = getattr(section, folder.key, None) if section is not None else None
                data.append({"what": folder.what, "path": str(path) if path else "", "record": c.role,
                             "identity": list(folder.identity)})
        out.append({
            "name": c.name, "fact": c.fact,
            "units": {f: list(c.units[f]) for f in FAMILIES},
            "packages": {f: list(c.packages.get(f, ())) for f in FAMILIES},
            "family_files": {f: list(c.family_files.get(f, ())) for f in FAMILIES},
            "files": list(c.files), "masked": list(c.masked), "leaves_processes": c.leaves_processes,
            "data": [d for d in data if d["path"] or d["record"]],
            "keep": c.adopt_by_default,
            # Its server is on the installer host, other hosts only use it (a record with mode client).
            "serves_clients": bool(c.clients),
        })
    return out


def run_options(cfg: Config, hosts: list[Host], purge_data: bool, **options: Any):
    """The RunOptions of an uninstall of these hosts (install.sh and the portal's API)."""
    from installer.runner import RunOptions

    everything = len(hosts) == len(cfg.all_hosts())
    limit = None if everything else ",".join(h.id for h in hosts)
    again = "uninstall" + (f" --hosts {limit}" if limit else "") + (" --purge-data" if purge_data else "")
    return RunOptions(operation="uninstall", limit=limit, again=again,
                      extravars={"dcos_catalogue": catalogue_vars(cfg), "dcos_uninstall_purge_data": bool(purge_data)},
                      **options)


def select_hosts(cfg: Config, names: str | None) -> tuple[list[Host], list[str]]:
    """The hosts --hosts names (names or addresses as config.cfg gives them), or every host;
    and the errors. Some masters but not all is refused: a master is replaced, not removed."""
    hosts = cfg.all_hosts()
    if not names:
        return hosts, []
    chosen, errors = [], []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        match = [h for h in hosts if name in (h.id, h.name, str(h.ip))]
        if not match:
            errors.append(f"--hosts: {name!r} is not a host of config.cfg; its hosts: "
                          + ", ".join(h.id for h in hosts))
        elif match[0] not in chosen:
            chosen.append(match[0])
    masters = cfg.group("masters")
    some = [h for h in masters if h in chosen]
    if some and len(some) != len(masters):
        errors.append(f"--hosts: {', '.join(h.id for h in some)} but not every master: the others would lose "
                      "their quorum members. Uninstall every host, or none of the masters")
    if not chosen and not errors:
        errors.append("--hosts: no host named")
    return chosen, errors


@dataclass
class HostPlan:
    host: Host
    components: list[str]
    kept: list[str]
    data: list[tuple[str, str]]  # (what, path)


def plan(cfg: Config, hosts: list[Host]) -> list[HostPlan]:
    """What config.cfg says each host runs: the plan shown before asking. The hosts' records
    decide in the end (and say so in the run's output)."""
    out = []
    adopt = set(cfg.cluster.adopt)

    def kept(c) -> bool:
        return c.adopt_by_default or c.name in adopt or "all" in adopt

    for host in hosts:
        comps = components_of(cfg, host)
        out.append(HostPlan(
            host=host,
            components=[c.name for c in comps if not kept(c)],
            kept=[c.name for c in comps if kept(c)],
            data=list(dict.fromkeys((folder.what, path) for _, folder, path in folders_of(cfg, host))),
        ))
    return out


def render(cfg: Config, plans: list[HostPlan], purge_data: bool, everything: bool) -> str:
    lines = [f"Uninstall from cluster {cfg.cluster.name}: {len(plans)} host{'s' if len(plans) != 1 else ''}"
             + ("" if everything else " (the others stay, and still list these hosts)")]
    for p in plans:
        lines.append(f"  {p.host.id} ({', '.join(cfg.groups_of(p.host))})")
        lines.append(f"    stop and remove: {', '.join(p.components) or 'nothing'}")
        if p.kept:
            lines.append(f"    keep installed (there before, or adopted; only the record goes): {', '.join(p.kept)}")
        if p.data:
            verb = "DELETE" if purge_data else "keep"
            lines.append(f"    {verb} data: " + "; ".join(f"{what} {path}" for what, path in p.data))
    masters_stay = not any(p.host in cfg.group("masters") for p in plans)
    drained = [p.host.id for p in plans if p.host in cfg.group("agents")]
    if masters_stay and drained:
        lines.append(f"  First drained: {', '.join(drained)} (Mesos maintenance: their machines go down, Marathon "
                     "launches their tasks elsewhere; the run waits until it has), then marked gone in Mesos.")
    if not everything and any(p.host == cfg.installer for p in plans):
        lines.append("  The installer host goes: the others lose the package repo, the registry and the NTP server "
                     "they use (a later run needs it back first).")
    lines.append("  and on each: give back " + "; ".join(GIVEN_BACK))
    lines.append("Each host's own records decide: a component this installer did not install is never touched.")
    if not purge_data:
        lines.append("Data folders stay (a later install with the same config.cfg finds them); --purge-data deletes "
                     "them.")
    return "\n".join(lines)


HOST_SECTIONS = ("installer", "masters", "agents", "lb")


def config_lines(text: str, hosts: list[Host]) -> list[tuple[int, str, str]]:
    """(line number, section, line) of config.cfg that name these hosts: their own lines in
    the host sections, and any other key whose value names one of them ([mysql] slave = agent2).
    config.cfg stays the one truth: the operator takes them out, the installer does not edit it."""
    names = {str(v) for h in hosts for v in (h.id, h.name, h.ip) if v}
    out, section = [], ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        key, _, value = (part.strip() for part in stripped.partition("="))
        words = {w.strip() for w in value.replace(";", ",").split(",")}
        if (section in HOST_SECTIONS and key in names) or words & names:
            out.append((number, section, stripped))
    return out


def render_followup(config: str, lines: list[tuple[int, str, str]], hosts: list[Host]) -> str:
    ids = ", ".join(h.id for h in hosts)
    text = [f"{ids} uninstalled; the other hosts still list {'it' if len(hosts) == 1 else 'them'}. "
            f"Take these lines out of {config} (or change them), then run ./install.sh {config} so they forget "
            f"{'it' if len(hosts) == 1 else 'them'} (/etc/hosts, NTP allow lists, firewall rules, HAProxy):"]
    text += [f"  line {number} [{section}]: {line}" for number, section, line in lines]
    return "\n".join(text)
