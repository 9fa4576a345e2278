"""The fast path of a re-run (installer/stamps.py, roles/stamp): the inputs' digest per host
changes with anything a role could read and with nothing else, the run's inventory carries it
only for install runs, and a stamped role can end the play for a host only where nothing else
of the play would be skipped with it."""

import re
from pathlib import Path

import pytest
import yaml

from installer.config import load_config
from installer.rundir import create_run_dir, read_yaml
from installer.secrets import ensure_secrets
from installer.stamps import host_digests, run_digest
from tests.unit.roles import runtime_names

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"
STAMPED = sorted(p.parents[1].name for p in (TOP / "roles").glob("*/tasks/main.yml")
                 if "tasks_from: check" in p.read_text() and "name: stamp" in p.read_text())


def _inventory(tmp_path: Path, stamps: str, config: Path = EXAMPLE):
    cfg = load_config(config)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    run = create_run_dir(cfg, tmp_path, secrets_file, stamps=stamps)
    return read_yaml(run.path / "inventory" / "hosts.yml")["all"]


def test_the_host_local_roles_are_stamped():
    assert STAMPED == ["cadvisor", "common", "consul", "docker", "haproxy", "keepalived", "marathon", "mesos_agent",
                       "mesos_master", "mysql", "ntp", "registry", "repo", "zookeeper"]


def test_an_install_run_gives_every_host_its_digest_and_operations_none(tmp_path):
    checked = _inventory(tmp_path / "a", "check")
    assert checked["vars"]["dcos_stamp_check"] is True
    digests = {(h, role): d for h, v in checked["hosts"].items() for role, d in v["dcos_stamp_input"].items()}
    assert all(len(d) == 64 for d in digests.values()) and {role for _, role in digests} == set(STAMPED)
    full = _inventory(tmp_path / "b", "record")
    assert full["vars"]["dcos_stamp_check"] is False and all("dcos_stamp_input" in v for v in full["hosts"].values())
    off = _inventory(tmp_path / "c", "off")
    assert "dcos_stamp_check" not in off["vars"] and not any("dcos_stamp_input" in v for v in off["hosts"].values())


def test_the_digest_follows_the_inputs_and_not_the_run(tmp_path):
    installer = tmp_path / "installer"
    (installer / "roles" / "ntp" / "templates").mkdir(parents=True)
    template = installer / "roles" / "ntp" / "templates" / "chrony.conf.j2"
    template.write_text("server {{ x }}\n")
    secrets, state, bundle = tmp_path / "secrets.yml", tmp_path / "state", tmp_path / "bundle"
    secrets.write_text("a: 1\n")
    state.mkdir()
    (state / "ca.crt").write_text("CA 1")
    (bundle / "targets" / "debian11").mkdir(parents=True)
    (bundle / "manifest.json").write_text('{"v": 1}')
    (bundle / "targets" / "debian11" / "manifest.json").write_text('{"v": 11}')
    extravars = {"dcos": {"ntp": {"upstream": "a"}}, "dcos_run_id": "run-1"}

    def digest(**changed) -> str:
        return run_digest(changed.get("extravars", extravars), secrets, state, bundle, installer=installer)

    base = digest()
    assert digest(extravars={**extravars, "dcos_run_id": "run-2"}) == base  # another run, same inputs
    assert digest(extravars={**extravars, "dcos": {"ntp": {"upstream": "b"}}}) != base
    for path, text in ((template, "server {{ y }}\n"), (secrets, "a: 2\n"), (state / "ca.crt", "CA 2"),
                       (bundle / "manifest.json", '{"v": 2}'),
                       (bundle / "targets" / "debian11" / "manifest.json", '{"v": 12}')):
        before = path.read_text()
        path.write_text(text)
        assert digest() != base, path
        path.write_text(before)
    assert digest() == base
    # A certificate the config names by its path: replaced in place, a new input.
    cert = tmp_path / "operator-ca.crt"
    cert.write_text("CA of the operator 1")
    named = {**extravars, "dcos": {"registry": {"tls_cert": str(cert)}}}
    with_cert = digest(extravars=named)
    cert.write_text("CA of the operator 2")
    assert digest(extravars=named) != with_cert
    inventory = {"all": {"vars": {"ansible_user": "dcos"}, "children": {"agents": {"hosts": {"a1": None}}},
                         "hosts": {"a1": {"dcos_ip": "10.0.0.21"}, "a2": {"dcos_ip": "10.0.0.22"}}}}
    first = host_digests(base, inventory)
    assert first["a1"] != first["a2"]
    inventory["all"]["children"]["agents"]["hosts"]["a2"] = None  # a host joins a group: all change
    assert all(host_digests(base, inventory)[h] != first[h] for h in first)


