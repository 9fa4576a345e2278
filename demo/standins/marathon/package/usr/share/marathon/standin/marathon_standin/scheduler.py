"""Runs the apps' instances as Mesos tasks through the Mesos stand-in's POST /standin/scheduler
call (offers and task states in, launches and kills out), after reference/marathon/tasks.md:

- an app gets `instances` tasks; a task that ends other than by a kill of Marathon's own (scale
  down, app deleted or changed) is replaced: TASK_FAILED/FINISHED/ERROR (with the app's backoff),
  TASK_KILLED, TASK_LOST, TASK_GONE(_BY_OPERATOR), TASK_DROPPED, TASK_UNREACHABLE (the default
  unreachableStrategy makes it inactive at once);
- a replaced task that shows up again as running is killed; a task of this framework that the
  master reports and Marathon does not know (another Marathon launched it) is adopted;
- with maintenance mode (the default) offers of agents in a maintenance window (from
  `start - --draining_seconds`) are declined; among the others, agents without scheduled
  maintenance come first (stand-in choice), then the one with the fewest instances of the app.
"""

from __future__ import annotations

import datetime
import http.client
import json
import logging
import shlex
import threading
import time
import uuid

log = logging.getLogger("marathon.scheduler")
CYCLE_SECONDS = 1.0
MISSING_SECONDS = 30.0  # a task the master stops reporting is expunged (stand-in for reconciliation)
ACTIVE = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")
BACKOFF_STATES = ("TASK_FAILED", "TASK_FINISHED", "TASK_ERROR")
SCALARS = ("cpus", "mem", "disk", "gpus")


def iso(ts: float) -> str:
    t = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def task_prefix(app_id: str) -> str:
    """The part of a task id before the UUID: the app id without the leading '/', '/' -> '_'."""
    return app_id.strip("/").replace("/", "_")


def app_of(task_id: str) -> str:
    return "/" + task_id.rpartition(".")[0].replace("_", "/")


def config_key(app: dict) -> str:
    """What a running task must match; a change replaces the app's tasks."""
    return json.dumps([app.get(k) for k in ("cmd", "args", "cpus", "mem", "disk", "gpus", "env", "container")],
                      sort_keys=True)


class SchedulerUnavailable(Exception):
    pass


