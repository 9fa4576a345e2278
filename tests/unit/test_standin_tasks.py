"""Tasks through the stand-ins (demo/standins/): the Marathon stand-in runs an app's instance on a
Mesos stand-in agent (a real process in its sandbox), the master shows it, maintenance moves it
(schedule, machine/down, machine/up), MARK_AGENT_GONE removes an agent, an agent restart and a
master restart keep the task. One standalone master, two agents, one Marathon, no ZooKeeper;
the steps build on each other (module-scoped cluster, tests in file order)."""

import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
SBIN = TOP / "demo/standins/mesos/package/usr/sbin"
MARATHON = TOP / "demo/standins/marathon/package/usr/share/marathon/bin/marathon"
APP = {"id": "/unit/sleeper", "cmd": "echo $$ > task.pid; exec sleep 300", "cpus": 0.1, "mem": 32, "instances": 1}
JSON = {"Content-Type": "application/json"}
# The steps build on one cluster and on the app the first one posts: one worker runs them all,
# in file order (./test.sh runs pytest -n 2 --dist loadgroup).
pytestmark = pytest.mark.xdist_group("standin_tasks")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        conn.request(method, path, body=data, headers=dict(headers or ({} if data is None else JSON)))
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw
    finally:
        conn.close()


def _wait(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


class Cluster:
    def __init__(self, work):
        self.work = work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_", "MARATHON_"))}
        self.env["STANDIN_MESOS_FLAGS_DIR"] = str(TOP / "demo/standins/reference/mesos-1.11.0")
        self.env["STANDIN_MARATHON_FLAGS_DIR"] = str(TOP / "demo/standins/reference/marathon")
        self.master_port = _free_port()
        self.agent_ports = {"agent-a": _free_port(), "agent-b": _free_port()}
        self.procs = {}
        self.marathon_port = _free_port()

    def start(self, name, args, log_name=None):
        log = (self.work / f"{log_name or name}.log").open("a")
        self.procs[name] = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        return self.procs[name]

    def start_master(self):
        self.start("master", [sys.executable, str(SBIN / "mesos-master"), "--ip=127.0.0.1",
                              f"--port={self.master_port}", f"--work_dir={self.work}/master"])
        _wait(lambda: _request(self.master_port, "GET", "/metrics/snapshot")[1]["master/elected"] == 1.0, 10,
              "the master")

    def start_agent(self, name):
        return self.start(name, [sys.executable, str(SBIN / "mesos-agent"), "--ip=127.0.0.1",
                                 f"--port={self.agent_ports[name]}", f"--hostname={name}",
                                 f"--work_dir={self.work}/{name}", f"--master=127.0.0.1:{self.master_port}",
                                 "--resources=cpus:1;mem:512;disk:1024"])

    def start_marathon(self):
        lib = self.work / "libmesos.so"
        lib.write_text("stub\n")
        self.env["MESOS_NATIVE_JAVA_LIBRARY"] = str(lib)
        self.start("marathon", [str(MARATHON), "--disable_ha", "--master", f"127.0.0.1:{self.master_port}",
                                "--http_port", str(self.marathon_port), "--hostname", "127.0.0.1",
                                "--http_address", "127.0.0.1"])
        self.env.pop("MESOS_NATIVE_JAVA_LIBRARY")

    def stop(self):
        for name, proc in self.procs.items():
            if name.startswith("agent") and proc.poll() is None:
                proc.send_signal(signal.SIGUSR1)  # the agent kills its tasks
        for name, proc in self.procs.items():
            if name.startswith("agent"):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(8)
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
        for path in self.work.glob("agent-*/meta/slaves/*/standin-tasks/*.json"):  # whatever is left
            pid = json.loads(path.read_text()).get("pid")
            if pid and _alive(pid):
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)

    # -- views ---------------------------------------------------------------------------------
    def state(self):
        return _request(self.master_port, "GET", "/master/state")[1]

    def agent_id(self, name):
        return next((s["id"] for s in self.state()["slaves"] if s["hostname"] == name and s["active"]), None)

    def marathon_app(self):
        return _request(self.marathon_port, "GET", "/v2/apps/unit/sleeper")[1]["app"]

    def running(self, replacing=None):
        """The app's running tasks as Marathon shows them; with `replacing`, once that one is gone."""
        tasks = [t for t in self.marathon_app()["tasks"] if t["state"] == "TASK_RUNNING"]
        if replacing is not None and any(t["id"] == replacing["id"] for t in tasks):
            return []
        return tasks

    def sandbox_pid(self, name, task_id):
        state = _request(self.agent_ports[name], "GET", "/state")[1]
        for framework in state["frameworks"]:
            for executor in framework["executors"]:
                if executor["id"] == task_id:
                    pid_file = Path(executor["directory"]) / "task.pid"
                    return int(pid_file.read_text()) if pid_file.exists() else None
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("tasks"))
    try:
        c.start_master()
        c.start_agent("agent-a")
        c.start_agent("agent-b")
        _wait(lambda: c.agent_id("agent-a") and c.agent_id("agent-b"), 10, "two agents")
        c.start_marathon()
        _wait(lambda: any(f["name"] == "marathon" for f in c.state()["frameworks"]), 15, "Marathon's framework")
        yield c
    finally:
        c.stop()


