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
