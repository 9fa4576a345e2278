"""The catalogue (installer/catalogue.py) against what really installs and checks the
components: the playbooks' `hosts:` lines (resolved by Ansible itself over the inventory the
installer writes), the roles' own variables (unit names, fact files, the files they write),
and the config schema. A component renamed, moved or given a new file in one place and not
the other fails here, not on a cluster."""

import re
from pathlib import Path

import jinja2
import jinja2.meta
import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from installer.catalogue import (
    CATALOGUE,
    FAMILIES,
    GROUPS,
    by_name,
    component_units_of,
    consul_services,
    host_groups,
    units_of,
)
from installer.config import load_config
from installer.config.schema import SECTIONS
from installer.rundir import inventory
from tests.unit.roles import ROLES, ansible_bool, load_yaml, role_names, role_vars

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = (TOP / "config.cfg.example").read_text()
PLAYBOOKS = TOP / "playbooks"

# The example (a separate installer host, lb on two masters, MySQL on the agents), and a
# small cluster where the installer host is also a master and the lb host.
SHAPES = {
    "example": EXAMPLE,
    "installer-on-master": re.sub(r"\[installer\]\n(#.*\n)*installer = 10\.0\.0\.5", "[installer]\nmaster1",
                                  EXAMPLE),
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def shape(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "config.cfg"
    path.write_text(SHAPES[request.param])
    cfg = load_config(path)
    inv = path.parent / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory(cfg)))
    return cfg, InventoryManager(loader=DataLoader(), sources=[str(inv)])


def _role_plays() -> dict[str, list[str]]:
    """role -> the host patterns of every play that applies it (roles: lists)."""
    plays: dict[str, list[str]] = {}
    for book in PLAYBOOKS.glob("*.yml"):
        for play in load_yaml(book) or []:
            for entry in play.get("roles", []):
                role = entry["role"] if isinstance(entry, dict) else entry
                plays.setdefault(role, []).append(play["hosts"])
    return plays


def test_the_shapes_are_what_they_say(shape):
    cfg, _ = shape
    separate = cfg.installer not in cfg.cluster_hosts()
    assert separate == (cfg.installer.id == "installer")


# Roles that install nothing of their own: the others use them, they take off what the others installed,
# they only read the hosts (diagnostics), or they write the part of another's component that adding a
# host changes (membership: the firewall's source sets, listed with the firewall, and /etc/hosts' block).
HELPER_ROLES = {"diagnostics", "membership", "rolling_restart", "uninstall"}


def test_every_role_installs_a_component_of_the_catalogue():
    installing = sorted(set(role_names()) - HELPER_ROLES)
    assert sorted({c.role for c in CATALOGUE}) == installing
    assert sorted(set(_role_plays()) - HELPER_ROLES) == installing


@pytest.mark.parametrize("component", CATALOGUE, ids=lambda c: c.name)
def test_the_playbooks_run_each_role_on_the_hosts_the_catalogue_names(component, shape):
    """A play's `hosts:` line and the catalogue's groups (plus the groups where the role sets
    up the client side only) give the same hosts, as Ansible resolves them."""
    cfg, manager = shape
    played = {h.name for pattern in _role_plays()[component.role] for h in manager.get_hosts(pattern)}
    groups = set(component.groups) | set(component.clients)
    named = {h.id for h in cfg.all_hosts() if groups & set(host_groups(cfg, h))}
    assert played == named


@pytest.mark.parametrize("component", CATALOGUE, ids=lambda c: c.name)
def test_units_and_fact_are_the_roles_own(component):
    for family in FAMILIES:
        values = role_vars(component.role, family)
        if component.unit_var:
            assert values[component.unit_var] == component.units[family][0], (family, component.unit_var)
        fact_file = values.get(f"__{component.role}_fact_file")
        if fact_file:
            assert Path(fact_file).name == component.fact + ".fact"


def _role_text(role: str) -> str:
    """Every file of the role, with its plain path variables put in (as `{{ var }}`)."""
    texts = [p.read_text() for p in (ROLES / role).rglob("*") if p.is_file()]
    text = "\n".join(texts)
    values = role_vars(role, "Debian")
    for name, value in values.items():
        if isinstance(value, str) and "{{" not in value:
            text = re.sub(r"\{\{ *" + re.escape(name) + r" *\}\}", value, text)
    return text


@pytest.mark.parametrize("component", CATALOGUE, ids=lambda c: c.name)
def test_every_file_the_catalogue_names_is_written_by_the_role(component):
    text = _role_text(component.role)
    assert component.files, "the catalogue names no file of it"
    missing = [f for f in component.files if f not in text]
    assert not missing, f"roles/{component.role} never names {missing}"