def _machine(name):
    return {"hostname": name, "ip": "127.0.0.1"}


def test_an_app_instance_runs_as_a_process_on_an_agent(cluster):
    status, created = _request(cluster.marathon_port, "POST", "/v2/apps", APP)
    assert status == 201 and created["tasksRunning"] == 0
    task = _wait(lambda: cluster.running(), 10, "a running task")[0]
    host = task["host"]
    assert host in ("agent-a", "agent-b") and task["appId"] == "/unit/sleeper"
    assert task["id"].startswith("unit_sleeper.") and task["slaveId"] == cluster.agent_id(host)
    assert set(task) >= {"id", "appId", "host", "slaveId", "state", "stagedAt", "startedAt", "version"}
    pid = _wait(lambda: cluster.sandbox_pid(host, task["id"]), 5, "the task's pid file")
    assert _alive(pid) and b"sleep" in Path(f"/proc/{pid}/cmdline").read_bytes()
    app = cluster.marathon_app()
    assert (app["tasksRunning"], app["tasksStaged"], len(app["tasks"])) == (1, 0, 1)
    assert _request(cluster.marathon_port, "GET", "/v2/apps/unit/sleeper/tasks")[1]["tasks"] == app["tasks"]
    assert [t["id"] for t in _request(cluster.marathon_port, "GET", "/v2/tasks")[1]["tasks"]] == [task["id"]]
    listed = _request(cluster.marathon_port, "GET", "/v2/apps?embed=apps.tasks")[1]["apps"][0]
    assert listed["tasksRunning"] == 1 and listed["tasks"][0]["id"] == task["id"]

    state = cluster.state()
    framework = next(f for f in state["frameworks"] if f["name"] == "marathon")
    (mesos_task,) = framework["tasks"]
    assert {k: mesos_task[k] for k in ("id", "framework_id", "slave_id", "state")} == {
        "id": task["id"], "framework_id": framework["id"], "slave_id": task["slaveId"], "state": "TASK_RUNNING"}
    assert mesos_task["resources"]["cpus"] == 0.1 and mesos_task["resources"]["mem"] == 32.0
    assert [s["state"] for s in mesos_task["statuses"]] == ["TASK_STAGING", "TASK_RUNNING"]
    assert framework["capabilities"] == ["PARTITION_AWARE"] and framework["used_resources"]["cpus"] == 0.1
    slave = next(s for s in state["slaves"] if s["id"] == task["slaveId"])
    assert slave["used_resources"]["cpus"] == 0.1 and slave["used_resources"]["mem"] == 32.0
    assert [t["id"] for t in _request(cluster.master_port, "GET", "/master/tasks")[1]["tasks"]] == [task["id"]]
    summary = _request(cluster.master_port, "GET", "/master/state-summary")[1]
    assert next(s for s in summary["slaves"] if s["id"] == task["slaveId"])["TASK_RUNNING"] == 1
    assert next(f for f in summary["frameworks"] if f["id"] == framework["id"])["TASK_RUNNING"] == 1
    metrics = _request(cluster.master_port, "GET", "/metrics/snapshot")[1]
    assert metrics["master/tasks_running"] == 1.0 and metrics["master/cpus_used"] == 0.1
    agent_metrics = _request(cluster.agent_ports[host], "GET", "/metrics/snapshot")[1]
    assert agent_metrics["slave/tasks_running"] == 1.0 and agent_metrics["slave/mem_used"] == 32.0


