"""The survey (installer/survey.py): a phase starts only on the hosts where one of its plays has
work, judged from every phase playbook as it is; a play the survey cannot judge runs everywhere."""

import pytest

from installer import survey
from installer.stamps import PHASE_PLAYBOOKS, stamped_roles

INVENTORY = {"all": {
    "hosts": {h: {} for h in ("installer", "master1", "master2", "master3", "agent1", "agent2", "agent3")},
    "children": {
        "installer": {"hosts": {"installer": None}},
        "cluster": {"hosts": {h: None for h in ("master1", "master2", "master3", "agent1", "agent2", "agent3")}},
        "masters": {"hosts": {"master1": None, "master2": None, "master3": None}},
        "agents": {"hosts": {"agent1": None, "agent2": None, "agent3": None}},
        "lb": {"hosts": {"master1": None, "master2": None}},
        "mysql_master": {"hosts": {"agent1": None}},
        "mysql_slave": {"hosts": {"agent2": None}},
    }}}
HOSTS = set(INVENTORY["all"]["hosts"])
ROLES = set(stamped_roles())


def everything_converged() -> dict[str, set[str]]:
    return {h: set(ROLES) for h in HOSTS}


@pytest.mark.parametrize("pattern, hosts", [
    ("installer:cluster", HOSTS),
    ("cluster:!installer", HOSTS - {"installer"}),
    ("all", HOSTS),
    ("masters[0]", {"master1"}),
    ("masters:&lb", {"master1", "master2"}),
    ("agent3", {"agent3"}),
])
def test_the_patterns_of_the_playbooks_resolve_as_ansible_would(pattern, hosts):
    assert survey.resolve(pattern, INVENTORY) == hosts


@pytest.mark.parametrize("pattern", ["masters[0:2]", "~agent.*", "no_such_group"])
def test_a_pattern_it_cannot_read_is_refused_not_guessed(pattern):
    with pytest.raises(ValueError):
        survey.resolve(pattern, INVENTORY)


@pytest.mark.parametrize("playbook", PHASE_PLAYBOOKS)
def test_every_phase_playbook_is_read(playbook):
    """Every play of every phase resolves: no phase falls back to running everywhere unnoticed."""
    for play in survey.plays(playbook):
        assert survey.resolve(play.hosts, INVENTORY), (playbook, play)


def test_a_converged_cluster_starts_only_the_phases_with_unstamped_work():
    started = {p: survey.phase_hosts(p, INVENTORY, everything_converged())[0] for p in PHASE_PLAYBOOKS}
    # Not started: every play of theirs is a stamped role's, found converged.
    assert {p for p, hosts in started.items() if not hosts} == {
        "zookeeper.yml", "mesos.yml", "marathon.yml", "consul.yml", "lb.yml", "mysql.yml"}
    # Membership and the identity (hosts), the repository's key and the registry's certificates
    # (repo, registry: looked at on the controller in the play itself) run every time.
    assert started["hosts.yml"] == HOSTS
    assert started["repo.yml"] == HOSTS and started["registry.yml"] == HOSTS


def test_an_added_agent_starts_the_phases_on_it_and_on_what_checks_it():
    converged = everything_converged()
    converged["agent3"] = set()
    hosts, left_out = survey.phase_hosts("mesos.yml", INVENTORY, converged)
    # The agent, and the leading master's check that it registered (a play that follows).
    assert hosts == {"agent3", "master1"} and left_out == HOSTS - {"installer", "agent3", "master1"}
    assert survey.phase_hosts("consul.yml", INVENTORY, converged)[0] == {"agent3"}
    for playbook in ("zookeeper.yml", "marathon.yml", "lb.yml", "mysql.yml"):
        assert survey.phase_hosts(playbook, INVENTORY, converged)[0] == set(), playbook


def test_one_role_that_drifted_starts_its_play_on_that_host_only():
    converged = everything_converged()
    converged["master2"].discard("keepalived")
    hosts, _ = survey.phase_hosts("lb.yml", INVENTORY, converged)
    assert hosts == {"master1", "master2"}  # master2's keepalived, and the VIP check on both lb hosts
    converged = everything_converged()
    del converged["master3"]  # the survey could not ask it
    assert survey.phase_hosts("zookeeper.yml", INVENTORY, converged)[0] == {"master3"}


def test_a_role_that_works_before_its_check_is_never_left_out():
    assert {"repo", "registry"}.isdisjoint(survey.surveyable_roles())
    assert {"zookeeper", "consul", "mesos_agent"} <= survey.surveyable_roles()