@pytest.mark.parametrize("component", CATALOGUE, ids=lambda c: c.name)
def test_config_keys_and_groups_exist(component):
    assert set(component.groups) <= set(GROUPS) and set(component.clients) <= set(GROUPS)
    assert component.section is None or component.section in SECTIONS
    keys = [(p.section, p.key) for p in component.ports if p.key]
    keys += [(f.section, f.key) for f in component.data if f.section]
    keys += [(s.probe.section, s.probe.key) for s in component.services]
    for section, key in keys:
        assert key in SECTIONS[section].model_fields, f"[{section}] {key}"
    for port in component.ports:
        assert (port.key is None) == (port.number is not None), port.label
    assert set(component.units) == set(FAMILIES)


def test_verify_asks_the_catalogue_for_units_not_a_list_of_its_own():
    text = (PLAYBOOKS / "verify.yml").read_text()
    assert "dcos_units[" in text
    for component in CATALOGUE:
        for unit in {u for units in component.units.values() for u in units} - {"consul", "docker"}:
            assert f"'{unit}'" not in text, f"verify.yml names the unit {unit} itself"


def test_each_host_gets_what_its_groups_run(shape):
    cfg, _ = shape
    master, agent = cfg.group("masters")[0], cfg.group("agents")[0]
    assert {"zookeeper", "dcos-mesos-master", "dcos-marathon", "consul"} <= set(units_of(cfg, master)["Debian"])
    assert "dcos-mesos-agent" in units_of(cfg, agent)["Debian"] and "zookeeper" not in units_of(cfg, agent)["Debian"]
    assert "chronyd" in units_of(cfg, master)["RedHat"] and "chrony" in units_of(cfg, master)["Debian"]
    # What verify's checks name as the unit that answers them (a stopped one is not waited for).
    named = component_units_of(cfg, master)
    assert {k: named["Debian"][k] for k in ("chrony", "zookeeper", "mesos-master", "marathon", "consul")} == {
        "chrony": "chrony", "zookeeper": "zookeeper", "mesos-master": "dcos-mesos-master",
        "marathon": "dcos-marathon", "consul": "consul"}
    assert named["RedHat"]["chrony"] == "chronyd" and "zookeeper" not in component_units_of(cfg, agent)["Debian"]
    installer_services = {s["name"] for s in consul_services(cfg, cfg.installer)}
    assert {"registry", "repo"} <= installer_services
    # consul-http is a server's service only
    assert "consul-http" not in {s["name"] for s in consul_services(cfg, agent)}


def test_a_switched_off_component_leaves_no_unit_port_or_service(tmp_path):
    path = tmp_path / "config.cfg"
    path.write_text(EXAMPLE.replace("enabled = true", "enabled = false")
                    .replace("firewall = open-ports", "firewall = off"))
    cfg = load_config(path)
    assert not cfg.cadvisor.enabled
    agent = cfg.group("agents")[0]
    assert "dcos-cadvisor" not in units_of(cfg, agent)["Debian"]
    assert "dcos-firewall" not in units_of(cfg, agent)["Debian"]
    assert "cadvisor" not in {s["name"] for s in consul_services(cfg, agent)}
    from installer.ports import host_ports
    assert not [u for u in host_ports(cfg, agent) if u.section == "cadvisor"]


def test_every_port_has_one_owner():
    owners = {}
    for component in CATALOGUE:
        for port in component.ports:
            owners.setdefault((port.section, port.key, port.proto), []).append(component.name)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}
    assert by_name("haproxy").name == "haproxy"


def _claim_footprints(role: str, family: str) -> list[str] | None:
    """The files the role's claim task refuses to install over, rendered with the role's vars."""
    import jinja2

    for path in (ROLES / role / "tasks").glob("*.yml"):
        for task in load_yaml(path) or []:
            claim = task.get("dcos.installer.claim") if isinstance(task, dict) else None
            if not claim or "footprint" not in claim:
                continue
            values = role_vars(role, family)
            env = jinja2.Environment()

            def render(value, values=values, env=env):
                for _ in range(3):
                    if isinstance(value, str) and "{{" in value:
                        rendered = env.from_string(value).render(**values)
                        value = yaml.safe_load(rendered) if rendered.startswith("[") else rendered
                return value

            footprint = render(claim["footprint"])
            return [render(p) for p in (footprint if isinstance(footprint, list) else [footprint])]
    return None


@pytest.mark.parametrize("component", CATALOGUE, ids=lambda c: c.name)
def test_the_precheck_looks_for_what_the_role_refuses_to_install_over(component):
    """The role's claim footprint (each OS family) and the catalogue's foreign paths, which
    the precheck probes, are the same files: the precheck finds first what the role refuses."""
    footprints = [_claim_footprints(component.role, family) for family in FAMILIES]
    if footprints[0] is None:
        assert not component.foreign.paths
        return
    assert set(component.foreign.paths) == {p for f in footprints for p in f}


# What a role writes under /etc, /usr or /opt that uninstall leaves on purpose
# (docs/operations.md, "Left on purpose"), each with why.
_LEFT_ON_PURPOSE = {
    "/etc/hostname": "the host keeps its name",
    "/etc/systemd/system/chrony.service.d/dcos-no-clock-control.conf": "chrony stays, with its configuration",
    "/etc/systemd/system/chronyd.service.d/dcos-no-clock-control.conf": "chrony stays, with its configuration",
}
_WRITERS = ("template", "copy", "get_url", "unarchive")
_INCLUDES = ("include_tasks", "import_tasks")


