"""What an operator reads: plain lines off a terminal, JSON lines with --json."""

import io
import json

from installer.events import event
from installer.progress import JsonDisplay, PlainDisplay

EVENTS = [
    event("run_start", run_id="r1", run_dir="/tmp/r1", phases=["hosts"], hosts=["m1", "m2"], check=False),
    event("phase_start", phase="hosts", index=1, total=1, description="host init"),
    event("task_start", phase="hosts", play="p", task="Install chrony"),
    event("host_result", phase="hosts", task="Install chrony", host="m1", status="changed", msg=""),
    event("host_result", phase="hosts", task="Install chrony", host="m2", status="failed", msg="no candidate"),
    event("host_result", phase="hosts", task="Wait", host="m1", status="retry", msg=""),
    event("host_result", phase="hosts", task="Wait", host="m1", status="retry", msg=""),
    event("phase_end", phase="hosts", status="failed", rc=2, duration=3.2, counts={}, failures=[]),
    event("run_end", status="failed", exit_code=1, duration=3.3, failed_phase="hosts", run_dir="/tmp/r1"),
]


def test_plain_lines_show_tasks_and_problems_but_not_every_ok():
    out = io.StringIO()
    display = PlainDisplay(out)
    for ev in EVENTS:
        display.handle(ev)
    text = out.getvalue()
    assert "run r1: phases hosts; 2 hosts" in text
    assert "hosts | Install chrony" in text
    assert "hosts | FAILED m2: no candidate" in text
    assert "m1: " not in text  # a changed result is counted, not printed
    assert text.count("waiting on m1") == 1  # retries are said once
    assert "phase hosts failed in 3.2s" in text


def test_json_mode_prints_one_event_per_line():
    out = io.StringIO()
    display = JsonDisplay(out)
    for ev in EVENTS:
        display.handle(ev)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["type"] for e in lines] == [e["type"] for e in EVENTS]
    assert lines[-1]["exit_code"] == 1