def test_an_agent_restart_keeps_the_running_task(cluster):
    (task,) = cluster.running()
    host = task["host"]
    pid = cluster.sandbox_pid(host, task["id"])
    cluster.procs[host].send_signal(signal.SIGTERM)
    assert cluster.procs[host].wait(5) == 0
    assert _alive(pid)  # KillMode=process: the task outlives the agent
    cluster.start_agent(host)
    _wait(lambda: cluster.agent_id(host) == task["slaveId"], 10, "the agent back with its ID")
    time.sleep(2)
    assert [t["id"] for t in cluster.running()] == [task["id"]] and _alive(pid)
    assert [t["state"] for f in cluster.state()["frameworks"] for t in f["tasks"]] == ["TASK_RUNNING"]


def test_maintenance_refusals(cluster):
    (task,) = cluster.running()
    machine = _machine(task["host"])
    text = json.dumps(machine, separators=(",", ":"))
    status, body = _request(cluster.master_port, "POST", "/master/machine/down", [machine])
    assert (status, body) == (400, f"Machine '{text}' is not part of a maintenance schedule".encode())
    status, body = _request(cluster.master_port, "POST", "/master/machine/up", [machine])
    assert (status, body) == (400, f"Machine '{text}' is not part of a maintenance schedule".encode())
    assert _request(cluster.master_port, "POST", "/master/machine/down", [])[1] == b"List of machines is empty"
    assert _request(cluster.master_port, "POST", "/master/machine/down", [{}])[1] == (
        b"Both 'hostname' and 'ip' for a machine are empty")
    assert _request(cluster.master_port, "GET", "/master/machine/down")[0] == 405
    assert _request(cluster.master_port, "GET", "/master/maintenance/status") == (200, {})


def test_machine_down_moves_the_task_and_machine_up_returns_the_machine(cluster):
    (task,) = cluster.running()
    host, other = task["host"], ({"agent-a", "agent-b"} - {task["host"]}).pop()
    pid = cluster.sandbox_pid(host, task["id"])
    machine = _machine(host)
    now_ns = time.time_ns()
    schedule = {"windows": [{"machine_ids": [machine], "unavailability": {"start": {"nanoseconds": now_ns}}}]}
    assert _request(cluster.master_port, "POST", "/master/maintenance/schedule", schedule)[0] == 200
    assert _request(cluster.master_port, "GET", "/master/maintenance/status") == (
        200, {"draining_machines": [{"id": machine}]})
    status, body = _request(cluster.master_port, "POST", "/master/machine/up", [machine])
    text = json.dumps(machine, separators=(",", ":"))
    assert (status, body) == (400, f"Machine '{text}' is not in DOWN mode and cannot be brought up".encode())

    started = time.monotonic()
    assert _request(cluster.master_port, "POST", "/master/machine/down", [machine]) == (200, b"")
    lost = next(t for f in cluster.state()["frameworks"] for t in f["completed_tasks"] if t["id"] == task["id"])
    assert lost["state"] == "TASK_LOST"
    assert cluster.agent_id(host) is None and all(s["hostname"] != host for s in cluster.state()["slaves"])
    assert cluster.procs[host].wait(10) == 0  # the agent was told to shut down
    assert not _alive(pid)
    moved = _wait(lambda: cluster.running(replacing=task), 20, "the instance on the other agent")[0]
    assert moved["host"] == other
    assert time.monotonic() - started < 20
    call = {"type": "GET_MAINTENANCE_STATUS"}
    assert _request(cluster.master_port, "POST", "/api/v1", call, JSON) == (200, {
        "type": "GET_MAINTENANCE_STATUS", "get_maintenance_status": {"status": {"down_machines": [machine]}}})
    metrics = _request(cluster.master_port, "GET", "/metrics/snapshot")[1]
    assert metrics["master/tasks_lost"] == 1.0 and metrics["master/slave_removals"] == 1.0

    # A restarted agent on the DOWN machine is refused and shuts down again.
    cluster.start_agent(host)
    assert cluster.procs[host].wait(10) == 0
    assert "because 'Machine is `DOWN`'" in (cluster.work / f"{host}.log").read_text()

    assert _request(cluster.master_port, "POST", "/master/machine/up", [machine]) == (200, b"")
    assert _request(cluster.master_port, "GET", "/master/maintenance/status") == (200, {})
    assert _request(cluster.master_port, "GET", "/master/maintenance/schedule") == (200, {})
    cluster.start_agent(host)
    back = _wait(lambda: cluster.agent_id(host), 10, "the agent registered again")
    assert back != task["slaveId"]  # its 'latest' link went with the shutdown: a new agent
    time.sleep(1.5)
    assert [t["id"] for t in cluster.running()] == [moved["id"]]  # nothing moves back