def _holds(conditions, values: dict) -> bool:
    """False only when a `when` is surely false on hosts of this OS family: one that reads the
    role's own variables only (`__*`, from vars/<family>.yml; a play cannot override them). One
    that reads a setting, a fact or a registered result is taken as true."""
    env = jinja2.Environment()
    env.filters["bool"] = ansible_bool
    for condition in conditions if isinstance(conditions, list) else [conditions]:
        try:
            names = jinja2.meta.find_undeclared_variables(env.parse("{{ " + str(condition) + " }}"))
            if names and all(n.startswith("__") and n in values for n in names) \
                    and not env.compile_expression(str(condition))(**values):
                return False
        except jinja2.TemplateError:  # Ansible's own tests and filters (is changed): only a run knows
            continue
    return True


def _written(role: str, tasks_file: str, values: dict) -> list[tuple[str, str, str, str]]:
    """(tasks file, task name, module, dest) of every task that writes a file on hosts of these values:
    blocks and included task files followed, what a `when` rules out left out."""
    out = []

    def walk(tasks, where):
        for task in tasks or []:
            if not isinstance(task, dict) or not _holds(task.get("when", []), values):
                continue
            for key in ("block", "rescue", "always"):
                walk(task.get(key), where)
            for module in _INCLUDES:
                target = task.get(module, task.get(f"ansible.builtin.{module}"))
                if isinstance(target, str) and "{{" not in target:
                    walk(load_yaml(ROLES / role / "tasks" / target), target)
            for module in _WRITERS:
                args = task.get(module, task.get(f"ansible.builtin.{module}"))
                if isinstance(args, dict) and "dest" in args:
                    out.append((where, task.get("name", "?"), module, str(args["dest"])))

    walk(load_yaml(ROLES / role / "tasks" / tasks_file), tasks_file)
    return out


def _fixed(path: str, values: dict) -> str:
    """The path with the role's plain variables put in, cut before what only a run knows."""
    for _ in range(5):
        path = re.sub(r"\{\{ *([a-z_0-9]+) *\}\}",
                      lambda m: str(values[m.group(1)]) if isinstance(values.get(m.group(1)), str)
                      and "{{" not in values[m.group(1)] else m.group(0), path)
    return path.split("{{", 1)[0]


def _uninstall_paths(family: str) -> list[str]:
    """Every path uninstall names: the catalogue's, and those of its own lists and tasks."""
    values = role_vars("uninstall", family)
    text = "\n".join(p.read_text() for p in (ROLES / "uninstall").rglob("*.yml"))
    text += "\n" + "\n".join(str(v) for v in values.values())
    found = {_fixed(m, values) for m in re.findall(r"/(?:etc|usr|opt)/[^\s\"',}\]]+", text)}
    for component in CATALOGUE:
        found |= set(component.files) | set(component.family_files.get(family, ()))
    return sorted(p for p in found if p)


@pytest.mark.parametrize("family", FAMILIES)
def test_uninstall_takes_back_every_file_a_role_writes(family):
    """The converse of the test above: a file a role writes under /etc, /usr or /opt that neither
    the catalogue nor the uninstall role names would be left behind by uninstall (kubespray's
    reset, issue 11467), and missed by diagnostics, which collects the catalogue's files."""
    owned = _uninstall_paths(family)
    unowned = []
    for component in {c.role: c for c in CATALOGUE}.values():
        values = role_vars(component.role, family)
        for tasks_file, name, module, dest in _written(component.role, "main.yml", values):
            where = _fixed(dest, values)
            if not where.startswith(("/etc/", "/usr/", "/opt/")) or where in _LEFT_ON_PURPOSE:
                continue
            inside = module == "unarchive"  # a folder it unpacks into: what it unpacks is named
            if not any(where == o or where.startswith(o.rstrip("/") + "/")
                       or (inside and o.startswith(where.rstrip("/") + "/")) for o in owned):
                unowned.append(f"roles/{component.role}/tasks/{tasks_file}: {name}: {where}")
    assert not unowned, unowned


def test_every_unit_a_host_runs_is_given_the_packages_that_are_its_code():
    """What verify asks about code replaced under a running daemon: each unit of the host with its
    component's packages (none for what no package brings, such as EL's ZooKeeper archive)."""
    from installer.catalogue import unit_packages_of, units_of

    cfg = load_config(TOP / "config.cfg.example")
    for host in cfg.all_hosts():
        packages, units = unit_packages_of(cfg, host), units_of(cfg, host)
        for family in units:
            assert list(packages[family]) == units[family], (host.id, family)
    master = unit_packages_of(cfg, cfg.group("masters")[0])
    assert master["Debian"]["zookeeper"] == ["zookeeper", "libzookeeper-java"]
    assert master["Debian"]["consul"] == ["consul"] and master["RedHat"]["zookeeper"] == []