def _write_run(runs, run_id: str, events: list[dict]) -> None:
    (runs / run_id).mkdir(parents=True)
    (runs / run_id / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_a_run_after_a_killed_one_says_where_that_one_stopped(tmp_path):
    from installer.rundir import unfinished_run

    assert unfinished_run(tmp_path, "prod") is None  # no run yet
    _write_run(tmp_path, "20261127-100000-prod", EVENTS)  # ended (failed): nothing to say
    assert unfinished_run(tmp_path, "prod") is None
    killed = EVENTS[:3]
    _write_run(tmp_path, "20261127-110000-prod", killed)
    (tmp_path / "20261127-110000-prod" / "events.jsonl").open("a").write('{"type": "task_st')  # cut by the kill
    _write_run(tmp_path, "20261127-120000-other", EVENTS[:1])  # another cluster's run
    _write_run(tmp_path, "20261127-130000-eu-prod", EVENTS[:1])  # a cluster whose name ends in -prod
    prev = unfinished_run(tmp_path, "prod")
    assert prev == {"run_id": "20261127-110000-prod", "phase": "hosts"}

    out = io.StringIO()
    display = PlainDisplay(out)
    display.handle(event("run_start", run_id="r2", run_dir="/tmp/r2", phases=["hosts"], hosts=["m1"], check=False,
                         unfinished=prev))
    text = out.getvalue()
    assert "the last run 20261127-110000-prod never ended" in text
    assert "stopped in the hosts phase" in text and "--from hosts" in text


def _summary_of(operation: str, statuses: dict[str, str], again: str | None = None, state: str = "failed",
                rehearsal: bool = False) -> str:
    from types import SimpleNamespace

    from rich.console import Console

    from installer.endpoints import Endpoint
    from installer.progress import print_summary
    from installer.runner import PhaseResult, RunOptions

    run = SimpleNamespace(
        state=state, options=RunOptions(operation=operation, again=again, rehearsal=rehearsal),
        results=[PhaseResult(phase=name, status=status) for name, status in statuses.items()],
        run_dir=SimpleNamespace(run_id="r1", log_file="/tmp/r1/install.log", events_file="/tmp/r1/events.jsonl"),
        endpoints=lambda: [Endpoint("Marathon", "https://10.0.0.100/")])
    out = io.StringIO()
    print_summary(Console(file=out, width=200), run, "config.cfg")
    return out.getvalue()


def test_a_failed_operation_says_to_run_it_again_and_an_install_where_to_resume():
    text = _summary_of("restore", {"restore": "failed", "verify": "skipped"}, again="restore /backups/a.tar.gz")
    assert "Run it again after fixing the cause: ./install.sh config.cfg restore /backups/a.tar.gz" in text
    assert "--from" not in text  # `--from restore` is no install phase
    text = _summary_of("restore", {"restore": "successful", "verify": "failed"}, again="restore a.tar.gz")
    assert "./install.sh config.cfg --from verify" in text and "Run it again" not in text  # the data is back
    text = _summary_of("backup", {"backup": "running"}, again="backup --out /backups", state="canceled")
    assert "Run it again after fixing the cause: ./install.sh config.cfg backup --out /backups" in text
    text = _summary_of("uninstall", {"uninstall": "failed"}, again="uninstall --hosts agent2 --purge-data")
    assert ("Run it again after fixing the cause (what is gone stays gone): ./install.sh config.cfg uninstall "
            "--hosts agent2 --purge-data") in text
    text = _summary_of("install", {"repo": "successful", "hosts": "failed", "zookeeper": "skipped"})
    assert "Resume after fixing the cause: ./install.sh config.cfg --from hosts" in text


def test_a_rehearsals_runs_name_nothing_to_open_or_resume():
    """Its containers are removed after the run: an endpoint or a --from would send the operator
    to a cluster that is gone."""
    text = _summary_of("install", {"repo": "successful", "hosts": "failed"}, rehearsal=True)
    assert "Full log: /tmp/r1/install.log" in text and "Open:" not in text and "--from" not in text
    text = _summary_of("restore", {"restore": "failed"}, again="restore a.tar.gz", rehearsal=True)
    assert "Run it again" not in text
    assert "Open:" in _summary_of("install", {"repo": "successful"}, state="successful")


def test_each_operation_knows_the_command_that_runs_it_again():
    from pathlib import Path

    from installer.backup import run_options as backup_options
    from installer.config import load_config
    from installer.diagnostics import run_options as diagnostics_options

    top = Path(__file__).resolve().parents[2]
    cfg = load_config(top / "config.cfg.example")
    assert backup_options(cfg).again == "backup"
    assert backup_options(cfg, Path("/my backups")).again == "backup --out '/my backups'"
    hosts = cfg.all_hosts()
    assert diagnostics_options(cfg, hosts, "2h").again == "diagnostics --since 2h"
    from installer.uninstall import run_options as uninstall_options

    assert uninstall_options(cfg, hosts, purge_data=False).again == "uninstall"
    assert uninstall_options(cfg, hosts[-1:], purge_data=True).again == f"uninstall --hosts {hosts[-1].id} --purge-data"
    two = f"{hosts[0].id},{hosts[1].id}"
    assert diagnostics_options(cfg, hosts[:2], "1h").again == f"diagnostics --hosts {two} --since 1h"


def test_a_killed_operation_is_not_resumed_with_from():
    from installer.progress import unfinished_note

    note = unfinished_note({"unfinished": {"run_id": "r0", "phase": "restore"}})
    assert "--from" not in note and "Run that restore again first" in note and "stay stopped" in note
    note = unfinished_note({"unfinished": {"run_id": "r0", "phase": "backup"}})
    assert "--from" not in note and "Run that backup again first" in note
    assert "--from zookeeper" in unfinished_note({"unfinished": {"run_id": "r0", "phase": "zookeeper"}})


def test_the_survey_says_which_hosts_a_phase_left_out_and_a_phase_it_did_not_start():
    out = io.StringIO()
    display = PlainDisplay(out)
    for ev in (
        event("phase_start", phase="mesos", index=5, total=10, description="Mesos", converged=["agent1", "master2"],
              hosts=["agent3", "master1"]),
        event("phase_end", phase="mesos", status="successful", rc=0, duration=9.5, converged=["agent1", "master2"],
              counts={"agent3": {"ok": 20}}, failures=[]),
        event("phase_start", phase="zookeeper", index=4, total=10, description="ZooKeeper",
              converged=["master1", "master2"], hosts=[]),
        event("phase_end", phase="zookeeper", status="successful", rc=0, duration=0.0, converged=["master1", "master2"],
              counts={}, failures=[]),
    ):
        display.handle(ev)
    text = out.getvalue()
    assert "mesos | converged since the last run on agent1, master2; starts on agent3, master1" in text
    assert "phase mesos successful in 9.5s" in text
    assert "zookeeper | converged since the last run on every host (master1, master2): not started" in text
    assert "phase zookeeper not started (converged on every host)" in text
