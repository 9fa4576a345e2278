"""The portal's API (installer.api.start_run / installer.runner.Run) on its error paths: the
cluster lock is released whatever goes wrong, a finished run never blocks the next, a run
stopped during the precheck ends canceled (130), runs_dir may be a str or a Path, and two runs
of one process never share a temporary name. Ansible itself is not run here: the phase
runner is replaced where a test needs a run to exist."""

import fcntl
import os
import threading
from pathlib import Path

import pytest

from installer import playbook, runner
from installer.api import EXIT_INTERRUPTED, RunBusy, start_run
from installer.rundir import create_run_dir
from installer.secrets import Scrubber, ensure_secrets

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"


def _lock_is_free(runs: Path, cluster: str = "demo") -> bool:
    fd = os.open(runs / f".lock-{cluster}", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def no_installer_host(monkeypatch):
    """The example's installer host does not exist here: its lock is not asked for (tested on
    its own below and in the integration tests)."""
    monkeypatch.setattr(runner.Run, "_installer_host_lock", lambda self, script: "")


@pytest.fixture
def quiet_run(monkeypatch):
    """Runs end at once, successfully, without Ansible."""
    def main(self):
        try:
            self._finish("successful", 0, None)
        finally:
            self._queue.put(None)
            self._lock.release()
            self._done.set()

    monkeypatch.setattr(runner.Run, "_main", main)


def test_a_damaged_secrets_file_fails_the_start_and_releases_the_lock(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "demo.yml").write_text("consul_gossip_key: [unclosed\n")
    for _ in range(2):  # the second start meets the same error, never "another run is in progress"
        with pytest.raises(Exception) as caught:
            start_run(EXAMPLE, runs_dir=tmp_path)
        assert not isinstance(caught.value, RunBusy)
    assert _lock_is_free(tmp_path)


def test_a_finished_run_never_blocks_the_next_and_runs_dir_may_be_a_str(tmp_path, quiet_run):
    first = start_run(EXAMPLE, runs_dir=str(tmp_path))
    assert first.wait(30) == 0
    assert _lock_is_free(tmp_path)
    second = start_run(EXAMPLE, runs_dir=tmp_path)
    assert second.wait(30) == 0
    assert first.run_dir.path != second.run_dir.path
    assert (tmp_path / "latest").resolve() == second.run_dir.path


def test_a_running_run_blocks_another_of_the_same_cluster(tmp_path, monkeypatch):
    release = threading.Event()

    def main(self):
        release.wait(30)
        self._queue.put(None)
        self._lock.release()
        self._done.set()

    monkeypatch.setattr(runner.Run, "_main", main)
    first = start_run(EXAMPLE, runs_dir=tmp_path)
    try:
        with pytest.raises(RunBusy):
            start_run(EXAMPLE, runs_dir=tmp_path)
    finally:
        release.set()
        first.wait(30)
    assert _lock_is_free(tmp_path)


def test_cancel_during_the_precheck_ends_canceled_with_130(tmp_path, monkeypatch):
    def precheck(self):
        self._cancel.wait(30)  # a precheck still gathering when the operator cancels
        return False

    monkeypatch.setattr(runner.Run, "_run_precheck", precheck)
    run = start_run(EXAMPLE, runs_dir=tmp_path, phases=["verify"])
    run.cancel()
    assert run.wait(30) == EXIT_INTERRUPTED
    assert run.state == "canceled"
    assert _lock_is_free(tmp_path)


def test_two_runs_of_one_process_never_share_a_temporary_name(tmp_path):
    from installer.config import load_config

    cfg = load_config(EXAMPLE)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    runs = [create_run_dir(cfg, tmp_path, secrets_file, run_id="20260101-000000-demo") for _ in range(3)]
    assert len({r.path for r in runs}) == 3
    assert not list(tmp_path.glob(".latest-*"))
    assert (tmp_path / "latest").resolve() == runs[-1].path


def test_a_phase_that_times_out_names_the_hosts_still_busy(tmp_path, monkeypatch):
    """ansible-runner stops a phase at [cluster] phase_timeout (status timeout): the failure
    names each host whose task had started and not ended, and the run ends failed."""
    import threading as th

    calls = {}

    class FakeRunner:
        status, rc = "timeout", 254

    def run_async(**kwargs):
        calls.update(kwargs)
        handler = kwargs["event_handler"]

        def work():
            handler({"event": "runner_on_start", "event_data": {"host": "agent2", "task": "Install Docker"}})
            handler({"event": "runner_on_start", "event_data": {"host": "agent1", "task": "Install Docker"}})
            handler({"event": "runner_on_ok", "event_data": {"host": "agent1", "task": "Install Docker"}})

        thread = th.Thread(target=work)
        thread.start()
        return thread, FakeRunner()

    monkeypatch.setattr(playbook.ansible_runner, "run_async", run_async)
    run = start_run(EXAMPLE, runs_dir=tmp_path, phases=["hosts"], precheck=False)
    assert run.wait(30) == 1
    hosts = run.results[0]
    assert hosts.status == "timeout"
    assert [(f["host"], f["status"]) for f in hosts.failures] == [("agent2", "timeout")]
    assert "phase_timeout = 7200 s" in hosts.failures[0]["msg"]
    assert calls["timeout"] == 7200 and calls["envvars"]["ANSIBLE_TASK_TIMEOUT"] == "1800"


def test_a_failed_task_run_for_another_host_names_that_host_and_reads_its_journal(tmp_path, monkeypatch):
    """A rolling restart runs once from one host and delegates each member's restart: the
    failure (and the journal read for it) is the member's, not the host the task ran from."""
    import threading as th

    class FakeRunner:
        status, rc = "failed", 2

    item = {"failed": True, "_ansible_delegated_vars": {"ansible_host": "10.0.0.12", "ansible_port": 22},
            "msg": "Unable to restart service dcos-mesos-master: Job for dcos-mesos-master.service failed"}
    data = {"host": "master1", "task": "Restart the unit on master2", "task_uuid": "t-1"}

    def run_async(**kwargs):
        handler = kwargs["event_handler"]

        def work():
            handler({"event": "runner_item_on_failed", "event_data": {**data, "res": item}})
            handler({"event": "runner_on_failed", "event_data": {
                **data, "res": {"msg": "One or more items failed", "results": [item]}}})

        thread = th.Thread(target=work)
        thread.start()
        return thread, FakeRunner()

    asked = []
    monkeypatch.setattr(playbook.ansible_runner, "run_async", run_async)
    monkeypatch.setattr(playbook.Ansible, "command",
                        lambda self, hosts, script, ident, **kw: asked.append((hosts, script)) or ["--- journalctl"])
    run = start_run(EXAMPLE, runs_dir=tmp_path, phases=["hosts"], precheck=False)
    assert run.wait(30) == 1
    failure, = run.results[0].failures
    assert (failure["host"], failure["from"]) == ("master2", "master1")
    assert failure["msg"].startswith("Unable to restart service dcos-mesos-master")
    assert [h for h, script in asked if "journalctl -u dcos-mesos-master" in script] == ["master2"]


def test_a_killed_installer_takes_its_playbook_and_workers_with_it(tmp_path):
    """installer/bin/ansible-playbook (first in every run's PATH): when the process that started
    it dies by SIGKILL, the playbook and its worker processes get SIGTERM and end."""
    import signal
    import subprocess
    import sys
    import time

    from installer.runner import BOUND_BIN

    (tmp_path / "play.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 120\n")
    marker = f"{tmp_path}/play.yml"
    venv = Path(sys.executable).parent
    env = dict(os.environ, PATH=os.pathsep.join([str(BOUND_BIN), str(venv), os.environ.get("PATH", "")]),
               DCOS_ANSIBLE_PLAYBOOK=str(venv / "ansible-playbook"))
    installer = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         f"subprocess.Popen(['ansible-playbook', {marker!r}], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
         "time.sleep(120)"], env=env)

    def playbooks():
        pids = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if marker.encode() in (proc / "cmdline").read_bytes():
                        pids.append(int(proc.name))
                except OSError:
                    pass
        return pids

    deadline = time.time() + 30
    while len(playbooks()) < 3 and time.time() < deadline:  # wrapper, playbook, a worker
        time.sleep(0.2)
    assert len(playbooks()) >= 3, playbooks()
    os.kill(installer.pid, signal.SIGKILL)
    installer.wait()
    deadline = time.time() + 20
    while playbooks() and time.time() < deadline:
        time.sleep(0.2)
    assert playbooks() == []


