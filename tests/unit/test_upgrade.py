"""The upgrade's plan (installer/upgrade.py): each host's installed packages against the bundle's
manifest for its release, in the order the upgrade keeps, with what refuses it."""

import json
import re
from pathlib import Path

import pytest

from installer import __version__
from installer.bundle import BundleReport
from installer.catalogue import all_versioned_packages
from installer.cli import main
from installer.config import load_config
from installer.upgrade import apply_options, make_plan, package_spec, pin_matches, render, steps, turns

TOP = Path(__file__).resolve().parents[2]
DEBIAN12 = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
            "distribution_version": "12.8"}
OLD = {"chrony": "4.3-2+deb12u1", "nginx": "1.22.1-9", "nginx-common": "1.22.1-9", "docker-registry": "2.8.2+ds1-1",
       "docker.io": "20.10.24+dfsg1-1+b3", "zookeeper": "3.8.0-11", "libzookeeper-java": "3.8.0-11",
       "mesos": "1.11.0-1", "marathon": "1.11.24-1", "consul": "1.8.7+dfsg1-3", "haproxy": "2.6.12-1+deb12u3",
       "keepalived": "1:2.2.7-1+b2", "mariadb-server": "1:10.11.18-0+deb12u1",
       "mariadb-server-core": "1:10.11.18-0+deb12u1", "galera-4": "26.4.14-0+deb12u1", "cadvisor": "0.38.7+ds1-2+b6"}


@pytest.fixture
def cfg(tmp_path):
    (tmp_path / "config.cfg").write_text((TOP / "config.cfg.example").read_text())
    return load_config(tmp_path / "config.cfg")


def _hosts(cfg, installed=OLD, **per_host):
    """Every host of the example with every package of its components at `installed`."""
    return {h.id: {"os": DEBIAN12, "packages": dict(per_host.get(h.id, installed)),
                   "records": {"dcos_zookeeper": {"version": __version__}}} for h in cfg.all_hosts()}


def _bundle(**newer):
    report = BundleReport(Path("/srv/bundle"), os="debian12")
    report.versions = {**OLD, **newer}
    return report


def test_the_same_bundle_plans_nothing(cfg):
    plan = make_plan(cfg, _bundle(), _hosts(cfg))
    assert not plan.refused and not plan.changes
    assert {r.action for r in plan.rows} == {"same"}
    assert "Nothing to upgrade" in render(plan)


def test_a_newer_package_is_planned_on_each_host_that_has_it_in_its_step(cfg):
    plan = make_plan(cfg, _bundle(haproxy="2.6.12-1+deb12u4", mesos="1.11.1-1"), _hosts(cfg))
    assert not plan.refused
    moves = {(r.step, r.host, r.package) for r in plan.changes}
    assert moves == {("lb", "master1", "haproxy"), ("lb", "master2", "haproxy"),
                     ("mesos-masters", "master1", "mesos"), ("mesos-masters", "master2", "mesos"),
                     ("mesos-masters", "master3", "mesos"), ("mesos-agents", "agent1", "mesos"),
                     ("mesos-agents", "agent2", "mesos")}
    text = render(plan)
    # the steps in the upgrade's order, the leader last where there is one
    names = [s.name for s in steps()]
    shown = re.findall(r"^  \d+\. ([\w-]+):", text, re.M)
    assert shown == [n for n in names if n in shown] and "mesos-masters" in shown and "lb" in shown
    assert re.search(r"master1 +haproxy +2\.6\.12-1\+deb12u3 +-> 2\.6\.12-1\+deb12u4  upgrade", text)
    assert "7 packages to change on 5 hosts" in text


def test_a_hosts_own_tools_go_in_its_turn(cfg):
    plan = make_plan(cfg, _bundle(**{"docker.io": "20.10.25+dfsg1-1"}), _hosts(cfg))
    steps_of = {r.host: r.step for r in plan.changes}
    assert steps_of == {"installer": "installer", "master1": "mesos-masters", "master2": "mesos-masters",
                        "master3": "mesos-masters", "agent1": "mesos-agents", "agent2": "mesos-agents"}


