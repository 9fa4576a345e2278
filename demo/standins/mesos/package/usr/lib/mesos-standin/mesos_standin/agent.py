"""mesos-agent stand-in: flags, master detection (zk:// or host:port), resources, the agent HTTP
endpoints, registration with the leading master through the stand-in protocol, and the tasks the
master hands over in its answers (tasks.py)."""

import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from . import common, glog, tasks
from .common import Exit, Response, json_response
from .flags import NS
from .master import AGENT_CAPABILITIES
from .metrics_keys import AGENT_KEYS

# The registration call is also the heartbeat and the channel of the tasks: every second, and at
# once when a task changes state.
HEARTBEAT_SECS = 1.0
RETRY_SECS = 1.0
AGENT_ENDPOINTS = ("state", "state.json", "health", "flags")
READONLY_REALM = "mesos-agent-readonly"
READWRITE_REALM = "mesos-agent-readwrite"
# The agent's routes and their realms (src/slave/slave.cpp, Slave::initialize); /api/v1/executor
# and /api/v1/resource_provider have realms of their own that the stand-in does not emulate.
AGENT_ROUTE_REALMS = {
    "api/v1": READWRITE_REALM,
    "api/v1/executor": None,
    "api/v1/resource_provider": None,
    "state": READONLY_REALM,
    "flags": READONLY_REALM,
    "health": None,
    "monitor/statistics": READONLY_REALM,
    "containers": READONLY_REALM,
}


