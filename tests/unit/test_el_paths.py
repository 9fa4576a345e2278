"""The EL (CentOS 7, Rocky 8 and 9) paths of the roles, as far as they can be proven without an
EL userland: Ansible itself (its inventory, variable manager and templar) resolves, for every
host of the example config with the facts of each EL release, every variable of every role
(defaults, vars/main.yml, vars/RedHat.yml over playbooks/group_vars) and renders every template
of every role. Debian 12 runs the same as a control. An undefined variable, a bad filter or a
typo in an EL-only value fails here instead of on an operator's first EL host.

What this cannot prove (the modules, the packages, the services on EL) is listed in
docs/testing.md; test_the_never_executed_el_lines_are_listed keeps that list exact."""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from installer.catalogue import CATALOGUE
from installer.config import load_config
from installer.rundir import create_run_dir
from installer.secrets import ensure_secrets
from tests.unit.roles import ROLES, load_yaml, role_names, runtime_names

TOP = Path(__file__).resolve().parents[2]


def _facts(family: str, distribution: str, major: str, python: tuple[int, int], pkg_mgr: str) -> dict:
    return {
        "os_family": family, "distribution": distribution, "distribution_major_version": major,
        "distribution_version": f"{major}.9" if family == "RedHat" else major,
        "distribution_release": {"7": "Core", "8": "Green Obsidian", "9": "Blue Onyx"}.get(major, "bookworm"),
        "pkg_mgr": pkg_mgr, "service_mgr": "systemd", "architecture": "x86_64", "system": "Linux",
        "kernel": "5.14.0" if major != "7" else "3.10.0",
        "python": {"executable": "/usr/bin/python3", "version": {"major": python[0], "minor": python[1]}},
        "memtotal_mb": 16384, "processor_vcpus": 4, "local": {}, "hostname": "host", "fqdn": "host",
        "default_ipv4": {"address": "10.0.0.1", "interface": "eth0"}, "interfaces": ["lo", "eth0"],
        "selinux": {"status": "enabled", "mode": "enforcing"} if family == "RedHat" else {"status": "disabled"},
    }


RELEASES = {
    "el7": _facts("RedHat", "CentOS", "7", (2, 7), "yum"),
    "el8": _facts("RedHat", "Rocky", "8", (3, 6), "dnf"),
    "el9": _facts("RedHat", "Rocky", "9", (3, 9), "dnf"),
    "debian12": _facts("Debian", "Debian", "12", (3, 11), "apt"),
}


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("el")
    shutil.copy(TOP / "config.cfg.example", tmp / "config.cfg")
    cfg = load_config(tmp / "config.cfg")
    secrets_file, _ = ensure_secrets(cfg, tmp / "runs")
    run = create_run_dir(cfg, tmp / "runs", secrets_file)
    # What the registry phase makes on the controller, which other roles read (lookups).
    pki = tmp / "runs" / "state" / cfg.cluster.name / "registry-pki"
    pki.mkdir(parents=True)
    for name in ("ca.crt", "ca.key", "registry.crt", "registry.key", "vip.crt", "vip.key"):
        (pki / name).write_text(f"(made by the registry phase: {name})\n")
    inventory_dir = run.path / "inventory"
    (inventory_dir / "group_vars").symlink_to(TOP / "playbooks" / "group_vars")
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inventory_dir / "hosts.yml")])
    variables = VariableManager(loader=loader, inventory=inventory)
    variables._extra_vars = loader.load_from_file(str(run.path / "env" / "extravars"))
    variables._hostvars = HostVars(inventory=inventory, variable_manager=variables, loader=loader)
    init_plugin_loader()  # lookups and filters, as ansible-playbook loads them
    return loader, inventory, variables


def _role_values(role: str, family: str) -> tuple[dict, dict]:
    """(defaults, vars of main.yml and of the family) of a role."""
    base = ROLES / role
    defaults = load_yaml(base / "defaults" / "main.yml") if (base / "defaults" / "main.yml").exists() else {}
    own = {}
    for path in (base / "vars" / "main.yml", base / "vars" / f"{family}.yml"):
        if path.exists():
            own.update(load_yaml(path))
    return defaults, own


