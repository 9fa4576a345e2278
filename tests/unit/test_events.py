"""ansible-runner events become the run's own events."""

from installer.events import counts_from_stats, failed_units, result_message, translate


def _raw(event, **data):
    return {"event": event, "event_data": {"task": "Install chrony", "host": "m1", **data}}


def test_task_start_and_host_results():
    assert translate(_raw("playbook_on_task_start", play="p"), "hosts")["type"] == "task_start"
    assert translate(_raw("runner_on_ok", res={"changed": False}), "hosts")["status"] == "ok"
    assert translate(_raw("runner_on_ok", res={"changed": True}), "hosts")["status"] == "changed"
    assert translate(_raw("runner_on_skipped"), "hosts")["status"] == "skipped"


def test_a_failure_carries_the_message_and_ignored_failures_are_ok():
    failed = translate(_raw("runner_on_failed", res={"msg": "No package matching 'chrony'"}), "hosts")
    assert failed["status"] == "failed" and failed["msg"] == "No package matching 'chrony'"
    assert translate(_raw("runner_on_failed", res={"msg": "x"}, ignore_errors=True), "hosts")["status"] == "ok"
    unreachable = translate(_raw("runner_on_unreachable", res={"msg": "ssh: connect refused"}), "hosts")
    assert unreachable["status"] == "unreachable" and "refused" in unreachable["msg"]


def test_noise_is_dropped():
    assert translate({"event": "verbose", "stdout": "x"}, "hosts") is None


def test_messages_prefer_msg_then_stderr_and_respect_no_log():
    assert result_message({"msg": "non-zero return code", "stderr": "E: boom"}) == "non-zero return code | E: boom"
    assert result_message({"stdout": "only out"}) == "only out"
    censored = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
    assert result_message({"censored": censored, "msg": "secret"}) == censored
    assert result_message({"results": [{"failed": False}, {"failed": True, "msg": "item 2 broke"}]}) == "item 2 broke"
    # (Ansible's summary of a failed loop says nothing: the item's message does, and names the unit)
    item = {"failed": True,
            "msg": "Unable to restart service dcos-mesos-master: Job for dcos-mesos-master.service failed"}
    looped = result_message({"msg": "One or more items failed", "results": [item]})
    assert looped.startswith("Unable to restart service dcos-mesos-master") and failed_units(looped) == [
        "dcos-mesos-master"]
    # A playbook's own message keeps its start (a verdict names its first problems first)...
    verdict = result_message({"msg": "first problem; " + "x" * 5000})
    assert verdict.startswith("first problem; ") and len(verdict) <= 3001
    # ...a program's output its end (where it says why it failed).
    out = result_message({"msg": "non-zero return code", "stderr": "y" * 5000 + " why"})
    assert out.endswith(" why") and len(out) <= 801


def test_counts_from_stats():
    stats = {"ok": {"m1": 5, "m2": 4}, "changed": {"m1": 2}, "failures": {"m2": 1}, "dark": {}, "skipped": {}}
    counts = counts_from_stats(stats)
    assert counts["m1"] == {"ok": 5, "changed": 2, "failed": 0, "unreachable": 0, "skipped": 0}
    assert counts["m2"]["failed"] == 1


def test_the_units_a_failure_names_are_found_for_their_journal():
    from installer.events import failed_units

    assert failed_units("Unable to start service dcos-cadvisor: Job for dcos-cadvisor.service failed because the "
                        "control process exited with error code.") == ["dcos-cadvisor"]
    assert failed_units("not running: dcos-marathon is inactive, consul is failed (journalctl -u <unit> on m3)") == [
        "dcos-marathon", "consul"]
    assert failed_units("see `journalctl -u docker` on agent1") == ["docker"]
    assert failed_units("HTTP 403") == []


def test_what_a_say_task_writes_for_the_operator_is_carried_and_shown():
    import io

    from installer.progress import PlainDisplay

    said = translate(_raw("runner_on_ok", task_action="ansible.builtin.debug",
                          res={"msg": "agent2 drained: /app runs 2", "changed": False}), "uninstall")
    assert said["said"] and said["msg"] == "agent2 drained: /app runs 2"
    plain = translate(_raw("runner_on_ok", task_action="ansible.builtin.command", res={"msg": "", "changed": True}),
                      "uninstall")
    assert "said" not in plain and plain["msg"] == ""
    out = io.StringIO()
    PlainDisplay(out).handle(said)
    assert out.getvalue().endswith("uninstall | m1: agent2 drained: /app runs 2\n")
