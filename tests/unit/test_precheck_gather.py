"""The gather's runner events become observations; failures are told apart."""

from installer.precheck.gather import Collector
from tests.unit.precheck_helpers import make_cfg


def _event(name, host, task_action="dcos.installer.precheck_facts", **res):
    return {"event": name, "event_data": {"host": host, "task_action": task_action, "res": res}}


def test_facts_and_probe_are_collected_per_host(tmp_path):
    collector = Collector(make_cfg(tmp_path))
    collector.feed(_event("runner_on_ok", "m1", "ansible.builtin.setup",
                          ansible_facts={"ansible_distribution": "Debian", "ansible_kernel": "6.1.0"}))
    collector.feed(_event("runner_on_ok", "m1", precheck={"cpus": 4}))
    obs = collector.observations["m1"]
    assert obs.observed and obs.facts["distribution"] == "Debian" and obs.probe == {"cpus": 4}
    assert obs.groups == ["masters", "cluster"]


def test_unreachable_become_and_module_failures_are_told_apart(tmp_path):
    collector = Collector(make_cfg(tmp_path))
    collector.feed(_event("runner_on_unreachable", "a1", msg="Failed to connect to the host via ssh: timed out"))
    collector.feed(_event("runner_on_failed", "m1", "ansible.builtin.setup", msg="Missing sudo password"))
    collector.feed(_event("runner_on_failed", "inst", msg="MODULE FAILURE\nSee stdout/stderr",
                          module_stderr="Traceback...\nIndexError: tuple index out of range"))
    obs = collector.observations
    assert (obs["a1"].error_kind, obs["m1"].error_kind, obs["inst"].error_kind) == ("unreachable", "become", "failed")
    assert obs["inst"].error == "MODULE FAILURE: IndexError: tuple index out of range"
    assert not obs["a1"].observed


def test_events_of_unknown_hosts_are_ignored(tmp_path):
    collector = Collector(make_cfg(tmp_path))
    collector.feed(_event("runner_on_ok", "ghost", precheck={}))
    assert "ghost" not in collector.observations