@pytest.mark.parametrize("playbook", sorted((TOP / "playbooks").glob("*.yml")), ids=lambda p: p.name)
def test_a_stamped_role_is_alone_in_its_play_or_not_stamped_there(playbook):
    """meta: end_host in roles/stamp/tasks/check.yml ends the whole play for the host: a stamped
    role shares its play with no other role and no task, or its invocation turns the stamp off."""
    for play in yaml.safe_load(playbook.read_text()) or []:
        roles = play.get("roles", [])
        for entry in roles:
            name = entry if isinstance(entry, str) else entry.get("role")
            if name not in STAMPED:
                continue
            off = isinstance(entry, dict) and entry.get("vars", {}).get("dcos_stamp_input") == {}
            alone = len(roles) == 1 and not any(play.get(k) for k in ("tasks", "post_tasks", "pre_tasks"))
            assert alone or off, f"{playbook.name}: play {play.get('name')!r}: {name} is stamped but not alone"


# What a stamped role may read besides its own names (<role>_*, __<role>_*), the host's facts
# and magic variables (ansible_*), and what its tasks make while they run (registered results,
# loop variables, set facts): each is in the role's input digest, or is not an input.
_GLOBALS = {
    "item", "role_path", "omit", "inventory_hostname", "lookup", "query", "q", "now", "undef",
    "dcos_installer_version",  # in every role's input digest
    "dcos_run_id",  # written into the record, not an input
    "dcos_stamp_input", "dcos_stamp_check", "dcos_stamp_write",  # the fast path itself
    "stamp_role", "stamp_files", "stamp_units", "stamp_packages", "stamp_commands", "stamp_markers", "stamp_force",
    "stamp_extra_input",
}
# Reads of other hosts' values made while the play runs (not inputs of the run): mesos_agent's
# handler restarts the agents one at a time from the probes each host noted in the play.
# consul's ACL tasks, run once, collect the policies the hosts that run worked out (a host ended
# as converged has none, and keeps its token), and its handler restarts one agent at a time;
# marathon's, mesos_master's and zookeeper's the same (their leader checks compare the hosts
# that ran; zookeeper's only with every member running, and its refusal of a restore cut short).
# keepalived's VIP judgement (tasks/vip.yml, a play of its own after the role's) compares what
# each lb host answered in that play.
_RUNTIME_CROSS_HOST = {"mesos_agent": {"hostvars"}, "consul": {"hostvars"}, "marathon": {"hostvars"},
                       "mesos_master": {"hostvars"}, "zookeeper": {"hostvars"}, "keepalived": {"hostvars"}}
_BARE = ("when", "changed_when", "failed_when", "until", "that")


def _jinja_names(text: str) -> set[str]:
    import jinja2
    from jinja2 import meta

    class Anything(dict):  # Ansible's filters and tests: only the names read matter here
        def __contains__(self, key):
            return True

        def __missing__(self, key):
            return lambda *a, **k: None

        def get(self, key, default=None):
            return self[key]

    env = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
    env.filters, env.tests = Anything(env.filters), Anything(env.tests)
    return set(meta.find_undeclared_variables(env.parse(text)))