def test_a_downgrade_is_refused_unless_asked_and_mariadbs_never(cfg):
    older = _bundle(consul="1.8.6+dfsg1-1")
    plan = make_plan(cfg, older, _hosts(cfg))
    assert {r.action for r in plan.changes} == {"DOWNGRADE"}
    # one line for the six hosts that would go down the same way, not six
    assert plan.refused == ["installer, master1, master2, master3, agent1, agent2: consul 1.8.7+dfsg1-3 would go down "
                            "to 1.8.6+dfsg1-1 (the bundle has an older one): pass --allow-downgrade if that is meant"]
    assert not make_plan(cfg, older, _hosts(cfg), allow_downgrade=True).refused
    mariadb = make_plan(cfg, _bundle(**{"mariadb-server": "1:10.11.6-0+deb12u1"}), _hosts(cfg), allow_downgrade=True)
    assert [why.split(":")[0] for why in mariadb.refused] == ["agent1, agent2"]
    assert "never downgraded" in mariadb.refused[0]
    assert "Refused:" in render(mariadb)


def _pinned(tmp_path, section, pin, key="version", default=""):
    example = (TOP / "config.cfg.example").read_text()
    at = example.index(f"[{section}]")
    old = f"\n{key} ={' ' + default if default else ''}\n"
    assert old in example[at:example.index("\n[", at + 1)]
    text = example[:at] + example[at:].replace(old, f"\n{key} = {pin}\n", 1)
    (tmp_path / "config.cfg").write_text(text)
    return load_config(tmp_path / "config.cfg")


def test_the_agents_go_in_the_batches_config_sets_and_never_all_at_once(tmp_path):
    """[upgrade] agent_batch: the agents drained at a time; all of them at once would leave
    their tasks nowhere to go (the example has two agents)."""
    cfg = _pinned(tmp_path, "upgrade", "1", key="agent_batch", default="1")
    assert "5. mesos-agents: in batches of 1:" in render(make_plan(cfg, _bundle(), _hosts(cfg)))
    every = _pinned(tmp_path, "upgrade", "2", key="agent_batch", default="1")
    plan = make_plan(every, _bundle(), _hosts(every))
    assert plan.agent_batch == 2 and plan.refused == [
        "[upgrade] agent_batch = 2 in config.cfg, with 2 agents: every agent would be drained at once and their "
        "tasks would have nowhere to go; make it at most 1"]


def test_a_pin_in_config_is_checked_against_the_bundle(tmp_path):
    """The install asks for zookeeper=<pin>* (apt's glob): a pin the bundle's package matches is
    planned as usual; one it does not is refused, as the install would find nothing."""
    pinned = _pinned(tmp_path, "zookeeper", "3.8.0")
    plan = make_plan(pinned, _bundle(zookeeper="3.8.0-12"), _hosts(pinned))
    rows = [r for r in plan.changes if r.package == "zookeeper"]
    assert not plan.refused
    assert {(r.target, r.pinned, r.action) for r in rows} == {("3.8.0-12", True, "upgrade")} and len(rows) == 3
    off = make_plan(pinned, _bundle(zookeeper="3.9.0-1"), _hosts(pinned))
    assert off.refused == ["master1, master2, master3: [zookeeper] version = 3.8.0 in config.cfg, but the bundle "
                           "carries zookeeper 3.9.0-1 for debian12: put the bundle with that version next to "
                           "config.cfg, or change the pin"]


@pytest.mark.parametrize(("family", "pin", "version", "matches"), [
    ("Debian", "3.8.0", "3.8.0-11+deb12u2", True),
    ("Debian", "3.8.0-11", "3.8.0-11+deb12u2", True),
    ("Debian", "3.8.1", "3.8.0-11+deb12u2", False),
    ("Debian", "2.2.7", "1:2.2.7-1", False),  # apt's glob sees the epoch
    ("RedHat", "1.11.0", "1.11.0-1.el8", True),
    ("RedHat", "1.11.0-1.el8", "1:1.11.0-1.el8", True),  # yum's name-version-release, epoch aside
    ("RedHat", "1.11", "1.11.0-1.el8", False),  # yum matches whole fields, not a prefix
])
def test_a_pin_matches_as_the_package_manager_does(family, pin, version, matches):
    assert pin_matches(family, pin, version) is matches