def _lock_script(script: str, lock_dir: Path) -> str:
    import subprocess

    from installer.hostlock import LOCK_DIR

    return subprocess.run(["sh", "-c", script.replace(LOCK_DIR, str(lock_dir))], capture_output=True, text=True,
                          check=False).stdout.strip().splitlines()[-1]


def test_the_installer_host_lock_keeps_out_another_controller(tmp_path):
    from installer.hostlock import Owner, refusal, release_script, take_script

    lock = tmp_path / "var" / "run.lock"
    mine = Owner("ctrl-a", "20260101-000000-demo", "laptop-a", 100)
    again = Owner("ctrl-a", "20260101-000500-demo", "laptop-a", 200)  # the same controller, later
    other = Owner("ctrl-b", "20260101-000600-demo", "laptop-b", 300)
    assert _lock_script(take_script(mine), lock) == "TAKEN"
    held = _lock_script(take_script(other), lock)
    assert held.startswith("HELD ctrl-a 20260101-000000-demo laptop-a 100 ")
    message = refusal(held.removeprefix("HELD").strip(), "installer")
    assert "run 20260101-000000-demo from laptop-a (pid 100)" in message and "rm -rf" in message
    # Its own killed run's lock: taken over (the controller's own lock proves that run is gone).
    assert _lock_script(take_script(again), lock) == "RETAKEN"
    assert _lock_script(release_script(mine), lock) == "KEPT"  # not that run's any more
    assert _lock_script(release_script(again), lock) == "RELEASED"
    assert not lock.exists()
    assert _lock_script(take_script(other), lock) == "TAKEN"