def _strings(node, bare: bool = False):
    """Every Jinja text of a parsed YAML task file: templated strings, and the bare
    expressions of when/until/that."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, bare=key in _BARE)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, bare=bare)
    elif isinstance(node, str):
        if bare:
            yield "{{ " + node + " }}"
        elif "{{" in node or "{%" in node:
            yield node


@pytest.mark.parametrize("role", STAMPED)
def test_a_stamped_role_reads_only_what_its_input_digest_holds(role):
    """The input digest is the role's interface as resolved for the host (installer/stamps.py):
    a task, template or variable of the role reading anything else (config.cfg's `dcos`
    directly, groups, another host's variables) would change unseen, and the role be skipped
    on a host where it had work to do."""
    own = (f"{role}_", f"__{role}_", "ansible_")
    made = runtime_names(role)
    allowed = _GLOBALS | made | _RUNTIME_CROSS_HOST.get(role, set())
    base = TOP / "roles" / role
    declared = set(made)
    for path in [*base.glob("defaults/*.yml"), *base.glob("vars/*.yml")]:
        declared.update(yaml.safe_load(path.read_text()) or {})
    strange = set()
    for path in sorted([*base.glob("tasks/*.yml"), *base.glob("handlers/*.yml"), *base.glob("vars/*.yml"),
                        *base.glob("defaults/*.yml"), *base.glob("templates/*.j2")]):
        texts = [path.read_text()] if path.suffix == ".j2" else list(_strings(yaml.safe_load(path.read_text())))
        for text in texts:
            for name in _jinja_names(text):
                if not name.startswith(own) and name not in allowed:
                    strange.add(f"{path.relative_to(TOP)}: {name}")
                elif name.startswith((f"{role}_", f"__{role}_")) and name not in declared:
                    # Set only by group_vars: read, but not in the interface the digest resolves.
                    strange.add(f"{path.relative_to(TOP)}: {name} (not in defaults/ or vars/)")
            # A lookup reads the controller at run time: only first_found of the role's vars files,
            # and `file` of a file one of the role's own names gives by its path (a certificate:
            # the digest holds the content of every file a value names by an absolute path).
            for plugin, arg in re.findall(r"\b(?:lookup|query|q)\(\s*['\"]([\w.]+)['\"]\s*(?:,\s*([^)]*))?\)", text):
                if plugin == "ansible.builtin.file" and re.fullmatch(rf"(__)?{role}_\w+(\s*,\s*errors='ignore')?",
                                                                     arg.strip()):
                    continue
                # The bundle's manifest (every input holds it).
                if plugin == "ansible.builtin.file" and arg.startswith("repo_bundle_dir ~ '/manifest.json'"):
                    continue
                # The registry's image names, files of the bundle (its manifest is in every input).
                if (role, path.name, plugin, arg.strip()) == ("registry", "push.yml", "file", "item.path"):
                    continue
                # ... and their names in the record's probe (which of them the storage holds).
                if (role, path.name, plugin) == ("registry", "main.yml", "ansible.builtin.file") and arg.startswith(
                        "*query('ansible.builtin.fileglob', registry_images_dir ~ '/*.tar.name'"):
                    continue
                if plugin != "ansible.builtin.first_found":
                    strange.add(f"{path.relative_to(TOP)}: lookup {plugin}")
            if re.search(r"\bnow\(", text):
                strange.add(f"{path.relative_to(TOP)}: now()")
    # The role's parameters are resolved from its plays' role entries: no play-level vars.
    for playbook in sorted((TOP / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(playbook.read_text()) or []:
            names = [e if isinstance(e, str) else e.get("role") for e in (play or {}).get("roles") or []]
            if role in names and (play.get("vars") or play.get("vars_files")):
                strange.add(f"{playbook.name}: play {play.get('name')!r} has play vars")
    assert sorted(strange) == []


def test_adding_an_agent_changes_the_input_of_only_the_roles_that_list_the_hosts(tmp_path):
    """The per-role digests of the example config, then with one more agent: the NTP server's
    `ntp` (its allow list) changes, nothing else of the old hosts (their /etc/hosts block and
    their firewall's sources are role membership's, not stamped: a few tasks); the same config
    twice changes nothing; the registry's password changes Docker's input (its login) and the
    Mesos agents' (their docker config) everywhere, and the registry's on the installer host
    only."""
    import re

    def inputs(text: str, name: str) -> dict:
        (tmp_path / name).write_text(text)
        cfg = load_config(tmp_path / name)
        secrets_file, _ = ensure_secrets(cfg, tmp_path / "runs")
        run = create_run_dir(cfg, tmp_path / "runs", secrets_file, stamps="check")
        hosts = read_yaml(run.path / "inventory" / "hosts.yml")["all"]["hosts"]
        return {h: v["dcos_stamp_input"] for h, v in hosts.items()}

    base = EXAMPLE.read_text()
    first = inputs(base, "a.cfg")
    assert first == inputs(base, "b.cfg")
    assert set(first["installer"]) == {"common", "ntp", "docker", "consul", "registry", "repo"}
    # agent1 is the example's MySQL master; an agent added is not in the MySQL pair.
    assert set(first["agent1"]) == {"common", "ntp", "docker", "cadvisor", "mesos_agent", "consul", "mysql", "registry",
                                    "repo"}
    grown = re.sub(r"(\[agents\]\n(?:.*\n)*?)\n\[", lambda m: m.group(1) + "agent9 = 10.0.0.29\n\n[", base, count=1)
    second = inputs(grown, "c.cfg")
    assert set(second["agent9"]) == set(first["agent1"]) - {"mysql"}
    changed = {(h, r) for h in first for r in first[h] if first[h][r] != second[h][r]}
    assert changed == {("installer", "ntp")}, sorted(changed)
    (secrets,) = (tmp_path / "runs" / "secrets").glob("*.yml")
    data = yaml.safe_load(secrets.read_text())
    data["registry_password"] = "another-password-" + "x" * 20
    secrets.write_text(yaml.safe_dump(data))
    third = inputs(base, "d.cfg")
    changed = {(h, r) for h in first for r in first[h] if first[h][r] != third[h][r]}
    assert {r for _, r in changed} == {"docker", "mesos_agent", "registry"}, sorted(changed)
    assert {h for h, r in changed if r == "docker"} == set(first)
    assert {h for h, r in changed if r == "registry"} == {"installer"}  # its htpasswd; the clients only trust the CA


def test_the_inputs_are_made_again_before_a_later_phase_from_the_files_the_phases_before_made(tmp_path):
    """The registry phase makes the cluster CA, which docker's input holds (it trusts it): the
    runner makes the inputs again before the hosts phase (installer.runner.STAMPED_PHASES), so
    what docker records in a first install is what the next run computes."""
    from installer.runner import STAMPED_PHASES

    assert {"repo", "registry", "hosts", "zookeeper", "mesos", "marathon", "consul", "lb", "mysql"} == STAMPED_PHASES
    cfg = load_config(EXAMPLE)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    run = create_run_dir(cfg, tmp_path, secrets_file, stamps="check")

    def inputs() -> dict:
        return read_yaml(run.path / "inventory" / "hosts.yml")["all"]["hosts"]["agent1"]["dcos_stamp_input"]

    before = inputs()
    pki = tmp_path / "state" / cfg.cluster.name / "registry-pki"
    pki.mkdir(parents=True)
    (pki / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n(the registry phase's CA)\n")
    assert inputs() == before
    run.refresh_stamps()
    after = inputs()
    assert after["docker"] != before["docker"] and after["common"] == before["common"], (before, after)
    assert create_run_dir(cfg, tmp_path, secrets_file, stamps="check").refresh_stamps is not None
    assert create_run_dir(cfg, tmp_path, secrets_file, stamps="off").refresh_stamps is None


def _flat(tasks) -> list[dict]:
    """Every task of a task list, the tasks of its blocks included."""
    out = []
    for task in tasks or []:
        out.append(task)
        for key in ("block", "rescue", "always"):
            out.extend(_flat(task.get(key)))
    return out


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value else []


@pytest.mark.parametrize("role", STAMPED)
def test_a_stamped_role_keeps_the_restarts_it_owes_until_its_handlers_ran(role):
    """A handler runs at the next flush, not when it is notified: a run stopped in between loses
    the notification, and the next run finds the file as it wants it (no change, no notify).
    Without a stamp the service kept its old configuration until something else changed; with
    one the role would not even run. So every task that notifies registers its result, the
    role remembers a due restart in its marker (roles/stamp/tasks/pending.yml) when one of them
    changed, finds a marker a stopped run left and notifies every handler topic again, and a
    handler removes the marker once done (the marker also makes the stamp check run the role)."""
    base = TOP / "roles" / role
    # The upgrade's entry points (tasks_from upgrade*, playbooks/upgrade.yml) are not part of the
    # install's run: they find the marker for the upgrade's own turn.
    tasks = [t for path in sorted(base.glob("tasks/*.yml")) if not path.name.startswith("upgrade")
             for t in _flat(yaml.safe_load(path.read_text()))]
    handlers = _flat(yaml.safe_load((base / "handlers" / "main.yml").read_text()))
    topics = {topic for h in handlers for topic in _as_list(h.get("listen"))}
    assert topics, f"{role}: no handler topics"
    marker_refs = (f"dcos_{role}.restart-pending", f"__{role}_restart_marker")

    pending = [t for t in tasks if (t.get("ansible.builtin.include_role") or {}).get("tasks_from") == "pending"]
    # One inclusion per stretch of notifying tasks before a flush (repo: the copy of each
    # repository, the client's files, nginx's site, which its own flush follows).
    assert pending, f"{role}: roles/stamp/tasks/pending.yml is never included"
    assert all(task["vars"]["stamp_role"] == role for task in pending)
    assert all("not ansible_check_mode" in _as_list(task.get("when")) for task in pending)
    condition = " ".join(" ".join(_as_list(task.get("when"))) for task in pending)

    finds = [t for t in tasks if "ansible.builtin.stat" in t
             and any(ref in str(t["ansible.builtin.stat"].get("path")) for ref in marker_refs)]
    assert len(finds) == 1, f"{role}: no task finds the marker a stopped run left"
    assert set(_as_list(finds[0].get("notify"))) == topics, f"{role}: the marker must notify every topic"

    for task in tasks:
        if task.get("notify") and task is not finds[0]:
            assert task.get("register") and task["register"] in condition, \
                f"{role}: {task.get('name')!r} notifies, but a change of it is not remembered"

    def removes(h) -> bool:
        spec = h.get("ansible.builtin.file") or {}
        if any(ref in str(spec.get("path")) for ref in marker_refs) and "absent" in str(spec.get("state")):
            return True
        # roles/rolling_restart forgets each member's marker once it has restarted.
        return "rolling_restart" in str(h.get("ansible.builtin.include_tasks"))

    removers = [h for h in handlers if removes(h)]
    assert removers, f"{role}: no handler removes the marker"
    assert set().union(*(set(_as_list(h.get("listen"))) for h in removers)) == topics


def test_the_inputs_are_made_again_only_when_a_file_under_them_changed(tmp_path, monkeypatch):
    """Before each phase that runs a stamped role: no file of the controller's state, the
    secrets or the signing key changed since the last digests, they stand (no second
    computation); one changed, they are made again."""
    from installer import rundir

    cfg = load_config(EXAMPLE)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    calls = []
    real = rundir.role_digests
    monkeypatch.setattr(rundir, "role_digests", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = create_run_dir(cfg, tmp_path, secrets_file, stamps="check")
    assert len(calls) == 1
    run.refresh_stamps()
    run.refresh_stamps()
    assert len(calls) == 1
    pki = tmp_path / "state" / cfg.cluster.name / "registry-pki"
    pki.mkdir(parents=True)
    (pki / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n(the registry phase's CA)\n")
    run.refresh_stamps()
    assert len(calls) == 2
    run.refresh_stamps()
    assert len(calls) == 2