class Scheduler:
    def __init__(self, state):
        self.state = state
        self.opts = state.opts
        self.lock = threading.Lock()
        self.tasks: dict[str, dict] = {}
        self.expunged: dict[str, float] = {}
        self.backoff: dict[str, tuple[int, float]] = {}  # app id -> (delays so far, not before)
        self.wake = threading.Event()
        self.reappeared: set[str] = set()

    def start(self) -> None:
        threading.Thread(target=self.run, name="scheduler", daemon=True).start()

    def run(self) -> None:
        while not self.state.stopping.is_set():
            if self.state.elected and self.state.framework_id and self.state.mesos_leader is not None:
                try:
                    self.cycle()
                except SchedulerUnavailable as e:
                    log.debug("Scheduler call: %s", e)
                except Exception as e:
                    log.warning("Scheduler cycle failed: %s", e)
            self.wake.wait(CYCLE_SECONDS)
            self.wake.clear()

    # -- the call ----------------------------------------------------------------------------
    def call(self, launch=(), kill=()) -> dict:
        leader = self.state.mesos_leader
        body = {"framework_id": self.state.framework_id, "launch": list(launch), "kill": list(kill)}
        conn = http.client.HTTPConnection(leader.ip, leader.port, timeout=5)
        try:
            conn.request("POST", "/standin/scheduler", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:  # a master killed mid-answer too
            raise SchedulerUnavailable(str(e)) from None
        finally:
            conn.close()
        if resp.status == 404:  # the master does not know the framework (yet): subscribe again
            registrar = self.state.registrar
            if registrar is not None:
                registrar.resubscribe()
            raise SchedulerUnavailable("framework not subscribed")
        if resp.status != 200:
            raise SchedulerUnavailable(f"HTTP {resp.status}: {data[:200]!r}")
        return json.loads(data)

    def cycle(self) -> None:
        answer = self.call()
        apps = {a["id"]: a for a in self.state.store.list_apps()}
        self.update(answer.get("tasks") or [], apps)
        launch, kill = self.plan(answer.get("offers") or [], apps)
        if launch or kill:
            self.update(self.call(launch, kill).get("tasks") or [], apps)

    # -- task states ---------------------------------------------------------------------------
    def update(self, reported: list, apps: dict) -> None:
        now = time.time()
        with self.lock:
            seen = set()
            self.reappeared = set()
            for item in reported:
                task_id, state = item.get("task_id"), item.get("state")
                if not task_id:
                    continue
                seen.add(task_id)
                record = self.tasks.get(task_id)
                if record is None:
                    if task_id in self.expunged:
                        if state in ACTIVE:
                            self.reappeared.add(task_id)  # replaced already: killed
                        continue
                    if state not in ACTIVE:
                        continue
                    app = apps.get(app_of(task_id))
                    record = self._record(task_id, app_of(task_id), item.get("agent_id"), item.get("hostname"),
                                          config_key(app) if app else "", app.get("version") if app else None,
                                          item.get("timestamp") or now)
                    record["kill"] = app is None
                    self.tasks[task_id] = record
                    log.info("Adopted task %s (%s) reported by Mesos", task_id, state)
                record["last_seen"] = now
                if state != record["state"]:
                    log.info("Task %s of %s: %s -> %s%s", task_id, record["appId"], record["state"], state,
                             f" ({item.get('message')})" if item.get("message") else "")
                    record["state"] = state
                    if state == "TASK_RUNNING" and record["startedAt"] is None:
                        record["startedAt"] = iso(item.get("timestamp") or now)
                if state not in ACTIVE:
                    self._expunge(record, state, now)
            for record in list(self.tasks.values()):
                if record["id"] not in seen and now - record["last_seen"] > MISSING_SECONDS:
                    log.warning("Task %s is unknown to Mesos; expunging it", record["id"])
                    self._expunge(record, "TASK_UNKNOWN", now)
            for task_id, since in list(self.expunged.items()):
                if now - since > 3600:
                    del self.expunged[task_id]

    def _record(self, task_id, app_id, agent_id, host, config, version, staged) -> dict:
        return {"id": task_id, "appId": app_id, "slaveId": agent_id, "host": host, "state": "TASK_STAGING",
                "stagedAt": iso(staged), "startedAt": None, "version": version, "config": config,
                "staged": staged, "last_seen": time.time(), "kill": False}

    def _expunge(self, record: dict, state: str, now: float) -> None:
        self.tasks.pop(record["id"], None)
        self.expunged[record["id"]] = now
        if state in BACKOFF_STATES and not record["kill"]:
            count, _ = self.backoff.get(record["appId"], (0, 0.0))
            self.backoff[record["appId"]] = (count + 1, now)
        if not record["kill"]:
            log.info("Instance of %s on %s ended (%s); it is replaced", record["appId"], record["host"], state)

    # -- what to launch and kill ------------------------------------------------------------------
    def plan(self, offers: list, apps: dict) -> tuple[list, list]:
        now = time.time()
        launch, kill = [], []
        with self.lock:
            for record in self.tasks.values():
                app = apps.get(record["appId"])
                if app is None or record["config"] != config_key(app):
                    record["kill"] = True
                if record["kill"] and record["state"] in ACTIVE:
                    kill.append(record["id"])
            kill.extend(sorted(self.reappeared))
            free = {o["agent_id"]: dict(o.get("resources") or {}) for o in offers}
            for app_id, app in sorted(apps.items()):
                mine = [r for r in self.tasks.values() if r["appId"] == app_id and not r["kill"]]
                need = int(app.get("instances", 1)) - len(mine)
                if need < 0:
                    youngest_first = app.get("killSelection", "YOUNGEST_FIRST") == "YOUNGEST_FIRST"
                    for record in sorted(mine, key=lambda r: r["staged"], reverse=youngest_first)[:-need]:
                        record["kill"] = True
                        kill.append(record["id"])
                    continue
                if need == 0 or now < self._not_before(app):
                    continue
                command = app.get("cmd") or (shlex.join(app["args"]) if app.get("args") else None)
                if not command:
                    continue  # containers without a command: the stand-in agents cannot run them
                for _ in range(need):
                    offer = self._pick(app, offers, free, mine, now)
                    if offer is None:
                        break
                    task_id = f"{task_prefix(app_id)}.{uuid.uuid4()}"
                    resources = {k: float(app.get(k) or 0) for k in SCALARS}
                    for name in SCALARS:
                        free[offer["agent_id"]][name] = free[offer["agent_id"]].get(name, 0.0) - resources[name]
                    record = self._record(task_id, app_id, offer["agent_id"], offer.get("hostname"), config_key(app),
                                          app.get("version"), now)
                    self.tasks[task_id] = record
                    mine.append(record)
                    env = {k: v for k, v in (app.get("env") or {}).items() if isinstance(v, str)}
                    env.update({"MARATHON_APP_ID": app_id, "MARATHON_APP_VERSION": str(app.get("version")),
                                "MESOS_TASK_ID": task_id, "HOST": str(offer.get("hostname")),
                                "MARATHON_APP_RESOURCE_CPUS": str(app.get("cpus")),
                                "MARATHON_APP_RESOURCE_MEM": str(app.get("mem"))})
                    launch.append({"task_id": task_id, "name": ".".join(reversed(app_id.strip("/").split("/"))),
                                   "agent_id": offer["agent_id"], "cmd": command, "resources": resources, "env": env})
                    log.info("Launching task %s of %s on %s", task_id, app_id, offer.get("hostname"))
        return launch, kill

    def _not_before(self, app: dict) -> float:
        count, last = self.backoff.get(app["id"], (0, 0.0))
        if count == 0:
            return 0.0
        delay = float(app.get("backoffSeconds", 1)) * float(app.get("backoffFactor", 1.15)) ** (count - 1)
        return last + min(delay, float(app.get("maxLaunchDelaySeconds", 300)))

    def _in_maintenance(self, offer: dict, now: float) -> bool:
        unavailability = offer.get("unavailability")
        if not unavailability or not self.opts["maintenance_mode"]:
            return False
        start = int((unavailability.get("start") or {}).get("nanoseconds") or 0) / 1e9
        duration = (unavailability.get("duration") or {}).get("nanoseconds")
        if duration is not None and now > start + int(duration) / 1e9:
            return False
        return now >= start - float(self.opts["draining_seconds"] or 0)

    def _pick(self, app: dict, offers: list, free: dict, mine: list, now: float):
        fits = []
        for offer in offers:
            room = free.get(offer["agent_id"], {})
            if any(float(room.get(k, 0.0)) + 1e-9 < float(app.get(k) or 0) for k in SCALARS):
                continue
            if self._in_maintenance(offer, now):
                continue
            placed = sum(1 for r in mine if r["slaveId"] == offer["agent_id"])
            fits.append((bool(offer.get("unavailability")), placed, -float(room.get("cpus", 0.0)), offer))
        if not fits:
            return None
        return min(fits, key=lambda f: f[:3])[3]

    # -- the API's view -----------------------------------------------------------------------
    def counts(self, app_id: str) -> dict:
        with self.lock:
            states = [r["state"] for r in self.tasks.values() if r["appId"] == app_id]
        return {"tasksStaged": sum(1 for s in states if s in ("TASK_STAGING", "TASK_STARTING")),
                "tasksRunning": states.count("TASK_RUNNING"), "tasksHealthy": 0, "tasksUnhealthy": 0}

    def task_list(self, app_id: str | None = None, service_ports=None) -> list:
        """EnrichedTask of the REST API (types/task.raml; examples/tasks.json)."""
        with self.lock:
            records = sorted((r for r in self.tasks.values() if app_id is None or r["appId"] == app_id),
                             key=lambda r: r["staged"])
            out = []
            for r in records:
                task = {"appId": r["appId"], "host": r["host"], "id": r["id"], "ports": [],
                        "servicePorts": (service_ports or {}).get(r["appId"], []), "slaveId": r["slaveId"],
                        "state": r["state"], "stagedAt": r["stagedAt"], "version": r["version"]}
                if r["startedAt"]:
                    task["startedAt"] = r["startedAt"]
                out.append(task)
            return out