def _groups_of(role: str) -> tuple[str, ...]:
    """The inventory groups a role runs on: the catalogue's (servers and clients); every host
    for the roles that are no component (common, uninstall, diagnostics, rolling_restart)."""
    groups = [g for c in CATALOGUE if c.role == role for g in (*c.groups, *c.clients)]
    return tuple(groups) or ("all",)


def _undefined_is_runtime(error: Exception, allowed: set[str]) -> bool:
    text = str(error)
    return any(re.search(rf"'{re.escape(name)}'|\b{re.escape(name)}\b is undefined", text) for name in allowed)


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_every_role_value_and_template_resolves(manager, release):
    loader, inventory, variables = manager
    facts = RELEASES[release]
    problems = []
    for host in inventory.get_hosts():
        variables.set_host_facts(host.name, dict(facts, hostname=host.name, fqdn=host.name))
    names = [h.name for h in inventory.get_hosts()]
    play = {"ansible_play_hosts": names, "ansible_play_hosts_all": names, "ansible_play_batch": names}
    group_hosts = {**inventory.get_groups_dict(), "all": names}
    # One host of each kind (the same groups): the others resolve alike.
    kinds = {}
    for host in inventory.get_hosts():
        kinds.setdefault(tuple(sorted(g for g, members in group_hosts.items() if host.name in members)), host)
    for host in kinds.values():
        base = variables.get_vars(host=host, include_hostvars=True)
        for role in role_names():
            if not any(host.name in group_hosts.get(g, []) for g in _groups_of(role)):
                continue
            defaults, own = _role_values(role, facts["os_family"])
            values = {**defaults, **base, **own, "role_path": str(ROLES / role), **play}
            templar = Templar(loader=loader, variables=values)
            allowed = runtime_names(role)
            for name in [*own, *defaults]:
                try:
                    templar.template(values[name], fail_on_undefined=True)
                except Exception as exc:  # an AnsibleError, or a Python error inside a filter
                    if not _undefined_is_runtime(exc, allowed):
                        problems.append(f"{release} {host.name} {role}: {name}: {str(exc).splitlines()[0][:300]}")
            for template in sorted((ROLES / role / "templates").glob("*.j2")):
                try:
                    templar.template(template.read_text(), escape_backslashes=False)
                except Exception as exc:  # an AnsibleError, or a Python error inside a filter
                    if not _undefined_is_runtime(exc, allowed):
                        problems.append(f"{release} {host.name} {role}: {template.name}: "
                                        f"{str(exc).splitlines()[0][:300]}")
    assert problems == [], "\n".join(sorted(set(problems))[:40])


# ---- what has never run on EL ------------------------------------------------------------------

def _el_tasks(tasks, where: str, out: list[str]) -> None:
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        when = task.get("when")
        if any("== 'RedHat'" in str(w) for w in (when if isinstance(when, list) else [when]) if w):
            out.append(f"{where}: {task.get('name')}")
        for key in ("block", "rescue", "always"):
            _el_tasks(task.get(key), where, out)


def el_only() -> list[str]:
    """Every EL-only line, as docs/testing.md names it: the task files only EL includes, the
    tasks (of the roles and the playbooks) only EL runs, and each role's vars/RedHat.yml."""
    out: list[str] = []
    for role in role_names():
        tasks = ROLES / role / "tasks"
        for path in sorted(tasks.glob("*-el.yml")):
            count = sum(1 for t in yaml.safe_load(path.read_text()) or [] if isinstance(t, dict))
            out.append(f"roles/{role}/tasks/{path.name} ({count} tasks)")
        for path in sorted(tasks.glob("*.yml")):
            _el_tasks(yaml.safe_load(path.read_text()), f"roles/{role}/tasks/{path.name}", out)
        if (ROLES / role / "vars" / "RedHat.yml").exists():
            out.append(f"roles/{role}/vars/RedHat.yml")
    for path in sorted((TOP / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()) or []:
            for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                _el_tasks(play.get(key), f"playbooks/{path.name}", out)
    return out


def test_the_never_executed_el_lines_are_listed():
    text = (TOP / "docs" / "testing.md").read_text()
    section = text.split("### EL lines that have never run", 1)[1].split("\n## ", 1)[0]
    missing = [line for line in el_only() if f"`{line.split(' (')[0].split(': ')[0]}`" not in section
               or (": " in line and line.split(": ", 1)[1] not in section)]
    assert missing == [], missing
