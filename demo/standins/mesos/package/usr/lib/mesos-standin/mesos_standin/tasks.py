"""The agent's tasks: what the Mesos containerizer without isolation and the command executor do
for a task with a `cmd`, reduced to a process. The command runs with `/bin/sh -c` in its sandbox
<work_dir>/slaves/<agent id>/frameworks/<framework id>/executors/<task id>/runs/<container id>
(`runs/latest` links to it), with `stdout` and `stderr` files there. Each task is checkpointed to
<work_dir>/meta/slaves/<agent id>/standin-tasks/<task id>.json, so an agent that restarts with the
same ID finds its running tasks again (their processes are not the agent's children: they keep
running when the agent stops, as with KillMode=process)."""

import json
import os
import signal
import subprocess
import threading
import time
import uuid

from . import common, glog
from .maintenance import TERMINAL_STATES as TERMINAL

KILL_GRACE_SECS = 3.0  # the command executor's default kill policy grace period
EXIT_FILE = ".standin-exit-status"
# The task's own shell runs the command; a wrapper shell records how it ended.
WRAPPER = '/bin/sh -c "$1"; echo $? > "$2"'


def _start_ticks(pid):
    """Field 22 of /proc/<pid>/stat (start time): tells a recovered pid from a reused one."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


class Task:
    def __init__(self, data):
        self.id = data["task_id"]
        self.framework_id = data.get("framework_id", "")
        self.name = data.get("name", self.id)
        self.cmd = data.get("cmd", "")
        self.env = data.get("env") or {}
        self.resources = data.get("resources") or {}
        self.sandbox = data.get("sandbox")
        self.pid = data.get("pid")
        self.ticks = data.get("ticks")
        self.state = data.get("state", "TASK_STAGING")
        self.message = data.get("message")
        self.killing = data.get("killing", False)
        self.started = data.get("started")
        self.proc = None

    def record(self):
        return {"task_id": self.id, "framework_id": self.framework_id, "name": self.name, "cmd": self.cmd,
                "env": self.env, "resources": self.resources, "sandbox": self.sandbox, "pid": self.pid,
                "ticks": self.ticks, "state": self.state, "message": self.message, "killing": self.killing,
                "started": self.started}

    def report(self):
        out = {"task_id": self.id, "framework_id": self.framework_id, "name": self.name, "state": self.state,
               "resources": self.resources}
        if self.message:
            out["message"] = self.message
        return out

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _start_ticks(self.pid) == self.ticks


class Runner:
    """Launches, watches, kills and checkpoints the tasks of one agent."""

    def __init__(self, work_dir, changed):
        self.work_dir = work_dir
        self.changed = changed  # called (no lock held) when a task changes state
        self.lock = threading.RLock()
        self.tasks = {}
        self.agent_id = None
        self.stop = threading.Event()
        common.start_thread(self._watch, "tasks")

    def _meta(self, agent_id=None):
        return os.path.join(self.work_dir, "meta", "slaves", agent_id or self.agent_id or "unknown", "standin-tasks")

    def _checkpoint(self, task):
        if task.state in TERMINAL and task.id not in self.tasks:
            return
        try:
            os.makedirs(self._meta(), exist_ok=True)
            path = os.path.join(self._meta(), f"{task.id}.json")
            with open(path + ".tmp", "w", encoding="utf-8") as handle:
                json.dump(task.record(), handle)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            glog.warning("slave.cpp:7960", f"Failed to checkpoint task {task.id}: {exc}")

    def recover(self, agent_id):
        """Slave::recover: the checkpointed tasks of the agent, their processes re-attached."""
        self.agent_id = agent_id
        directory = self._meta(agent_id)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(directory, name), encoding="utf-8") as handle:
                    task = Task(json.load(handle))
            except (OSError, ValueError, KeyError):
                continue
            with self.lock:
                self.tasks[task.id] = task
            if task.state not in TERMINAL:
                if task.alive():
                    glog.info("slave.cpp:7211", f"Recovered task {task.id} of framework {task.framework_id} "
                                                f"(pid {task.pid})")
                else:
                    self._ended(task)

    def set_agent(self, agent_id):
        with self.lock:
            self.agent_id = agent_id

    def reports(self):
        with self.lock:
            return [t.report() for t in self.tasks.values()]

    def used(self):
        used = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
        with self.lock:
            for task in self.tasks.values():
                if task.state not in TERMINAL:
                    for name in used:
                        used[name] += float(task.resources.get(name) or 0.0)
        return used

    def snapshot(self):
        with self.lock:
            return list(self.tasks.values())

    # --- the master's instructions ---

    def launch(self, item):
        task_id = str(item.get("task_id") or "")
        with self.lock:
            if not task_id or task_id in self.tasks:
                return
            task = Task({"task_id": task_id, "framework_id": item.get("framework_id", ""), "name": item.get("name"),
                         "cmd": item.get("cmd", ""), "env": item.get("env") or {},
                         "resources": item.get("resources") or {}})
            self.tasks[task_id] = task
        container = str(uuid.uuid4())
        executor = os.path.join(self.work_dir, "slaves", self.agent_id, "frameworks", task.framework_id,
                                "executors", task_id, "runs")
        task.sandbox = os.path.join(executor, container)
        glog.info("slave.cpp:2164", f"Got assigned task '{task_id}' for framework {task.framework_id}")
        try:
            os.makedirs(task.sandbox, exist_ok=True)
            latest = os.path.join(executor, "latest")
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(container, latest)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
            env.update({"MESOS_SANDBOX": task.sandbox, "MESOS_TASK_ID": task_id,
                        "MESOS_FRAMEWORK_ID": task.framework_id, "MESOS_AGENT_ID": self.agent_id or ""})
            env.update({str(k): str(v) for k, v in task.env.items()})
            with open(os.path.join(task.sandbox, "stdout"), "ab") as out, \
                    open(os.path.join(task.sandbox, "stderr"), "ab") as err:
                task.proc = subprocess.Popen(
                    ["/bin/sh", "-c", WRAPPER, "mesos-task", task.cmd, os.path.join(task.sandbox, EXIT_FILE)],
                    cwd=task.sandbox, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            self._set(task, "TASK_FAILED", f"Failed to launch container: {exc}")
            return
        task.pid = task.proc.pid
        task.ticks = _start_ticks(task.pid)
        task.started = time.time()
        glog.info("slave.cpp:3538", f"Launching container {container} for task '{task_id}' of framework "
                                    f"{task.framework_id} with pid {task.pid} in '{task.sandbox}'")
        self._set(task, "TASK_RUNNING", None)

    def kill(self, task_id, message="Command terminated with signal Terminated"):
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None or task.state in TERMINAL or task.killing:
                return
            task.killing = True
            task.message = message
        glog.info("slave.cpp:3788", f"Asked to kill task {task_id} of framework {task.framework_id}")
        self._signal(task, signal.SIGTERM)
        self._checkpoint(task)
        threading.Timer(KILL_GRACE_SECS, self._signal, args=(task, signal.SIGKILL)).start()

    def kill_all(self, wait_secs):
        for task in self.snapshot():
            self.kill(task.id)
        deadline = time.monotonic() + wait_secs
        while time.monotonic() < deadline and any(t.state not in TERMINAL for t in self.snapshot()):
            time.sleep(0.1)

    def acked(self, task_id):
        """The master recorded the terminal state: the task is forgotten."""
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None or task.state not in TERMINAL:
                return
            del self.tasks[task_id]
        try:
            os.unlink(os.path.join(self._meta(), f"{task_id}.json"))
        except OSError:
            pass

    # --- watching ---

    def _signal(self, task, signum):
        if task.pid is None or not task.alive():
            return
        try:
            os.killpg(task.pid, signum)
        except OSError:
            pass

    def _set(self, task, state, message):
        with self.lock:
            task.state = state
            if message is not None:
                task.message = message
        self._checkpoint(task)
        self.changed()

    def _ended(self, task):
        status = None
        try:
            with open(os.path.join(task.sandbox or "", EXIT_FILE), encoding="ascii") as handle:
                status = int(handle.read().strip())
        except (OSError, ValueError):
            pass
        if task.killing:
            self._set(task, "TASK_KILLED", task.message)
        elif status == 0:
            self._set(task, "TASK_FINISHED", "Command exited with status 0")
        elif status is not None:
            self._set(task, "TASK_FAILED", f"Command exited with status {status}")
        else:
            self._set(task, "TASK_FAILED", "Command terminated while the agent was not watching it")
        glog.info("slave.cpp:5931", f"Task {task.id} of framework {task.framework_id} is in state {task.state}")

    def _watch(self):
        while not self.stop.wait(0.2):
            for task in self.snapshot():
                if task.state not in TERMINAL and task.pid is not None and not task.alive():
                    self._ended(task)