def test_the_installers_own_ad_hoc_commands_leave_ctrl_c_alone(monkeypatch, tmp_path):
    """ansible-runner takes over SIGINT and SIGTERM of the main thread for good when it is given
    no cancel callback: every ad-hoc call of the runner gives one, so Ctrl-C still stops a run."""
    import signal
    import threading
    import types

    seen = []

    def run(**kwargs):
        seen.append(kwargs)
        from ansible_runner.utils import signal_handler

        if kwargs.get("cancel_callback") is None:  # what ansible-runner's own init does
            signal_handler()

    monkeypatch.undo()  # the real _installer_host_lock, not the autouse stub
    monkeypatch.setattr(playbook.ansible_runner, "run", run)
    before = signal.getsignal(signal.SIGINT)
    cfg = types.SimpleNamespace(installer=types.SimpleNamespace(id="installer"),
                                cluster=types.SimpleNamespace(task_timeout=60))
    ansible = playbook.Ansible(cfg, types.SimpleNamespace(path=tmp_path), Scrubber(()), None, threading.Event().is_set)
    fake = types.SimpleNamespace(cfg=cfg, _ansible=ansible)
    runner.Run._installer_host_lock(fake, "true")
    assert seen and all(callable(k.get("cancel_callback")) for k in seen)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_finished_run_leaves_only_private_files_and_the_process_umask_alone(tmp_path, monkeypatch):
    """ansible-runner writes its artifacts from the calling process with that process's umask
    (a portal's, which a run must not change): when the run ends, every file under its folder
    is 0600 and every folder 0700, and the project link into the installer's tree is not
    followed."""
    def phase(self, phase, result, index):
        artifacts = self.run_dir.path / "artifacts" / phase.name
        artifacts.mkdir(parents=True)
        (artifacts / "stdout").write_text("what ansible-runner writes")
        (artifacts / "stdout").chmod(0o644)
        artifacts.chmod(0o755)
        result.status = "successful"

    monkeypatch.setattr(runner.Run, "_run_phase", phase)
    before = os.umask(0o022)
    try:
        run = start_run(EXAMPLE, runs_dir=tmp_path, phases=["hosts"], precheck=False)
        assert run.wait(60) == 0
        assert os.umask(0o022) == 0o022  # unchanged by the run
    finally:
        os.umask(before)
    files = [p for p in run.run_dir.path.rglob("*") if not p.is_symlink()]
    assert run.run_dir.path / "artifacts" / "hosts" / "stdout" in files
    loose = [(str(p), oct(p.stat().st_mode & 0o777)) for p in files if p.stat().st_mode & 0o077]
    assert loose == []
    assert (run.run_dir.path / "project").is_symlink()
    assert (TOP / "playbooks").stat().st_mode & 0o055 == 0o055  # the link's target untouched