class Agent:
    def __init__(self, flags):
        self.flags = flags
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.wake = threading.Event()  # registration thread
        self.zk_wake = threading.Event()  # ZooKeeper watches
        self.start_time = time.time()
        self.leader = None  # MasterInfo-like dict of the detected master
        self.registered = False
        self.agent_id = None
        self.zk = None
        self.zk_url = None
        self.standalone = None
        self.credential = None  # (principal, secret) of --credential
        self.http_realms = {}  # realm -> {principal: secret} for --authenticate_http_*
        self.runner = None  # tasks.Runner, once the work directory exists
        self.dirty = False  # a task changed state since the last report
        self.shutting_down = False  # told to shut down: no more registrations

    # --- startup, in src/slave/main.cpp order ---

    def run(self):
        flags = self.flags
        if flags.get("master") is None and flags.get("master_detector") is None:
            raise Exit("Missing required option `--master` or `--master_detector`", "main.cpp:296")
        if flags.get("master") is not None and flags.get("master_detector") is not None:
            raise Exit("Only one of `--master` or `--master_detector` should be specified", "main.cpp:302")
        if flags.is_set("ip_discovery_command") and flags.is_set("ip"):
            raise Exit("Only one of `--ip` or `--ip_discovery_command` should be specified", "main.cpp:322")
        self.ip, self.port, self.http = common.bind_and_serve(flags, self.app)
        common.setup_logging(flags, "main.cpp:388", "main.cpp:411")

        self._create_detector()
        self._create_containerizer()

        work_dir = flags.get("work_dir")
        try:
            os.makedirs(work_dir, exist_ok=True)
        except OSError as exc:
            raise Exit(f"Failed to create agent work directory '{work_dir}': {exc.strerror}", "slave.cpp:341") from None
        self.hostname = common.hostname_of(flags, self.ip)
        self.resources = self._resources()
        self.attributes = common.parse_attributes(flags.get("attributes"))
        self.agent_id = self._recover_id()
        self.runner = tasks.Runner(work_dir, self._task_changed)
        if self.agent_id:
            self.runner.recover(self.agent_id)

        glog.info("main.cpp:614", "Starting Mesos agent")
        glog.info("slave.cpp:311", f"Mesos agent started on (1)@{self.ip}:{self.port}")
        glog.info("slave.cpp:312", f"Flags at startup: {flags.command_line()}")
        self._init_authentication()
        glog.info("slave.cpp:650", f"Agent resources: {self._resources_text()}")
        glog.info("slave.cpp:658", f"Agent attributes: [ {self._attributes_text()} ]")
        glog.info("slave.cpp:663", f"Agent hostname: {self.hostname}")
        if self.agent_id:
            glog.info("slave.cpp:7516", f"Recovering agent {self.agent_id}")

        if self.zk_url is not None:
            common.start_thread(self._zk_thread, "zk")
        else:
            common.start_thread(self._standalone_thread, "detector")
        common.start_thread(self._register_thread, "register")
        while not self.stop_event.wait(1.0):
            pass
        self._shutdown()
        return 0

    def _init_authentication(self):
        """Slave::initialize: --credential, --http_credentials and the HTTP authenticators."""
        flags = self.flags
        path = flags.get("credential")
        if path:
            try:
                credential = common.read_credential(path)
            except common.CredentialError as exc:
                raise Exit(f"{exc} (see --credential flag)", "slave.cpp:331") from None
            if credential is None:
                raise Exit(f"Empty credential file '{path}' (see --credential flag)", "slave.cpp:334")
            self.credential = credential
            glog.info("slave.cpp:338", f"Agent using credential for: {credential[0]}")
        http_credentials = None
        path = flags.get("http_credentials")
        if path:
            try:
                http_credentials = common.read_credentials(path)
            except common.CredentialError as exc:
                raise Exit(f"{exc} (see --http_credentials flag)", "slave.cpp:347") from None
            if http_credentials is None:
                raise Exit(
                    "Credentials file must contain at least one credential (see --http_credentials flag)",
                    "slave.cpp:350",
                )
        names = flags.get("http_authenticators") or common.DEFAULT_BASIC_HTTP_AUTHENTICATOR
        for flag, realm, where in (
            ("authenticate_http_readonly", READONLY_REALM, "slave.cpp:399"),
            ("authenticate_http_readwrite", READWRITE_REALM, "slave.cpp:410"),
        ):
            if flags.get(flag):
                self.http_realms[realm] = common.http_authenticator(realm, names, http_credentials, where)

    def _http_denied(self, realm, headers):
        table = self.http_realms.get(realm) if realm else None
        if table is None:
            return None
        _principal, denied = common.basic_authenticate(headers, realm, table)
        return denied

    def terminate(self, *_):
        """SIGTERM: the agent stops, its tasks keep running (they are recovered on restart)."""
        self.stop_event.set()
        self.wake.set()
        self.zk_wake.set()

    def usr1(self, *_):
        """SIGUSR1 (Slave::signaled): shut down as if the master asked for it, tasks killed."""
        if not self.shutting_down:
            self.shutting_down = True
            common.start_thread(self._shutdown_tasks, "shutdown",
                                ("Received SIGUSR1 signal; unregistering and shutting down",))

    def _task_changed(self):
        self.dirty = True
        self.wake.set()

    def _shutdown_tasks(self, line):
        """Slave::shutdown, then Slave::finalize: the tasks are killed and the 'latest' symlink is
        removed, so that a restarted agent registers as a new agent."""
        glog.info("slave.cpp:1002", line)
        if self.runner is not None:
            self.runner.kill_all(tasks.KILL_GRACE_SECS + 2)
            if self.leader is not None and self.registered:
                self._post(self.leader)  # the last states, while the master still listens
        latest = os.path.join(self._meta(), "latest")
        if os.path.islink(latest):
            try:
                os.unlink(latest)
            except OSError:
                pass
        self.terminate()

    def _shutdown(self):
        glog.info("slave.cpp:1001", "Agent terminating")
        if self.zk is not None:
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:
                pass
        try:
            self.http.server_close()
        except OSError:
            pass

    def _create_detector(self):
        text = self.flags.get("master")
        if text is None:
            raise Exit(
                f"Failed to create a master detector: Failed to load module '{self.flags.get('master_detector')}'",
                "main.cpp:534",
            )
        text = text.strip()
        try:
            if text.startswith("file://"):
                glog.warning("detector.cpp:66", "Specifying master detection mechanism / ZooKeeper URL to be read "
                             "out of a file via 'file://' is deprecated inside Mesos and will be removed in a future "
                             "release.")
                text = common.read_file_url(text)
            if text.startswith("zk://"):
                url = common.parse_zk_url(text)
                if url.path == "/":
                    raise ValueError("Expecting a (chroot) path for ZooKeeper ('/' is not supported)")
                self.zk_url = url
                return
            pid = text if text.startswith("master@") else "master@" + text
            host, _, port = pid[len("master@") :].rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"Failed to parse '{text}'")
            try:
                ip = socket.gethostbyname(host)
            except OSError:
                raise ValueError(f"Failed to parse '{text}'") from None
            self.standalone = {
                "id": "",
                "pid": f"master@{ip}:{int(port)}",
                "ip": common.ip_to_uint32(ip),
                "port": int(port),
                "hostname": ip,
                "address": {"hostname": ip, "ip": ip, "port": int(port)},
            }
        except ValueError as exc:
            raise Exit(f"Failed to create a master detector: {exc}", "main.cpp:534") from None

    def _create_containerizer(self):
        names = [n.strip() for n in (self.flags.get("containerizers") or "").split(",") if n.strip()]
        for name in names:
            if name not in ("mesos", "docker"):
                raise Exit(f"Failed to create a containerizer: Unknown or unsupported containerizer: {name}",
                           "main.cpp:557")
        if "docker" in names:
            docker = self.flags.get("docker")
            proc = subprocess.run(
                ["sh", "-c", f"{docker} version --format '{{{{.Server.Version}}}}'"],
                capture_output=True,
                text=True,
                check=False,
            )
            prefix = "Failed to create a containerizer: Could not create DockerContainerizer: Failed to create docker: "
            if proc.returncode != 0:
                raise Exit(prefix + f"Failed to get docker version: {proc.stderr.rstrip()}", "main.cpp:557")
            version = proc.stdout.strip()
            parts = [int(p) if p.isdigit() else 0 for p in version.split("-")[0].split(".")[:3]]
            if parts < [1, 8, 0]:
                raise Exit(prefix + f"Insufficient version '{version}' of Docker! Please upgrade to >= 1.8.0",
                           "main.cpp:557")
            glog.info("docker.cpp:1166", f"Docker version {version}")

    def _resources(self):
        given = common.parse_resources(self.flags.get("resources"))
        resources = {}
        resources["cpus"] = float(os.cpu_count() or 1)
        total = common.total_memory_bytes()
        mem = total - 1024**3 if total >= 2 * 1024**3 else total // 2
        resources["mem"] = float(mem // 1024**2)
        try:
            stat = os.statvfs(self.flags.get("work_dir"))
            disk = stat.f_blocks * stat.f_frsize
        except OSError:
            disk = 0
        disk = disk - 5 * 1024**3 if disk >= 10 * 1024**3 else disk // 2
        resources["disk"] = float(disk // 1024**2)
        resources["ports"] = "[31000-32000]"
        resources["gpus"] = 0.0
        resources.update(given)
        return common.ordered_resources(resources)

    def _resources_text(self):
        order = sorted(self.resources, key=lambda k: {"cpus": 0, "mem": 1, "disk": 2, "ports": 3}.get(k, 9))
        return "; ".join(
            f"{k}:{self.resources[k]:g}" if isinstance(self.resources[k], float) else f"{k}:{self.resources[k]}"
            for k in order
            if k != "gpus"
        )

    def _attributes_text(self):
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.attributes.items())

    # --- checkpointed agent id (<work_dir>/meta/slaves/latest) ---

    def _meta(self):
        return os.path.join(self.flags.get("work_dir"), "meta", "slaves")

    def _recover_id(self):
        if self.flags.get("recover") == "cleanup":
            return None
        latest = os.path.join(self._meta(), "latest")
        if os.path.isdir(latest):
            return os.path.basename(os.path.realpath(latest))
        return None

    def _checkpoint(self, agent_id):
        directory = os.path.join(self._meta(), agent_id)
        try:
            os.makedirs(directory, exist_ok=True)
            info = {"id": {"value": agent_id}, "hostname": self.hostname, "port": self.port,
                    "resources": common.resources_full(self.resources), "attributes": self.attributes}
            with open(os.path.join(directory, "slave.info"), "w", encoding="utf-8") as handle:
                json.dump(info, handle)
            latest = os.path.join(self._meta(), "latest")
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(directory, latest)
        except OSError as exc:
            glog.warning("slave.cpp:1654", f"Failed to checkpoint agent info: {exc}")

    # --- master detection ---

    def _detected(self, info):
        with self.lock:
            old = self.leader
            if (old or {}).get("pid") == (info or {}).get("pid") and (old or {}).get("id") == (info or {}).get("id"):
                return
            self.leader = info
            self.registered = False
        if info is None:
            glog.info("slave.cpp:1266", "Lost leading master")
            glog.info("slave.cpp:1270", "Detecting new master")
        else:
            glog.info("slave.cpp:1240", f"New master detected at {info.get('pid')}")
            if self.credential is not None:
                glog.info("slave.cpp:1366", f"Authenticating with master {info.get('pid')}")
                glog.info("slave.cpp:1375", "Using default CRAM-MD5 authenticatee")
            else:
                glog.info("slave.cpp:1256", "No credentials provided. Attempting to register without authentication")
        self.wake.set()

    def _standalone_thread(self):
        info = dict(self.standalone)
        ip = info["address"]["ip"]
        try:
            info["hostname"] = socket.gethostbyaddr(ip)[0]
        except OSError:
            info["hostname"] = ip
        info["address"]["hostname"] = info["hostname"]
        self._detected(info)

    def _poke(self, *_):
        self.zk_wake.set()

    def _zk_thread(self):
        url = self.zk_url
        timeout = self.flags.get("zk_session_timeout") / NS["secs"]
        self.zk = common.kazoo_client(url, timeout)
        self.zk.add_listener(lambda state: self.zk_wake.set())
        common.zk_connect(self.zk, url.servers, "group.cpp:341")
        from kazoo.exceptions import KazooException, NoNodeError

        path = url.path.rstrip("/")
        current = None
        while not self.stop_event.is_set():
            if self.zk.connected:
                try:
                    try:
                        children = self.zk.get_children(path, watch=self._poke)
                    except NoNodeError:
                        self.zk.exists(path, watch=self._poke)
                        children = []
                    members = common.sequence_children(children)
                    name = members[0][2] if members else None
                    if name != current:
                        info = None
                        if name is not None:
                            glog.info("detector.cpp:152", f"Detected a new leader: (id='{members[0][0]}')")
                            data, _ = self.zk.get(f"{path}/{name}")
                            info = common.parse_leader_data(members[0][1], data)
                            if info is not None:
                                glog.info("zookeeper.cpp:262",
                                          f"A new leading master (UPID={info.get('pid')}) is detected")
                        current = name
                        self._detected(info)
                except NoNodeError:
                    current = None
                except KazooException as exc:
                    if not self.stop_event.is_set():
                        glog.warning("group.cpp:494", f"ZooKeeper operation failed: {exc!r}")
                except Exception as exc:
                    if self.stop_event.is_set():
                        return
                    glog.warning("group.cpp:494", f"ZooKeeper operation failed: {exc!r}")
            self.zk_wake.wait(1.0)
            self.zk_wake.clear()

    # --- registration ---

    def _register_thread(self):
        last = 0.0
        while not self.stop_event.is_set():
            with self.lock:
                leader = self.leader
                registered = self.registered
            due = not registered or self.dirty or time.monotonic() - last >= HEARTBEAT_SECS
            if leader is not None and due and not self.shutting_down:
                self.dirty = False
                self._post(leader)
                last = time.monotonic()
            self.wake.wait(RETRY_SECS)
            self.wake.clear()

    def _post(self, leader):
        ip, port = common.master_address(leader)
        payload = {
            "id": self.agent_id,
            "hostname": self.hostname,
            "pid": f"slave(1)@{self.ip}:{self.port}",
            "port": self.port,
            "resources": self.resources,
            "attributes": self.attributes,
            "tasks": self.runner.reports() if self.runner is not None else [],
        }
        if self.credential is not None:
            payload["principal"], payload["secret"] = self.credential
        request = urllib.request.Request(
            f"http://{ip}:{port}/standin/agents",
            data=common.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with _NO_REDIRECT.open(request, timeout=5) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                # Slave::_authenticate: a refused authentication ends the agent.
                glog.exit_failure("slave.cpp:1440", f"Master {leader.get('pid')} refused authentication")
            try:
                refusal = json.loads(exc.read() or b"{}")
            except ValueError:
                refusal = {}
            shutdown = exc.code == 403 and isinstance(refusal, dict) and refusal.get("shutdown")
            if shutdown and not self.shutting_down:
                # A ShutdownMessage: a DOWN machine, a gone agent, an agent removed by the master.
                self.shutting_down = True
                with self.lock:
                    self.registered = False
                message = refusal.get("message", "")
                common.start_thread(self._shutdown_tasks, "shutdown",
                                    (f"Agent asked to shut down by {leader.get('pid')} because '{message}'",))
            return False  # 403: the master dropped the registration; it is retried
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            # HTTPException: a master killed mid-answer (a bad status line, a short body) is a
            # lost connection too, not an end of the registration thread
            with self.lock:
                if self.registered and self.leader is leader:
                    self.registered = False
                    glog.info("slave.cpp:5449", f"Lost connection to master {leader.get('pid')}; retrying")
            return False
        new_id = answer.get("id")
        if not new_id:
            return False
        with self.lock:
            if self.leader is not leader:
                return False
            had_id = self.agent_id
            self.agent_id = new_id
            was = self.registered
            self.registered = True
        self.runner.set_agent(new_id)
        for task_id in answer.get("ack") or []:
            self.runner.acked(task_id)
        for task_id in answer.get("kill") or []:
            self.runner.kill(task_id)
        for item in answer.get("launch") or []:
            if isinstance(item, dict):
                self.runner.launch(item)
        if not was:
            if self.credential is not None:
                glog.info("slave.cpp:1448", f"Successfully authenticated with master {leader.get('pid')}")
            if had_id:
                glog.info("slave.cpp:1456", f"Re-registered with master {leader.get('pid')}")
            else:
                glog.info("slave.cpp:1391", f"Registered with master {leader.get('pid')}; given agent ID {new_id}")
            self._checkpoint(new_id)
        return True

    # --- HTTP ---

    def app(self, method, path, query, body, headers=None):
        if path in ("/version", "/version/"):
            return json_response(common.version_body())
        if path == "/metrics/snapshot":
            return self._http_denied(READONLY_REALM, headers) or json_response(self._metrics())
        if path.startswith("/slave(1)/"):
            endpoint = path[len("/slave(1)/") :]
        elif path.count("/") == 1 or path[1:] in AGENT_ROUTE_REALMS:
            endpoint = path[1:]
        else:
            return common.not_found()
        route = endpoint[: -len(".json")] if endpoint.endswith(".json") else endpoint
        if route in AGENT_ROUTE_REALMS:
            denied = self._http_denied(AGENT_ROUTE_REALMS[route], headers)
            if denied is not None:
                return denied
        if endpoint not in AGENT_ENDPOINTS:
            if route in AGENT_ROUTE_REALMS:
                return Response(501, f"TEST STAND-IN: {path} is not emulated", "text/plain; charset=utf-8")
            return common.not_found()
        if endpoint == "health":
            return Response(200)
        if endpoint == "flags":
            return json_response({"flags": self.flags.rendered()})
        return json_response(self._state())

    def _state(self):
        state = common.state_header()
        state["start_time"] = self.start_time
        with self.lock:
            agent_id = self.agent_id
            leader = self.leader
        if agent_id:
            state["id"] = agent_id
        state.update(
            {
                "pid": f"slave(1)@{self.ip}:{self.port}",
                "hostname": self.hostname,
                "capabilities": AGENT_CAPABILITIES,
            }
        )
        state.update(
            {
                "resources": self.resources,
                "reserved_resources": {},
                "unreserved_resources": self.resources,
                "reserved_resources_full": {},
                "unreserved_resources_full": common.resources_full(self.resources),
                "reserved_resources_allocated": {},
                "unreserved_resources_allocated": self._used(),
                "resource_providers": [],
                "attributes": self.attributes,
            }
        )
        if leader is not None:
            state["master_hostname"] = common.master_host(leader)
        for name in ("log_dir", "external_log_file"):
            if self.flags.get(name):
                state[name] = self.flags.get(name)
        state.update({"flags": self.flags.rendered(), "frameworks": self._frameworks(), "completed_frameworks": []})
        return state

    def _used(self):
        used = self.runner.used() if self.runner is not None else {}
        return common.ordered_resources({k: round(used.get(k, 0.0), 6) for k in ("disk", "mem", "gpus", "cpus")})

    def _frameworks(self):
        """/state frameworks[].executors[]: one command executor per task, its sandbox in
        `directory` (the real agent's keys; tasks of a framework are its executors' tasks)."""
        frameworks = {}
        for task in self.runner.snapshot() if self.runner is not None else []:
            framework = frameworks.setdefault(task.framework_id, {
                "id": task.framework_id, "executors": [], "completed_executors": []})
            resources = common.ordered_resources({k: float(task.resources.get(k) or 0.0)
                                                  for k in ("disk", "mem", "gpus", "cpus")})
            task_json = {"id": task.id, "name": task.name, "framework_id": task.framework_id, "executor_id": "",
                         "slave_id": self.agent_id, "state": task.state, "resources": resources, "role": "*",
                         "statuses": []}
            executor = {"id": task.id, "name": f"Command Executor (Task: {task.id}) (Command: sh -c '{task.cmd}')",
                        "source": task.id, "container": os.path.basename(task.sandbox or ""),
                        "directory": task.sandbox, "resources": resources, "role": "*", "type": "COMMAND",
                        "tasks": [], "queued_tasks": [], "completed_tasks": []}
            (executor["completed_tasks"] if task.state in tasks.TERMINAL else executor["tasks"]).append(task_json)
            framework["executors"].append(executor)
        return list(frameworks.values())

    def _metrics(self):
        metrics = dict.fromkeys(AGENT_KEYS, 0.0)
        metrics["slave/registered"] = 1.0 if self.registered else 0.0
        running = [t for t in self.runner.snapshot() if t.state not in tasks.TERMINAL] if self.runner else []
        for state in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"):
            metrics["slave/tasks_" + state[len("TASK_"):].lower()] = float(sum(1 for t in running if t.state == state))
        metrics["slave/executors_running"] = float(len(running))
        used = self._used()
        metrics["slave/uptime_secs"] = time.time() - self.start_time
        for name in ("cpus", "mem", "disk", "gpus"):
            value = self.resources.get(name)
            metrics[f"slave/{name}_total"] = value if isinstance(value, float) else 0.0
            metrics[f"slave/{name}_used"] = used[name]
            if isinstance(value, float) and value:
                metrics[f"slave/{name}_percent"] = used[name] / value
        size = self.flags.get("fetcher_cache_size")
        if isinstance(size, int):
            metrics["containerizer/fetcher/cache_size_total_bytes"] = float(size)
        metrics["slave/executor_directory_max_allowed_age_secs"] = 7 * 86400.0 * 0.9
        metrics.update(common.system_metrics())
        return dict(sorted(metrics.items()))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_NO_REDIRECT = urllib.request.build_opener(_NoRedirect)
