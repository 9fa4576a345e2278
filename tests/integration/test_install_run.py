"""A real ansible-runner run of the `hosts` phase against two test-bed containers over SSH
(as the sudo user dcos), through install.sh and through the Python API a portal uses."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from installer.runner import Run, RunOptions
from tests.integration import nodes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("install_run")]

TOP = Path(__file__).resolve().parents[2]
NETWORK, SUBNET = "dcos-it-run", "172.29.20.0/24"
INSTALLER_IP, MASTER_IP = "172.29.20.10", "172.29.20.11"
CONFIG = """[cluster]
name = itrun
ssh_user = dcos
ssh_key_file = id_ed25519

[installer]
it-installer = {installer}

[masters]
it-master = {master}

[agents]
it-master
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("itrun")
    key = nodes.ssh_keypair(folder)
    started = nodes.start({"it-installer": INSTALLER_IP, "it-master": MASTER_IP}, NETWORK, SUBNET, key)
    config = folder / "config.cfg"
    config.write_text(CONFIG.format(installer=INSTALLER_IP, master=MASTER_IP))
    yield {"config": config, "runs": folder / "runs", "nodes": {n.name: n for n in started}}
    nodes.remove([n.name for n in started], NETWORK)


def _install(cluster, *args, timeout=600):
    return subprocess.run([str(TOP / "install.sh"), str(cluster["config"]), "--runs-dir", str(cluster["runs"]),
                           *args], capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_install_sh_runs_the_hosts_phase_and_summarises_it(cluster):
    proc = _install(cluster, "--phases", "hosts", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "phase 1/1 hosts" in out and "Install chrony" in out
    assert "│ hosts │ successful │" in out
    latest = (cluster["runs"] / "latest").resolve()
    assert f"Full log: {latest / 'install.log'}" in out
    events = _events(latest)
    assert [e["type"] for e in events][:4] == ["run_start", "precheck_start", "precheck_end", "phase_start"]
    precheck = events[2]
    assert precheck["passed"] and precheck["summary"]["fail"] == 0
    assert json.loads((latest / "precheck.json").read_text())["summary"] == precheck["summary"]
    assert "Precheck" in out and "precheck passed" in out
    assert events[-1] == {**events[-1], "type": "run_end", "status": "successful", "exit_code": 0}
    phase_end = next(e for e in events if e["type"] == "phase_end")
    assert set(phase_end["counts"]) == {"it-installer", "it-master"}
    assert phase_end["counts"]["it-master"]["changed"] > 0
    assert json.loads((latest / "summary.json").read_text())["status"] == "successful"
    # What an operator checks by hand: the master is initialised, runs Docker, and follows the
    # installer host's clock.
    master = cluster["nodes"]["it-master"]
    assert master.sh("hostname").strip() == "it-master"
    assert master.sh("getent ahostsv4 it-installer").split()[0] == INSTALLER_IP
    assert master.sh("docker info --format '{{.Driver}}'").strip() == "overlay2"
    assert '"version": "0.1.0"' in master.sh("cat /etc/ansible/facts.d/dcos_common.fact")
    sources = master.sh("chronyc -n -c sources")
    assert any(line.split(",")[1:3] == ["*", INSTALLER_IP] for line in sources.splitlines()), sources
    # Secrets were generated once, kept private, and no run file holds one.
    secrets = cluster["runs"] / "secrets" / "itrun.yml"
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    values = [v for v in yaml.safe_load(secrets.read_text()).values()]
    everything = "".join(p.read_text(errors="replace") for p in latest.rglob("*") if p.is_file())
    assert values and not any(v in everything or v in out for v in values)


def test_an_api_dry_run_of_the_installed_hosts_plans_no_change_and_streams_the_events(cluster):
    """The portal's dry run: the same Run, check mode, through the Python API. (The real re-run
    that changes nothing, through the CLI and the API, is the e2e cluster's: a second real run
    of this phase here would only add time.)"""
    seen = []
    run = Run.start(cluster["config"], RunOptions(phases=["hosts"], runs_dir=cluster["runs"], check=True))
    run.subscribe(seen.append)
    events = list(run.events(timeout=600))
    assert run.wait(5) == 0
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["run_start", "precheck_start", "precheck_end", "phase_start"]
    assert events[0]["check"] is True
    assert kinds[-2:] == ["phase_end", "run_end"]
    assert "task_start" in kinds and "host_result" in kinds
    assert kinds.index("task_start") < kinds.index("host_result")
    phase_end = events[-2]
    assert phase_end["status"] == "successful"
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in phase_end["counts"].values()), phase_end["counts"]
    assert all(c["ok"] > 0 for c in phase_end["counts"].values()), phase_end["counts"]
    status = run.status()
    assert status.state == "successful" and status.phases[0].status == "successful"
    assert seen and seen[-1]["type"] == "run_end"  # subscribers got the tail of the same stream
    assert _events(status.run_dir) == events  # and the file holds exactly what was streamed


def test_a_failing_task_exits_1_naming_the_host_and_the_message(cluster):
    master = cluster["nodes"]["it-master"]
    # Make chrony impossible to install on the master only: purge it and pin it away.
    master.sh("apt-get purge -y -q chrony >/dev/null 2>&1; printf 'Package: chrony\\nPin: release *\\n"
              "Pin-Priority: -1\\n' > /etc/apt/preferences.d/no-chrony")
    try:
        proc = _install(cluster, "--phases", "hosts", "--yes")
    finally:
        master.sh("rm -f /etc/apt/preferences.d/no-chrony")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "│ hosts │ failed │" in out
    failure_lines = [line for line in out.splitlines() if line.strip().startswith("it-master  [hosts] Install chrony")]
    assert failure_lines and "no available installation candidate for chrony" in failure_lines[0], out
    assert f"./install.sh {cluster['config']} --from hosts" in out
    events = _events((cluster["runs"] / "latest").resolve())
    failed = [e for e in events if e["type"] == "host_result" and e["status"] == "failed"]
    assert [e["host"] for e in failed] == ["it-master"]
    assert events[-1]["status"] == "failed" and events[-1]["exit_code"] == 1


def test_ctrl_c_stops_the_run_and_says_how_to_resume(cluster):
    # SIGINT as a terminal's shell gives it: a test session started in the background of a
    # non-interactive shell (`cmd &`) inherits SIGINT ignored, which exec keeps and Python then
    # respects; a handler of ours here is reset to the default in the child instead.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([str(TOP / "install.sh"), str(cluster["config"]), "--runs-dir",
                                 str(cluster["runs"]), "--phases", "hosts", "--yes"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    before = set(cluster["runs"].iterdir())
    deadline = time.time() + 120
    started = False
    while time.time() < deadline and not started:
        time.sleep(0.5)
        new = [p for p in set(cluster["runs"].iterdir()) - before if p.is_dir()]
        if new and (new[0] / "events.jsonl").exists():
            started = any(e["type"] == "task_start" for e in _events(new[0]))
    assert started, "the run never started a task"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Resume after fixing the cause" in out and "--from hosts" in out
    run_dir = next(p for p in set(cluster["runs"].iterdir()) - before if p.is_dir())
    assert _events(run_dir)[-1]["status"] == "canceled"


def test_another_controller_is_kept_out_by_the_installer_hosts_lock(cluster):
    """Two controllers never run against one cluster: a run of another controller holds the lock
    on the installer host, so this one exits 2 naming it, leaves no run behind, and runs once it
    is gone. A finished run leaves no lock."""
    installer = cluster["nodes"]["it-installer"]
    assert installer.sh("test -e /var/lib/dcos-installer/run.lock && echo held || echo free").strip() == "free"
    installer.sh("mkdir -p /var/lib/dcos-installer/run.lock && "
                 "echo 'other-controller 20260101-000000-itrun laptop-b 4242' > /var/lib/dcos-installer/run.lock/owner")
    before = {p for p in cluster["runs"].iterdir() if p.is_dir()}
    try:
        proc = _install(cluster, "--phases", "hosts", "--yes")
    finally:
        installer.sh("rm -rf /var/lib/dcos-installer/run.lock")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "run 20260101-000000-itrun from laptop-b (pid 4242)" in proc.stderr
    assert {p for p in cluster["runs"].iterdir() if p.is_dir()} == before
    # Once it is gone, a run takes the lock, runs and gives it back (a diagnostics run, with the
    # machine-readable output: what a phase does after the lock is the other tests').
    again = _install(cluster, "diagnostics", "--out", str(cluster["runs"].parent / "diag"), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert events[0]["type"] == "run_start" and events[-1]["type"] == "run_end", events
    assert events[-1]["exit_code"] == 0 and events[-1]["status"] == "successful", events[-1]
    assert list((cluster["runs"].parent / "diag").glob("*.tar.gz")), "no diagnostics archive"
    assert installer.sh("test -e /var/lib/dcos-installer/run.lock && echo held || echo free").strip() == "free"