def test_mark_agent_gone_removes_the_agent(cluster):
    (task,) = cluster.running()
    host = task["host"]
    pid = cluster.sandbox_pid(host, task["id"])
    call = {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": task["slaveId"]}}}
    assert _request(cluster.master_port, "POST", "/api/v1", call, JSON) == (200, b"")
    state = cluster.state()
    assert all(s["id"] != task["slaveId"] for s in state["slaves"])
    gone = next(t for f in state["frameworks"] for t in f["completed_tasks"] if t["id"] == task["id"])
    assert gone["state"] == "TASK_GONE_BY_OPERATOR"
    assert _request(cluster.master_port, "GET", "/metrics/snapshot")[1]["master/tasks_gone_by_operator"] == 1.0
    assert cluster.procs[host].wait(10) == 0 and not _alive(pid)
    moved = _wait(lambda: cluster.running(replacing=task), 20, "the instance on the other agent")[0]
    assert moved["host"] != host
    assert _request(cluster.master_port, "POST", "/api/v1", call, JSON) == (200, b"")  # idempotent
    nope = {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "nope"}}}
    assert _request(cluster.master_port, "POST", "/api/v1", nope, JSON) == (404, b"Agent 'nope' not found")
    # The gone agent calls again with its ID: refused, told to shut down.
    again = {"id": task["slaveId"], "hostname": host, "pid": "slave(1)@127.0.0.1:1", "port": 1, "resources": {},
             "attributes": {}, "tasks": []}
    assert _request(cluster.master_port, "POST", "/standin/agents", again) == (
        403, {"message": "Agent has been marked gone", "shutdown": True})


def test_a_master_restart_keeps_the_task(cluster):
    (task,) = cluster.running()
    cluster.procs["master"].send_signal(signal.SIGTERM)
    assert cluster.procs["master"].wait(5) == 0
    cluster.start_master()
    seen = _wait(lambda: [t for f in cluster.state()["frameworks"] for t in f["tasks"]], 15, "the task re-added")
    assert [(t["id"], t["state"]) for t in seen] == [(task["id"], "TASK_RUNNING")]
    time.sleep(2)
    assert [t["id"] for t in cluster.running()] == [task["id"]]


def test_scale_and_delete_kill_the_tasks(cluster):
    status, _ = _request(cluster.marathon_port, "PUT", "/v2/apps/unit/sleeper", {"instances": 2})
    assert status == 200
    _wait(lambda: len(cluster.running()) == 2, 10, "two instances")
    assert _request(cluster.marathon_port, "DELETE", "/v2/apps/unit/sleeper")[0] == 200
    _wait(lambda: not [t for f in cluster.state()["frameworks"] for t in f["tasks"]], 10, "no task left")
    killed = [t["state"] for f in cluster.state()["frameworks"] for t in f["completed_tasks"]]
    assert killed.count("TASK_KILLED") == 2