def test_what_cannot_be_planned_is_refused(cfg):
    hosts = _hosts(cfg)
    del hosts["agent2"]
    hosts["agent1"]["os"] = {**DEBIAN12, "distribution_major_version": "11", "distribution_version": "11.9"}
    hosts["master3"]["records"]["dcos_consul"] = {"version": "99.0.0"}
    refused = make_plan(cfg, _bundle(), hosts).refused
    assert any(why.startswith("agent2: its versions were not read") for why in refused)
    assert any(why.startswith("agent1: runs debian11; the bundle serves debian12") for why in refused)
    assert any(why.startswith("master3: installed by installer 99.0.0, newer than this one") for why in refused)


def test_a_package_the_host_lacks_or_the_bundle_does_not_carry(cfg):
    lacking = {k: v for k, v in OLD.items() if k != "cadvisor"}
    plan = make_plan(cfg, _bundle(), _hosts(cfg, agent1=lacking))
    assert [(r.host, r.package) for r in plan.rows if r.action == "absent"] == [("agent1", "cadvisor")]
    bundle = _bundle()
    del bundle.versions["keepalived"]
    assert {r.action for r in make_plan(cfg, bundle, _hosts(cfg)).rows if r.package == "keepalived"} == {
        "not in bundle"}


def test_every_versioned_package_is_asked_for():
    """The hosts are asked for the versions of every package the plan compares (chrony's too:
    uninstall keeps it, an upgrade still moves it)."""
    asked = all_versioned_packages()
    assert "chrony" in asked["Debian"] and "mesos" in asked["RedHat"]
    assert set(OLD) <= set(asked["Debian"])


def test_the_command_line_refuses_what_does_not_go_with_upgrade(cfg, capsys):
    path = str(cfg.path)
    assert main([path, "upgrade", "--limit", "master1"]) == 2
    assert "--limit: not with upgrade" in capsys.readouterr().err
    assert main([path, "upgrade", "--plan", "--limit", "master1"]) == 2
    assert "--limit: not with upgrade" in capsys.readouterr().err
    assert main([path, "--plan"]) == 2
    assert "go with upgrade" in capsys.readouterr().err
    assert json.loads(json.dumps(make_plan(cfg, _bundle(), _hosts(cfg)).to_json()))["rows"]