def test_a_killed_run_is_made_private_by_the_next(tmp_path, quiet_run):
    """A run killed half-way never reached its end: the next run of the cluster makes its
    files private before it starts."""
    first = start_run(EXAMPLE, runs_dir=tmp_path)
    assert first.wait(30) == 0
    events = first.run_dir.events_file
    events.write_text("\n".join(line for line in events.read_text().splitlines() if '"run_end"' not in line) + "\n")
    left = first.run_dir.path / "artifacts" / "hosts"
    left.mkdir(parents=True)
    (left / "stdout").write_text("what a killed run left")
    (left / "stdout").chmod(0o644)
    second = start_run(EXAMPLE, runs_dir=tmp_path)
    assert second.wait(30) == 0
    assert second.unfinished and second.unfinished["run_id"] == first.run_dir.run_id
    assert (left / "stdout").stat().st_mode & 0o777 == 0o600


def test_every_units_journal_keeps_its_header_and_its_last_lines():
    """Two stopped units on one host, the first with a long journal (a Java stack trace): the
    summary still shows both headers and both journals' last lines, within the budget."""
    long = "--- journalctl -u zookeeper\n" + "".join(f"zk line {i} " + "x" * 200 + "\n" for i in range(40))
    short = "--- journalctl -u dcos-marathon\n" + "".join(f"marathon line {i}\n" for i in range(20))
    cut = runner._journal_tails(long + short)
    assert len(cut) <= 4100
    assert cut.startswith("--- journalctl -u zookeeper\n") and "\n--- journalctl -u dcos-marathon\n" in cut
    assert "zk line 39" in cut and "zk line 0 " not in cut
    assert "marathon line 0\n" in cut and cut.endswith("marathon line 19")
    assert runner._journal_tails("-- No entries --") == "-- No entries --"


def test_the_survey_starts_a_phase_only_where_it_has_work_and_none_where_it_has_none(tmp_path, monkeypatch):
    """What the precheck's survey found converged (under the input the run gives now) is left
    out: a phase with no work is not started at all (successful, no counts, its hosts named),
    one with work starts on those hosts only (its --limit); a changed input undoes the survey."""
    import threading as th

    class FakeRunner:
        status, rc = "successful", 0

    started = {}

    def run_async(**kwargs):
        started[kwargs["playbook"]] = kwargs.get("limit")
        thread = th.Thread(target=lambda: None)
        thread.start()
        return thread, FakeRunner()

    def precheck(self):  # the survey's answer: every role converged but agent2's Mesos agent
        self._converged = {host: {role: digest for role, digest in roles.items()
                                  if (host, role) != ("agent2", "mesos_agent")}
                           for host, roles in self.run_dir.stamp_inputs.items()}
        self._converged["master1"]["marathon"] = "the input before an earlier phase changed it"
        return True

    monkeypatch.setattr(playbook.ansible_runner, "run_async", run_async)
    monkeypatch.setattr(runner.Run, "_run_precheck", precheck)
    run = start_run(EXAMPLE, runs_dir=tmp_path, phases=["zookeeper", "mesos", "marathon"])
    seen = list(run.events(timeout=30))
    assert run.wait(30) == 0
    zookeeper, mesos, marathon = run.results
    assert "zookeeper.yml" not in started
    assert zookeeper.status == "successful" and zookeeper.counts == {}
    assert zookeeper.converged == ["master1", "master2", "master3"]
    assert started["mesos.yml"] == "agent2,master1"  # the agent, and the leader's check of it
    assert mesos.converged == ["agent1", "master2", "master3"]
    assert started["marathon.yml"] == "master1"
    ends = {e["phase"]: e for e in seen if e["type"] == "phase_end"}
    assert ends["zookeeper"]["counts"] == {} and ends["zookeeper"]["converged"] == zookeeper.converged
    assert ends["marathon"]["converged"] == marathon.converged == ["master2", "master3"]