def test_operator_api_needs_the_readwrite_credentials(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text("ops s3cret\n")
    credentials.chmod(0o600)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
    env["STANDIN_MESOS_FLAGS_DIR"] = str(TOP / "demo/standins/reference/mesos-1.11.0")
    proc = subprocess.Popen(
        [sys.executable, str(SBIN / "mesos-master"), "--ip=127.0.0.1", f"--port={port}", f"--work_dir={tmp_path}/m",
         "--authenticate_http_readwrite", f"--credentials={credentials}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _request(port, "GET", "/metrics/snapshot")[1]["master/elected"] == 1.0, 10, "the master")
        auth = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode(), **JSON}
        for path, body in (("/api/v1", {"type": "GET_MAINTENANCE_STATUS"}), ("/master/machine/up", []),
                           ("/master/machine/down", [])):
            status, text = _request(port, "POST", path, body, JSON)
            assert (status, text) == (401, b"401 Unauthorized."), path
        assert _request(port, "GET", "/master/maintenance/status") == (200, {})  # read-only realm: open here
        assert _request(port, "POST", "/api/v1", {"type": "GET_MAINTENANCE_STATUS"}, auth) == (
            200, {"type": "GET_MAINTENANCE_STATUS", "get_maintenance_status": {"status": {}}})
        assert _request(port, "POST", "/master/machine/down", [_machine("x")], auth)[0] == 400
        assert _request(port, "POST", "/api/v1", {"type": "MARK_AGENT_GONE"}, auth) == (
            400, b"Failed to validate master::Call: Expecting 'mark_agent_gone' to be present")
        assert _request(port, "POST", "/api/v1", b"{}", {"Authorization": auth["Authorization"]}) == (
            400, b"Expecting 'Content-Type' to be present")
    finally:
        proc.kill()
        proc.wait(5)


def _scheduler_module():
    folder = str(TOP / "demo/standins/marathon/package/usr/share/marathon/standin")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    from marathon_standin import scheduler

    return scheduler


def test_marathon_declines_agents_in_a_maintenance_window_and_prefers_unscheduled_ones():
    scheduler = _scheduler_module()

    def offer(agent_id, start=None, duration=None):
        out = {"agent_id": agent_id, "hostname": agent_id, "resources": {"cpus": 1.0, "mem": 512.0, "disk": 0.0}}
        if start is not None:
            out["unavailability"] = {"start": {"nanoseconds": int(start * 1e9)}}
            if duration is not None:
                out["unavailability"]["duration"] = {"nanoseconds": int(duration * 1e9)}
        return out

    now = time.time()
    app = {"id": "/a", "cpus": 0.5, "mem": 64}
    in_window, later, none = offer("in-window", now - 1), offer("later", now + 3600), offer("none")
    over = offer("over", now - 7200, 3600)
    s = scheduler.Scheduler.__new__(scheduler.Scheduler)
    s.opts = {"maintenance_mode": True, "draining_seconds": 0}

    def pick(*offers):
        chosen = s._pick(app, list(offers), {o["agent_id"]: dict(o["resources"]) for o in offers}, [], now)
        return chosen and chosen["agent_id"]

    assert pick(in_window, later, none) == "none"
    assert pick(in_window, later) == "later"  # scheduled, but its window has not begun
    assert pick(in_window) is None
    assert pick(over, in_window) == "over"  # the window is over
    s.opts = {"maintenance_mode": True, "draining_seconds": 7200}
    assert pick(later, in_window) is None  # --draining_seconds: declined before the window
    s.opts = {"maintenance_mode": False, "draining_seconds": 0}  # --disable_maintenance_mode
    assert pick(in_window) == "in-window"
    assert scheduler.app_of(f"{scheduler.task_prefix('/e2e/sleeper')}.1b2c") == "/e2e/sleeper"