def test_the_portal_starts_the_plan_with_the_same_checks(tmp_path):
    from installer.api import ConfigInvalid, start_upgrade_plan

    bad = tmp_path / "bad.cfg"
    bad.write_text("[cluster]\nname = x y\n")
    with pytest.raises(ConfigInvalid):
        start_upgrade_plan(bad, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_the_turns_install_the_plans_versions_and_restart_what_they_change(cfg):
    """What playbooks/upgrade.yml applies: per step and host, the packages at the plan's
    versions (never "latest") and the units to restart for them, the host's tools first;
    HAProxy reloads; a host with nothing to change has no turn."""
    plan = make_plan(cfg, _bundle(haproxy="2.6.12-1+deb12u4", mesos="1.11.1-1",
                                  **{"docker.io": "20.10.25+dfsg1-1"}), _hosts(cfg))
    applied = turns(plan, cfg)
    assert applied["mesos-agents"]["agent1"] == {
        "packages": ["docker.io=20.10.25+dfsg1-1", "mesos=1.11.1-1"], "units": ["docker", "dcos-mesos-agent"]}
    assert applied["mesos-masters"]["master3"] == {
        "packages": ["docker.io=20.10.25+dfsg1-1", "mesos=1.11.1-1"], "units": ["docker", "dcos-mesos-master"]}
    assert applied["lb"] == {h: {"packages": ["haproxy=2.6.12-1+deb12u4"], "units": ["haproxy:reload"]}
                             for h in ("master1", "master2")}
    assert applied["installer"]["installer"] == {"packages": ["docker.io=20.10.25+dfsg1-1"], "units": ["docker"]}
    assert set(applied) == {"installer", "mesos-masters", "mesos-agents", "lb"}
    assert turns(make_plan(cfg, _bundle(), _hosts(cfg)), cfg) == {}
    options = apply_options(plan, applied)
    assert options.operation == "upgrade" and options.again == "upgrade"
    assert options.extravars["dcos_upgrade"] is applied and options.extravars["dcos_upgrade_agent_batch"] == 1


def test_a_master_that_is_an_agent_restarts_its_agent_in_the_agents_turn(tmp_path):
    text = (TOP / "config.cfg.example").read_text().replace("agent2 = 10.0.0.22\n",
                                                            "agent2 = 10.0.0.22\nmaster3 = 10.0.0.13\n", 1)
    (tmp_path / "config.cfg").write_text(text)
    both = load_config(tmp_path / "config.cfg")
    assert "master3" in {h.id for h in both.group("agents")}
    applied = turns(make_plan(both, _bundle(mesos="1.11.1-1"), _hosts(both)), both)
    assert applied["mesos-masters"]["master3"] == {"packages": ["mesos=1.11.1-1"], "units": ["dcos-mesos-master"]}
    # installed once, with the master; its agent restarted (drained) with the agents
    assert applied["mesos-agents"]["master3"] == {"packages": [], "units": ["dcos-mesos-agent"]}
    assert applied["mesos-agents"]["agent1"]["packages"] == ["mesos=1.11.1-1"]


@pytest.mark.parametrize(("family", "version", "spec"), [
    ("Debian", "1:2.2.7-1+b2", "keepalived=1:2.2.7-1+b2"),
    ("RedHat", "2.2.8-3.el9", "keepalived-2.2.8-3.el9"),
    ("RedHat", "1:2.2.8-3.el9", "keepalived-2.2.8-3.el9"),
])
def test_a_package_is_asked_for_at_its_version_as_apt_or_dnf_takes_it(family, version, spec):
    assert package_spec(family, "keepalived", version) == spec


def test_the_portal_applies_only_the_plan_it_showed_of_this_config(cfg, monkeypatch):
    """start_upgrade takes the plan of start_upgrade_plan and starts the same run as
    `upgrade --yes`; it refuses a plan that is refused, empty, downgrading without the flag, or
    of another cluster or bundle than config.cfg names now (nothing started)."""
    import dataclasses

    from installer import api

    started = []
    monkeypatch.setattr(api.Run, "start", classmethod(lambda cls, c, options: started.append((c, options)) or "run"))
    config = cfg.path
    here = BundleReport(Path(cfg.repo.bundle), os="debian12")
    here.versions = {**OLD, "mesos": "1.11.1-1"}
    plan = make_plan(cfg, here, _hosts(cfg))
    assert api.start_upgrade(config, plan) == "run"
    (_, options), = started
    assert options.operation == "upgrade" and options.extravars["dcos_upgrade"] == turns(plan, cfg)
    assert set(options.extravars["dcos_upgrade"]) == {"mesos-masters", "mesos-agents"}

    def refused(p, **kw):
        with pytest.raises(api.UpgradeRefused) as caught:
            api.start_upgrade(config, p, **kw)
        return caught.value.reasons

    assert refused(make_plan(cfg, _bundle(mesos="1.11.1-1"), _hosts(cfg))) == [
        f"the plan is of the bundle /srv/bundle, config.cfg names {cfg.repo.bundle}: plan again"]
    assert "plan again" in refused(dataclasses.replace(plan, cluster="other"))[0]
    same = BundleReport(Path(cfg.repo.bundle), os="debian12")
    same.versions = dict(OLD)
    assert refused(make_plan(cfg, same, _hosts(cfg))) == [
        "nothing to upgrade: every package of the cluster is at its target version"]
    older = BundleReport(Path(cfg.repo.bundle), os="debian12")
    older.versions = {**OLD, "mesos": "1.10.0-1"}
    down = make_plan(cfg, older, _hosts(cfg), allow_downgrade=True)
    assert not down.refused and "allow_downgrade=True" in refused(down)[0]
    assert refused(make_plan(cfg, older, _hosts(cfg))) != []  # refused by the plan itself
    assert len(started) == 1
    assert api.start_upgrade(config, down, allow_downgrade=True) == "run" and len(started) == 2
