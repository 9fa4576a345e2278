"""Conventions every role keeps (docs/architecture.md): prefixed variables, declared arguments,
per-OS vars for both families, a managed header on every template."""

import pytest

from tests.unit.roles import ROLES, load_yaml, role_names

ROLE_NAMES = role_names()


def test_there_are_roles_to_check():
    assert "ntp" in ROLE_NAMES


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_default_is_prefixed_with_the_role_name(role):
    defaults = load_yaml(ROLES / role / "defaults" / "main.yml")
    unprefixed = [k for k in defaults if not k.startswith(f"{role}_")]
    assert not unprefixed, f"{role}: defaults without the '{role}_' prefix: {unprefixed}"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_default_is_declared_in_argument_specs_and_back(role):
    defaults = load_yaml(ROLES / role / "defaults" / "main.yml")
    specs = load_yaml(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(specs), (
        f"{role}: only in defaults {sorted(set(defaults) - set(specs))}, "
        f"only in argument_specs {sorted(set(specs) - set(defaults))}"
    )
    for name, spec in specs.items():
        assert spec.get("description"), f"{role}: {name} has no description"
        if "default" in spec:
            assert spec["default"] == defaults[name], f"{role}: {name} default differs from defaults/main.yml"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_os_family_vars_exist_for_debian_and_redhat_with_the_same_names(role):
    vars_dir = ROLES / role / "vars"
    if not vars_dir.exists():
        # Allowed only for a role that nothing depends on per OS family (rolling_restart).
        tasks = "".join(p.read_text() for p in (ROLES / role / "tasks").glob("*.yml"))
        assert "os_family" not in tasks, f"{role} branches per OS family but has no vars/<family>.yml"
        return
    debian = load_yaml(vars_dir / "Debian.yml")
    redhat = load_yaml(vars_dir / "RedHat.yml")
    assert set(debian) == set(redhat), f"{role}: Debian/RedHat vars differ: {set(debian) ^ set(redhat)}"
    internal = [k for k in debian if not k.startswith(f"__{role}_")]
    assert not internal, f"{role}: internal vars must start with '__{role}_': {internal}"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_template_carries_the_managed_header(role):
    templates = list((ROLES / role / "templates").glob("*.j2"))
    for template in templates:
        head = template.read_text().splitlines()[:3]
        assert any("Managed by the DCOS installer" in line for line in head), f"{template} lacks the header"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_meta_names_the_role_for_molecule(role):
    # molecule links a role as <namespace>.<role_name> from meta/main.yml
    info = load_yaml(ROLES / role / "meta" / "main.yml")["galaxy_info"]
    assert info["namespace"] == "dcos"
    assert info["role_name"] == role


def test_every_component_is_recognised_by_a_fact_a_role_writes():
    """The precheck tells our installs from foreign ones by these facts: a fact no role writes
    makes every re-run refuse the installer's own service as foreign."""
    import re

    from installer.catalogue import CATALOGUE

    written = {m for path in ROLES.rglob("*.yml")
               for m in re.findall(r"facts\.d/(dcos_[a-z_]+)\.fact", path.read_text())}
    assert {c.name: c.fact for c in CATALOGUE if c.fact not in written} == {}


SECRET_WORDS = ("password", "secret", "token", "gossip", "auth_pass", "credential", "__marathon_auth")


def _tasks(data):
    for task in data or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key))


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_a_template_that_holds_a_secret_shows_no_diff(role):
    """--check runs with --diff: a template that renders a secret must say diff: false, or the
    dry run would print the secret."""
    import re

    templates = ROLES / role / "templates"
    holders = {t.name for t in templates.glob("*.j2")
               if any(re.search(r"\{\{[^}]*" + word, t.read_text()) for word in SECRET_WORDS)}
    for path in (ROLES / role / "tasks").glob("*.yml"):
        for task in _tasks(load_yaml(path) if isinstance(load_yaml(path), list) else []):
            module = task.get("ansible.builtin.template") or task.get("template")
            if isinstance(module, dict) and module.get("src") in holders:
                assert task.get("diff") is False, f"{path.name}: {task.get('name')} renders a secret, no diff: false"


VERSIONED = [r for r in ROLE_NAMES if f"{r}_version" in load_yaml(ROLES / r / "defaults" / "main.yml")]


def test_the_roles_whose_version_config_sets_are_known():
    assert set(VERSIONED) == {"zookeeper", "mesos_master", "mesos_agent", "marathon", "consul"}


@pytest.mark.parametrize("role", VERSIONED)
def test_a_package_whose_version_config_sets_restarts_its_daemon_when_it_changes(role):
    """A version changed in config.cfg installs that package (name=version), and the daemon
    kept running the old code: nothing restarted it, and verify does not compare versions. The
    install task of the versioned package notifies the role's restart (on a first install the
    configuration's change notifies the same one: no second restart)."""
    tasks = [t for path in sorted((ROLES / role / "tasks").glob("*.yml")) for t in _tasks(load_yaml(path))]
    handlers = _tasks(load_yaml(ROLES / role / "handlers" / "main.yml"))
    restart = {h["listen"] for h in handlers if isinstance(h.get("listen"), str) and h["listen"].endswith("restart")}
    installs = [t for t in tasks
                if "ansible.builtin.package" in t and f"{role}_version" in str(t["ansible.builtin.package"])]
    assert installs, f"{role}: no package task installs {role}_version"
    for task in installs:
        notified = task.get("notify")
        notified = {notified} if isinstance(notified, str) else set(notified or [])
        assert notified & restart, f"{role}: {task['name']!r} restarts nothing when the version changes"
