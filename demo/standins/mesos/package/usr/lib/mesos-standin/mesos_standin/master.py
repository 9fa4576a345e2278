"""mesos-master stand-in: flags, ZooKeeper contender/detector with a replicated-log quorum
emulation, the master HTTP endpoints and the stand-in registration protocol (/standin/*)."""

import json
import os
import threading
import time
import uuid
from urllib.parse import parse_qs

from . import common, glog, maintenance
from .common import Exit, Response, json_response
from .flags import NS, format_duration
from .maintenance import ACTIVE_STATES, DOWN, DRAINING, TERMINAL_STATES
from .metrics_keys import MASTER_KEYS

MASTER_CAPABILITIES = ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]
AGENT_CAPABILITIES = [
    "MULTI_ROLE",
    "HIERARCHICAL_ROLE",
    "RESERVATION_REFINEMENT",
    "RESOURCE_PROVIDER",
    "RESIZE_VOLUME",
    "AGENT_OPERATION_FEEDBACK",
    "AGENT_DRAINING",
    "TASK_RESOURCE_LIMITS",
]
MASTER_ENDPOINTS = (
    "health", "state", "state.json", "state-summary", "slaves", "frameworks", "flags", "redirect", "tasks",
    "tasks.json",
)
TEXT = "text/plain; charset=utf-8"
# Terminal tasks kept in the scheduler answer so that the framework sees how they ended.
ENDED_TASKS_SHOWN_SECS = 120.0
SCALARS = ("cpus", "mem", "disk", "gpus")
READONLY_REALM = "mesos-master-readonly"
READWRITE_REALM = "mesos-master-readwrite"
# The master's routes and their authentication realms (src/master/master.cpp, Master::initialize).
# /health and /redirect have none; /api/v1/scheduler is in the HTTP framework realm, which the
# stand-in does not emulate.
MASTER_ROUTE_REALMS = {
    "api/v1": READWRITE_REALM,
    "api/v1/scheduler": None,
    "create-volumes": READWRITE_REALM,
    "destroy-volumes": READWRITE_REALM,
    "frameworks": READONLY_REALM,
    "flags": READONLY_REALM,
    "health": None,
    "redirect": None,
    "reserve": READWRITE_REALM,
    "roles": READONLY_REALM,
    "teardown": READWRITE_REALM,
    "slaves": READONLY_REALM,
    "state": READONLY_REALM,
    "state-summary": READONLY_REALM,
    "tasks": READONLY_REALM,
    "maintenance/schedule": READWRITE_REALM,
    "maintenance/status": READONLY_REALM,
    "machine/down": READWRITE_REALM,
    "machine/up": READWRITE_REALM,
    "unreserve": READWRITE_REALM,
    "weights": READWRITE_REALM,
    "quota": READWRITE_REALM,
}


class Master:
    def __init__(self, flags):
        self.flags = flags
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.start_time = time.time()
        self.leader = None  # detected leader's MasterInfo
        self.elected = False
        self.recovered = False
        self.elected_time = None
        self.recovery_deadline = None
        self.agents = {}
        self.frameworks = {}
        self.next_agent = 0
        self.next_framework = 0
        self.counters = {"slave_registrations": 0, "slave_reregistrations": 0, "messages_register_framework": 0,
                         "slave_removals": 0, "messages_launch_tasks": 0, "messages_kill_task": 0}
        self.counters.update({"tasks_" + state[len("TASK_"):].lower(): 0 for state in TERMINAL_STATES})
        self.tasks = {}  # task id -> task (the stand-in protocol's launches and the agents' reports)
        self.machines = {}  # maintenance.machine_key -> {"id", "mode", "unavailability"}
        self.gone = {}  # agent id -> time it was marked gone (MARK_AGENT_GONE)
        self.agent_shutdowns = {}  # agent id -> the message of the ShutdownMessage it still has to get
        self.zk = None
        self.zk_url = None
        self.my_node = None
        self.replica_node = None
        self.leader_node = None
        self.suspended_since = None
        self.quorum = 1
        self.sasl_secrets = None  # {principal: secret} of --credentials (CRAM-MD5); None: no credentials
        self.http_realms = {}  # realm -> {principal: secret} for --authenticate_http_*
        self.authenticated = {}  # pid -> principal
        self.maintenance_schedule = {}
        self.completed_frameworks = set()

    # --- startup checks, in src/master/main.cpp order ---

    def run(self):
        flags = self.flags
        if flags.is_set("ip_discovery_command") and flags.is_set("ip"):
            raise Exit("Only one of `--ip` or `--ip_discovery_command` should be specified", "main.cpp:277")
        self.ip, self.port, self.http = common.bind_and_serve(flags, self.app)
        common.setup_logging(flags, "main.cpp:313", "main.cpp:349")

        registry = flags.get("registry")
        url = None
        if registry in ("replicated_log", "log_storage"):
            if not flags.get("work_dir"):
                raise Exit("--work_dir needed for replicated log based registry", "main.cpp:427")
            try:
                os.makedirs(os.path.join(flags.get("work_dir"), "replicated_log"), exist_ok=True)
            except OSError as exc:
                raise Exit(
                    f"Failed to create work directory '{flags.get('work_dir')}': {exc.strerror}", "main.cpp:434"
                ) from None
            if flags.get("zk"):
                if flags.get("quorum") is None:
                    raise Exit(
                        "Need to specify --quorum for replicated log based registry when using ZooKeeper",
                        "main.cpp:440",
                    )
                url = self._zk_url()
                self.quorum = int(flags.get("quorum"))
        elif registry != "in_memory":
            raise Exit(f"'{registry}' is not a supported option for registry persistence", "main.cpp:466")
        if flags.get("zk"):
            url = url or self._zk_url()
            if url.path == "/":
                raise Exit(
                    "Failed to create a master contender: Expecting a (chroot) path for ZooKeeper "
                    "('/' is not supported)",
                    "main.cpp:491",
                )
        self.zk_url = url

        hostname = common.hostname_of(flags, self.ip)
        self.id = str(uuid.uuid4())
        self.info = {
            "address": {"hostname": hostname, "ip": self.ip, "port": self.port},
            "capabilities": [{"type": c} for c in MASTER_CAPABILITIES],
            "hostname": hostname,
            "id": self.id,
            "ip": common.ip_to_uint32(self.ip),
            "pid": f"master@{self.ip}:{self.port}",
            "port": self.port,
            "version": common.VERSION,
        }
        domain = self._domain()
        if domain:
            self.info["domain"] = domain
        self.info = dict(sorted(self.info.items()))
        glog.info("main.cpp:520", "Starting Mesos master")
        glog.info("master.cpp:419", f"Master {self.id} ({hostname}) started on {self.ip}:{self.port}")
        glog.info("master.cpp:421", f"Flags at startup: {flags.command_line()}")
        self._init_authentication()

        if url is None:
            self._detected(self.info)
            self._check_recovery(1)
        else:
            common.start_thread(self._zk_thread, "zk")
        while not self.stop_event.wait(1.0):
            self._tick()
        self._shutdown()
        return 0

    def _init_authentication(self):
        """Master::initialize: authentication state, --credentials, the CRAM-MD5 authenticator and
        the HTTP authenticators of the read-only and read-write realms."""
        flags = self.flags
        if flags.get("authenticate_frameworks"):
            glog.info("master.cpp:497", "Master only allowing authenticated frameworks to register")
        else:
            glog.info("master.cpp:499", "Master allowing unauthenticated frameworks to register")
        if flags.get("authenticate_agents"):
            glog.info("master.cpp:503", "Master only allowing authenticated agents to register")
        else:
            glog.info("master.cpp:505", "Master allowing unauthenticated agents to register")
        if flags.get("authenticate_http_frameworks"):
            glog.info("master.cpp:509", "Master only allowing authenticated HTTP frameworks to register")
        else:
            glog.info("master.cpp:512", "Master allowing HTTP frameworks to register without authentication")
        credentials = None
        path = flags.get("credentials")
        if path:
            try:
                credentials = common.read_credentials(path)
            except common.CredentialError as exc:
                raise Exit(f"{exc} (see --credentials flag)", "master.cpp:522") from None
            if credentials is None:
                raise Exit(
                    "Credentials file must contain at least one credential (see --credentials flag)", "master.cpp:525"
                )
        glog.info("master.cpp:549", "Using default 'crammd5' authenticator")
        if credentials is None:
            glog.warning("authenticator.cpp:512", "No credentials provided, authentication requests will be refused")
        else:
            self.sasl_secrets = dict(credentials)
        glog.info("authenticator.cpp:519", "Initializing server SASL")
        names = flags.get("http_authenticators") or ""
        for flag, realm, where in (
            ("authenticate_http_readonly", READONLY_REALM, "master.cpp:588"),
            ("authenticate_http_readwrite", READWRITE_REALM, "master.cpp:599"),
        ):
            if flags.get(flag):
                self.http_realms[realm] = common.http_authenticator(realm, names, credentials, where)

    def _http_denied(self, realm, headers):
        """libprocess: a route with a realm that has an authenticator needs valid credentials."""
        table = self.http_realms.get(realm) if realm else None
        if table is None:
            return None
        _principal, denied = common.basic_authenticate(headers, realm, table)
        return denied

    def _zk_url(self):
        text = self.flags.get("zk").strip()
        try:
            if text.startswith("file://"):
                text = common.read_file_url(text)
            return common.parse_zk_url(text)
        except ValueError as exc:
            raise Exit(f"Error parsing ZooKeeper URL: {exc}", "main.cpp:447") from None

    def _domain(self):
        text = self.flags.get("domain")
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            try:
                with open(text, encoding="utf-8") as handle:
                    return json.load(handle)
            except (OSError, ValueError):
                return None

    def terminate(self, *_):
        self.stop_event.set()

    def _shutdown(self):
        glog.info("main.cpp:600", "Received SIGTERM; terminating")
        glog.info("master.cpp:1227", "Master terminating")
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

    # --- leadership ---

    @property
    def serving(self):
        return self.elected and self.recovered

    def _detected(self, info):
        with self.lock:
            was = self.elected
            self.leader = info
            now = info is not None and info.get("id") == self.id
            self.elected = now
        if info is not None:
            glog.info("master.cpp:2177", f"The newly elected leader is {info.get('pid')} with id {info.get('id')}")
        else:
            glog.info("master.cpp:2177", "The newly elected leader is None")
        if was and not now:
            glog.exit_failure("master.cpp:2187", "Conceded leadership to another master... committing suicide!")
        if now and not was:
            with self.lock:
                self.elected_time = time.time()
                timeout = self.flags.get("registry_fetch_timeout")
                self.recovery_deadline = time.monotonic() + timeout / NS["secs"]
            glog.info("master.cpp:2194", "Elected as the leading master!")
            glog.info("master.cpp:1768", "Recovering from registrar")

    def _check_recovery(self, replicas):
        with self.lock:
            if not self.elected or self.recovered:
                return
            if replicas >= self.quorum:
                self.recovered = True
                glog.info("registrar.cpp:383", "Successfully fetched the registry (0B) in 0ns")
                glog.info("registrar.cpp:487", "Applied 1 operations in 0ns; attempting to update the registry")
                glog.info(
                    "master.cpp:1896",
                    "Recovered 0 agents from the registry (0B); allowing 10mins for agents to reregister",
                )
                return
            if time.monotonic() > self.recovery_deadline:
                timeout = format_duration(self.flags.get("registry_fetch_timeout"))
                glog.exit_failure(
                    "master.cpp:2102",
                    f"Recovery failed: Failed to recover registrar: Failed to perform fetch within {timeout}",
                )

    # --- ZooKeeper ---

    def _poke(self, *_):
        self.wake.set()

    def _zk_state(self, state):
        if self.stop_event.is_set():
            return
        if state == "SUSPENDED":
            self.suspended_since = time.monotonic()
            glog.info("group.cpp:452", "Lost connection to ZooKeeper, attempting to reconnect ...")
        elif state == "CONNECTED":
            if self.suspended_since is not None:
                glog.info("group.cpp:341", "Group process reconnected to ZooKeeper")
            self.suspended_since = None
        elif state == "LOST":
            self.suspended_since = None
            if self.elected:
                glog.exit_failure("master.cpp:2220", "Lost candidacy as a leader... committing suicide!")
            glog.info("group.cpp:536", "ZooKeeper session expired")
        self.wake.set()

    def _zk_thread(self):
        url = self.zk_url
        timeout = self.flags.get("zk_session_timeout") / NS["secs"]
        self.zk = common.kazoo_client(url, timeout)
        self.zk.add_listener(self._zk_state)
        glog.info("contender.cpp:152", "Joining the ZK group")
        common.zk_connect(self.zk, url.servers, "group.cpp:341")
        from kazoo.exceptions import KazooException

        while not self.stop_event.is_set():
            suspended = self.suspended_since
            if suspended is not None and self.elected and time.monotonic() - suspended > timeout:
                glog.exit_failure("master.cpp:2220", "Lost candidacy as a leader... committing suicide!")
            if self.zk.connected:
                try:
                    self._reconcile()
                except KazooException as exc:
                    if not self.stop_event.is_set():
                        glog.warning("group.cpp:494", f"ZooKeeper operation failed: {exc!r}")
                except Exception as exc:
                    if self.stop_event.is_set():
                        return
                    glog.warning("group.cpp:494", f"ZooKeeper operation failed: {exc!r}")
            self.wake.wait(1.0)
            self.wake.clear()

    def _reconcile(self):
        zk, path = self.zk, self.zk_url.path
        log_path = path.rstrip("/") + "/log_replicas"
        zk.ensure_path(path)
        zk.ensure_path(log_path)
        replicas = zk.get_children(log_path, watch=self._poke)
        if self.replica_node is None or self.replica_node not in replicas:
            if self.replica_node is not None:
                glog.info("group.cpp:700", "Replica group membership lost, joining again")
            created = zk.create(
                log_path + "/", f"log-replica(1)@{self.ip}:{self.port}".encode(), ephemeral=True, sequence=True
            )
            self.replica_node = created.rsplit("/", 1)[1]
            replicas = zk.get_children(log_path, watch=self._poke)
        children = zk.get_children(path, watch=self._poke)
        if self.my_node is None or self.my_node not in children:
            if self.my_node is not None:
                if self.elected:
                    glog.exit_failure("master.cpp:2220", "Lost candidacy as a leader... committing suicide!")
                glog.info("master.cpp:2225", "Lost candidacy as a follower... Contending again")
            created = zk.create(
                path.rstrip("/") + "/json.info_", common.dumps(self.info).encode(), ephemeral=True, sequence=True
            )
            self.my_node = created.rsplit("/", 1)[1]
            glog.info("group.cpp:725", f"Created '{created}' in ZooKeeper")
            children = zk.get_children(path, watch=self._poke)
        members = common.sequence_children(children)
        leader = members[0] if members else None
        if (leader[2] if leader else None) != self.leader_node:
            self.leader_node = leader[2] if leader else None
            info = None
            if leader is not None:
                glog.info("detector.cpp:152", f"Detected a new leader: (id='{leader[0]}')")
                glog.info("group.cpp:700", f"Trying to get '{path.rstrip('/')}/{leader[2]}' in ZooKeeper")
                data, _ = zk.get(path.rstrip("/") + "/" + leader[2])
                info = common.parse_leader_data(leader[1], data)
                if info is not None:
                    glog.info("zookeeper.cpp:262", f"A new leading master (UPID={info.get('pid')}) is detected")
            self._detected(info)
        self._check_recovery(len(common.sequence_children(replicas)))

    # --- registrations (stand-in protocol) and liveness ---

    def _tick(self):
        if self.zk_url is None:
            self._check_recovery(1)
        ping = self.flags.get("agent_ping_timeout") / NS["secs"]
        limit = ping * int(self.flags.get("max_agent_ping_timeouts"))
        now = time.time()
        with self.lock:
            for table, kind in ((self.agents, "Agent"), (self.frameworks, "Framework")):
                for key, entry in list(table.items()):
                    age = now - entry["last_seen"]
                    if age > 2 * limit:
                        del table[key]
                        glog.info("master.cpp:11311", f"Removed {kind.lower()} {key} ({entry['hostname']})")
                    elif age > limit and entry["active"]:
                        entry["active"] = False
                        glog.info(
                            "master.cpp:8406",
                            f"{kind} {key} ({entry['hostname']}) failed health check; marking it inactive",
                        )
                        if kind == "Agent":
                            self._agent_unreachable(key, entry)
            # --max_completed_tasks_per_framework: the oldest ended tasks are forgotten.
            keep = int(self.flags.get("max_completed_tasks_per_framework") or 1000)
            ended = {}
            for task in self.tasks.values():
                if task["state"] in TERMINAL_STATES:
                    ended.setdefault(task["framework_id"], []).append(task)
            for tasks in ended.values():
                for task in sorted(tasks, key=lambda t: t["ended"])[: max(0, len(tasks) - keep)]:
                    del self.tasks[task["id"]]

    def _not_leader(self):
        with self.lock:
            leader = self.leader
            elected = self.elected
        if leader is not None and not elected:
            location = f"//{common.master_host(leader)}:{common.master_address(leader)[1]}"
            return Response(307, headers=[("Location", location)])
        return json_response({"message": "no leader"}, 503)

    def _register(self, kind, body):
        if not self.serving:
            return self._not_leader()
        if kind == "scheduler":
            try:
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("expected an object")
            except ValueError as exc:
                return json_response({"message": f"Failed to parse body: {exc}"}, 400)
            with self.lock:
                return self._scheduler_call(data, time.time())
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("expected an object")
        except ValueError as exc:
            return json_response({"message": f"Failed to parse body: {exc}"}, 400)
        refused = self._authenticate_caller(kind, data)
        if refused is not None:
            return refused
        now = time.time()
        with self.lock:
            if kind == "agents":
                refused = self._agent_refused(data)
                if refused is not None:
                    return refused
                agent_id = self._register_agent(data, now)
                answer = {"id": agent_id}
                if isinstance(data.get("tasks"), list):
                    answer.update(self._reconcile_agent(agent_id, data["tasks"], now))
                return json_response(answer)
            return json_response({"id": self._register_framework(data, now)})

    def _authenticate_caller(self, kind, data):
        """Master::authenticate / _authenticate (CRAM-MD5 against --credentials) for a caller that
        presents a credential, then the --authenticate_agents / --authenticate_frameworks checks of
        Master::registerSlave / reregisterSlave / subscribe. None when the caller may register."""
        pid = str(data.get("pid") or "")
        principal = data.get("principal")
        authenticated = None
        if principal is not None:
            principal = str(principal)
            secret = data.get("secret")
            secret = "" if secret is None else str(secret)
            with self.lock:
                known = self.authenticated.get(pid)
            secrets = self.sasl_secrets or {}
            if principal in secrets and secrets[principal] == secret:
                if known != principal:
                    glog.info("master.cpp:10035", f"Authenticating {pid}")
                    glog.info("authenticator.cpp:213", "Authentication success")
                    glog.info("master.cpp:10068", f"Successfully authenticated principal '{principal}' at {pid}")
                with self.lock:
                    self.authenticated[pid] = principal
                authenticated = principal
            else:
                glog.info("master.cpp:10035", f"Authenticating {pid}")
                reason = "authentication failure" if principal in secrets else "user not found"
                glog.warning("authenticator.cpp:220", f"Authentication failure: {reason}")
                glog.info("master.cpp:10073", f"Authentication of {pid} was unsuccessful: Invalid credentials")
                with self.lock:
                    self.authenticated.pop(pid, None)
                return json_response({"message": "Master refused authentication"}, 401)
        if kind == "agents" and self.flags.get("authenticate_agents") and authenticated is None:
            again = "re-" if data.get("id") else ""
            message = f"Refusing {again}registration of agent at {pid} because it is not authenticated"
            glog.warning("master.cpp:7108" if again else "master.cpp:6826", message)
            return json_response({"message": message}, 403)
        if kind == "frameworks":
            error = None
            if data.get("id") and data.get("id") in self.completed_frameworks:
                error = "Framework has been removed"
            elif self.flags.get("authenticate_frameworks") and authenticated is None:
                error = f"Framework at {pid} is not authenticated"
            if error is not None:
                glog.info(
                    "master.cpp:2669", f"Refusing subscription of framework '{data.get('name')}' at {pid}: {error}"
                )
                return json_response({"message": error}, 403)
        return None

    def _register_agent(self, data, now):
        agent_id = data.get("id")
        entry = self.agents.get(agent_id) if agent_id else None
        if entry is None:
            for key, other in list(self.agents.items()):
                if other["pid"] == data.get("pid") and key != agent_id:
                    del self.agents[key]
                    glog.info("master.cpp:7089", f"Removing old agent {key} at {other['pid']}: a new registration")
            if not agent_id:
                agent_id = f"{self.id}-S{self.next_agent}"
                self.next_agent += 1
                self.counters["slave_registrations"] += 1
                glog.info(
                    "master.cpp:7250", f"Registered agent {agent_id} at {data.get('pid')} ({data.get('hostname')})"
                )
            else:
                self.counters["slave_reregistrations"] += 1
                glog.info(
                    "master.cpp:7598", f"Re-registered agent {agent_id} at {data.get('pid')} ({data.get('hostname')})"
                )
            entry = {"registered_time": now}
            self.agents[agent_id] = entry
        elif not entry["active"]:
            glog.info("master.cpp:7598", f"Agent {agent_id} at {data.get('pid')} is active again")
        pid = str(data.get("pid") or "")
        entry.update(
            {
                "hostname": str(data.get("hostname") or ""),
                "ip": pid.rpartition("@")[2].rpartition(":")[0],
                "port": int(data.get("port") or 5051),
                "pid": pid,
                "attributes": data.get("attributes") or {},
                "resources": common.ordered_resources(
                    {"gpus": 0.0, **{k: v for k, v in (data.get("resources") or {}).items()}}
                ),
                "active": True,
                "last_seen": now,
            }
        )
        return agent_id

    def _register_framework(self, data, now):
        framework_id = data.get("id")
        entry = self.frameworks.get(framework_id) if framework_id else None
        if entry is None:
            if not framework_id:
                framework_id = f"{self.id}-{self.next_framework:04d}"
                self.next_framework += 1
            self.counters["messages_register_framework"] += 1
            glog.info("master.cpp:2735", f"Subscribing framework {data.get('name')} with id {framework_id}")
            entry = {"registered_time": now}
            self.frameworks[framework_id] = entry
        entry.update(
            {
                "name": str(data.get("name") or ""),
                "hostname": str(data.get("hostname") or ""),
                "webui_url": str(data.get("webui_url") or ""),
                "pid": str(data.get("pid") or ""),
                "capabilities": [str(c) for c in data.get("capabilities") or [] if isinstance(c, str)],
                "active": True,
                "last_seen": now,
            }
        )
        return framework_id

    # --- HTTP ---

    def app(self, method, path, query, body, headers=None):
        if path in ("/version", "/version/"):
            return json_response(common.version_body())
        if path == "/metrics/snapshot":
            return self._http_denied(READONLY_REALM, headers) or json_response(self._metrics())
        if path in ("/standin/agents", "/standin/frameworks", "/standin/scheduler", "/master/standin/agents",
                    "/master/standin/frameworks", "/master/standin/scheduler"):
            if method != "POST":
                return Response(405, headers=[("Allow", "POST")])
            return self._register(path.rsplit("/", 1)[1], body)
        if path.startswith("/master/"):
            endpoint = path[len("/master/") :]
        elif path.count("/") == 1 or path.startswith("/redirect/") or path[1:] in MASTER_ROUTE_REALMS:
            endpoint = path[1:]
        else:
            return common.not_found()
        if endpoint == "redirect" or endpoint.startswith("redirect/"):
            return self._redirect(endpoint[len("redirect") :])
        route = endpoint[: -len(".json")] if endpoint.endswith(".json") else endpoint
        if route in MASTER_ROUTE_REALMS:
            denied = self._http_denied(MASTER_ROUTE_REALMS[route], headers)
            if denied is not None:
                return denied
        if route == "teardown":
            return self._teardown(method, body)
        if route == "maintenance/schedule":
            return self._maintenance_schedule(method, body)
        if route in ("machine/down", "machine/up", "maintenance/status", "api/v1"):
            return self._maintenance_route(route, method, body, headers)
        if endpoint not in MASTER_ENDPOINTS:
            if route in MASTER_ROUTE_REALMS:
                return Response(501, f"TEST STAND-IN: {path} is not emulated", "text/plain; charset=utf-8")
            return common.not_found()
        if endpoint == "health":
            return Response(200)
        if endpoint in ("state", "state.json"):
            return json_response(self._state())
        if endpoint == "state-summary":
            return json_response(self._state_summary())
        if endpoint == "slaves":
            return json_response({"slaves": self._slaves(full=True), "recovered_slaves": []})
        if endpoint in ("tasks", "tasks.json"):
            return json_response({"tasks": self._tasks_json(query)})
        if endpoint == "frameworks":
            return json_response(
                {"frameworks": self._frameworks(), "completed_frameworks": [], "unregistered_frameworks": []}
            )
        if endpoint == "flags":
            return json_response({"flags": self.flags.rendered()})
        return common.not_found()

    def _teardown(self, method, body):
        """Http::teardown: POST with form field frameworkId."""
        if method != "POST":
            return Response(
                405,
                f"405 Method Not Allowed. Expecting one of {{ 'POST' }}, but received '{method}'.",
                "text/plain; charset=utf-8",
                [("Allow", "POST")],
            )
        values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("frameworkId")
        if not values:
            return Response(
                400, "Missing 'frameworkId' query parameter in the request body", "text/plain; charset=utf-8"
            )
        with self.lock:
            entry = self.frameworks.pop(values[-1], None)
            if entry is not None:
                self.completed_frameworks.add(values[-1])
        if entry is None:
            return Response(400, "No framework found with specified ID", "text/plain; charset=utf-8")
        glog.info("master.cpp:11030", f"Removing framework {values[-1]} ({entry['name']})")
        with self.lock:
            for task in list(self.tasks.values()):
                if task["framework_id"] == values[-1]:
                    self._update_task(task, "TASK_KILLED", f"Framework {values[-1]} removed",
                                      "REASON_FRAMEWORK_REMOVED")
        return Response(200)

    def _maintenance_schedule(self, method, body):
        """GET: the schedule as JSON ({} when empty); POST: validates and replaces it, machines new
        in it start DRAINING, machines left out of it are UP again (UpdateSchedule)."""
        if method == "GET":
            with self.lock:
                return json_response(self.maintenance_schedule)
        if method != "POST":
            return Response(
                405,
                f"405 Method Not Allowed. Expecting one of {{ 'GET', 'POST' }}, but received '{method}'.",
                "text/plain; charset=utf-8",
                [("Allow", "GET, POST")],
            )
        try:
            schedule = json.loads(body or b"{}")
            if not isinstance(schedule, dict):
                raise ValueError("expected an object")
        except ValueError as exc:
            return Response(400, f"Failed to parse the maintenance schedule: {exc}", "text/plain; charset=utf-8")
        with self.lock:
            try:
                scheduled = maintenance.validate_schedule(schedule, self.machines)
            except maintenance.Invalid as exc:
                return Response(400, str(exc), TEXT)
            updated = {maintenance.machine_key(m): (m, u) for m, u in scheduled}
            for key in list(self.machines):
                if key not in updated:
                    del self.machines[key]  # back to UP
            for key, (machine_id, unavailability) in updated.items():
                entry = self.machines.setdefault(key, {"id": machine_id, "mode": DRAINING})
                entry["unavailability"] = unavailability
            self.maintenance_schedule = schedule
        return Response(200)

    def _redirect(self, rest):
        with self.lock:
            leader = self.leader
        if leader is None:
            return Response(503, "No leader elected", "text/plain; charset=utf-8")
        target = f"//{common.master_host(leader)}:{common.master_address(leader)[1]}"
        if rest:
            target += "/master" + rest
        return Response(307, headers=[("Location", target)])

    def _slaves(self, full=False):
        if not self.serving:
            return []
        out = []
        with self.lock:
            agents = sorted(self.agents.items(), key=lambda item: item[1]["registered_time"])
        for agent_id, entry in agents:
            resources = entry["resources"]
            used = self._used(agent_id)
            slave = {
                "id": agent_id,
                "hostname": entry["hostname"],
                "port": entry["port"],
                "attributes": entry["attributes"],
                "pid": entry["pid"],
                "registered_time": entry["registered_time"],
                "resources": resources,
                "used_resources": used,
                "offered_resources": dict(common.ZERO_RESOURCES),
                "reserved_resources": {},
                "unreserved_resources": resources,
                "active": entry["active"],
                "deactivated": False,
                "version": common.VERSION,
                "capabilities": AGENT_CAPABILITIES,
            }
            if full:
                slave.update(
                    {
                        "reserved_resources_full": {},
                        "unreserved_resources_full": common.resources_full(resources),
                        "used_resources_full": [r for r in common.resources_full(used) if r["scalar"]["value"]],
                        "offered_resources_full": [],
                    }
                )
            out.append(slave)
        return out

    def _frameworks(self):
        if not self.serving:
            return []
        out = []
        with self.lock:
            frameworks = sorted(self.frameworks.items(), key=lambda item: item[1]["registered_time"])
        for framework_id, entry in frameworks:
            with self.lock:
                tasks = sorted((t for t in self.tasks.values() if t["framework_id"] == framework_id),
                               key=lambda t: t["statuses"][0]["timestamp"])
                active = [self._task_json(t) for t in tasks if t["state"] in ACTIVE_STATES]
                unreachable = [self._task_json(t) for t in tasks if t["state"] == "TASK_UNREACHABLE"]
                completed = [self._task_json(t) for t in tasks if t["state"] in TERMINAL_STATES]
                used = self._used(framework_id=framework_id)
            out.append(
                {
                    "id": framework_id,
                    "name": entry["name"],
                    "pid": entry["pid"],
                    "used_resources": used,
                    "offered_resources": dict(common.ZERO_RESOURCES),
                    "capabilities": entry.get("capabilities", []),
                    "hostname": entry["hostname"],
                    "webui_url": entry["webui_url"],
                    "active": entry["active"],
                    "connected": entry["active"],
                    "recovered": False,
                    "user": "root",
                    "failover_timeout": 0.0,
                    "checkpoint": False,
                    "registered_time": entry["registered_time"],
                    "unregistered_time": 0.0,
                    "resources": used,
                    "role": "*",
                    "tasks": active,
                    "unreachable_tasks": unreachable,
                    "completed_tasks": completed[-int(self.flags.get("max_completed_tasks_per_framework") or 1000):],
                    "offers": [],
                    "executors": [],
                    "offer_constraints": {},
                }
            )
        return out

    def _state(self):
        slaves = self._slaves()
        active = sum(1 for s in slaves if s["active"])
        state = common.state_header()
        state["start_time"] = self.start_time
        if self.serving:
            state["elected_time"] = self.elected_time
        state.update(
            {
                "id": self.id,
                "pid": self.info["pid"],
                "hostname": self.info["hostname"],
                "capabilities": MASTER_CAPABILITIES,
                "activated_slaves": float(active),
                "deactivated_slaves": float(len(slaves) - active),
                "unreachable_slaves": 0.0,
            }
        )
        if "domain" in self.info:
            state["domain"] = self.info["domain"]
        with self.lock:
            leader = self.leader
        if leader is not None:
            state["leader"] = leader.get("pid")
            leader_info = {k: leader[k] for k in ("id", "pid", "port", "hostname") if k in leader}
            if "domain" in leader:
                leader_info["domain"] = leader["domain"]
            state["leader_info"] = leader_info
        for name in ("cluster", "log_dir", "external_log_file"):
            if self.flags.get(name):
                state[name] = self.flags.get(name)
        state.update(
            {
                "flags": self.flags.rendered(),
                "slaves": slaves,
                "recovered_slaves": [],
                "frameworks": self._frameworks(),
                "completed_frameworks": [],
                "orphan_tasks": [],
                "unregistered_frameworks": [],
            }
        )
        return state

    def _state_summary(self):
        summary = {"hostname": self.info["hostname"]}
        if self.flags.get("cluster"):
            summary["cluster"] = self.flags.get("cluster")
        frameworks = self._frameworks()
        slaves = []
        with self.lock:
            tasks = list(self.tasks.values())
        for slave in self._slaves():
            entry = {k: slave[k] for k in slave if k != "port"}
            mine = [t for t in tasks if t["slave_id"] == slave["id"]]
            for state in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
                          "TASK_KILLED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE"):
                entry[state] = sum(1 for t in mine if t["state"] == state)
            entry["framework_ids"] = sorted({t["framework_id"] for t in mine if t["state"] in ACTIVE_STATES})
            slaves.append(entry)
        summary["slaves"] = slaves
        summary["frameworks"] = []
        for f in frameworks:
            mine = [t for t in tasks if t["framework_id"] == f["id"]]
            item = {k: f[k] for k in ("id", "name", "pid", "used_resources", "offered_resources", "capabilities",
                                      "hostname", "webui_url", "active", "connected", "recovered")}
            item["TASK_STAGING"] = sum(1 for t in mine if t["state"] == "TASK_STAGING")
            item["TASK_RUNNING"] = sum(1 for t in mine if t["state"] == "TASK_RUNNING")
            item["slave_ids"] = sorted({t["slave_id"] for t in mine if t["state"] in ACTIVE_STATES})
            summary["frameworks"].append(item)
        return summary

    def _metrics(self):
        metrics = dict.fromkeys(MASTER_KEYS, 0.0)
        slaves = self._slaves()
        frameworks = self._frameworks()
        active = [s for s in slaves if s["active"]]
        active_frameworks = [f for f in frameworks if f["active"]]
        totals = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
        for slave in active:
            for name in totals:
                value = slave["resources"].get(name)
                if isinstance(value, float):
                    totals[name] += value
        metrics.update(
            {
                "master/elected": 1.0 if self.serving else 0.0,
                "master/uptime_secs": time.time() - self.start_time,
                "master/slaves_active": float(len(active)),
                "master/slaves_connected": float(len(active)),
                "master/slaves_inactive": float(len(slaves) - len(active)),
                "master/slaves_disconnected": float(len(slaves) - len(active)),
                "master/frameworks_active": float(len(active_frameworks)),
                "master/frameworks_connected": float(len(active_frameworks)),
                "master/frameworks_inactive": float(len(frameworks) - len(active_frameworks)),
                "master/frameworks_disconnected": float(len(frameworks) - len(active_frameworks)),
                "master/slave_registrations": float(self.counters["slave_registrations"]),
                "master/slave_reregistrations": float(self.counters["slave_reregistrations"]),
                "master/messages_register_slave": float(self.counters["slave_registrations"]),
                "master/messages_reregister_slave": float(self.counters["slave_reregistrations"]),
                "master/messages_register_framework": float(self.counters["messages_register_framework"]),
                "registrar/log/recovered": 1.0 if self.recovered else 0.0,
                "registrar/log/ensemble_size": float(2 * self.quorum - 1),
            }
        )
        for name, value in totals.items():
            metrics[f"master/{name}_total"] = value
            metrics[f"allocator/mesos/resources/{name}/total"] = value
        with self.lock:
            states = [t["state"] for t in self.tasks.values()]
            used = self._used()
            counters = dict(self.counters)
        for state in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"):
            metrics["master/tasks_" + state[len("TASK_"):].lower()] = float(states.count(state))
        for state in TERMINAL_STATES:
            key = "tasks_" + state[len("TASK_"):].lower()
            metrics["master/" + key] = float(counters[key])
        for name in SCALARS:
            metrics[f"master/{name}_used"] = used[name]
            if totals[name]:
                metrics[f"master/{name}_percent"] = used[name] / totals[name]
        metrics["master/slave_removals"] = float(counters["slave_removals"])
        metrics["master/messages_launch_tasks"] = float(counters["messages_launch_tasks"])
        metrics["master/messages_kill_task"] = float(counters["messages_kill_task"])
        metrics.pop("allocator/mesos/resources/gpus/total", None)
        metrics.update(common.system_metrics())
        return dict(sorted(metrics.items()))

    # --- tasks (stand-in protocol: launches from /standin/scheduler, reports in /standin/agents) ---
    # Callers of the methods that change tasks hold self.lock.

    def _used(self, agent_id=None, framework_id=None):
        used = dict(common.ZERO_RESOURCES)
        with self.lock:
            tasks = list(self.tasks.values())
        for task in tasks:
            if task["state"] not in ACTIVE_STATES:
                continue
            if (agent_id and task["slave_id"] != agent_id) or (framework_id and task["framework_id"] != framework_id):
                continue
            for name in SCALARS:
                used[name] += float(task["resources"].get(name) or 0.0)
        return {k: round(v, 6) for k, v in used.items()}

    def _partition_aware(self, framework_id):
        entry = self.frameworks.get(framework_id)
        return entry is not None and "PARTITION_AWARE" in entry.get("capabilities", [])

    def _task_json(self, task):
        """json(JSON::ObjectWriter*, const Task&) of src/common/http.cpp (1.11)."""
        out = {
            "id": task["id"],
            "name": task["name"],
            "framework_id": task["framework_id"],
            "executor_id": "",
            "slave_id": task["slave_id"],
            "state": task["state"],
            "resources": common.ordered_resources(dict(task["resources"])),
            "role": "*",
            "statuses": [dict(s) for s in task["statuses"]],
        }
        return out

    def _tasks_json(self, query):
        """/master/tasks: every task the master knows, oldest first; `limit` (default 100) and
        `offset` as the real endpoint takes them."""
        params = parse_qs(query or "")
        try:
            limit = int(params.get("limit", ["100"])[-1])
            offset = int(params.get("offset", ["0"])[-1])
        except ValueError:
            limit, offset = 100, 0
        with self.lock:
            tasks = sorted(self.tasks.values(), key=lambda t: t["statuses"][0]["timestamp"])
            return [self._task_json(t) for t in tasks[offset : offset + limit]]

    def _new_task(self, task_id, name, framework_id, agent_id, resources, state, now):
        task = {
            "id": task_id,
            "name": str(name or task_id),
            "framework_id": str(framework_id or ""),
            "slave_id": agent_id,
            "hostname": (self.agents.get(agent_id) or {}).get("hostname", ""),
            "state": state,
            "resources": {k: float((resources or {}).get(k) or 0.0) for k in SCALARS},
            "statuses": [{"state": state, "timestamp": now}],
            "delivered": False,
            "kill": False,
            "ended": now if state in TERMINAL_STATES else None,
        }
        self.tasks[task_id] = task
        return task

    def _update_task(self, task, state, message=None, reason=None):
        """Master::updateTask: a terminal task keeps its state; a terminal transition counts."""
        if task["state"] in TERMINAL_STATES or state == task["state"]:
            return
        now = time.time()
        task["state"] = state
        status = {"state": state, "timestamp": now}
        task["statuses"].append(status)
        task["message"], task["reason"] = message, reason
        if state in TERMINAL_STATES:
            task["ended"] = now
            self.counters["tasks_" + state[len("TASK_"):].lower()] += 1
        glog.info(
            "master.cpp:11873",
            f"Updating the state of task {task['id']} of framework {task['framework_id']} (latest state: {state}, "
            f"status update state: {state})",
        )

    def _agent_machine_key(self, entry):
        return (entry["hostname"].lower(), entry.get("ip", ""))

    def _agent_refused(self, data):
        """Master::registerSlave / reregisterSlave for gone agents and agents on a DOWN machine:
        a ShutdownMessage instead of a registration (403 with "shutdown": true)."""
        agent_id = data.get("id")
        pid = str(data.get("pid") or "")
        again = "re-" if agent_id else ""
        message = None
        if agent_id and agent_id in self.agent_shutdowns:
            message = self.agent_shutdowns.pop(agent_id)
        elif agent_id and agent_id in self.gone:
            glog.warning("master.cpp:7125",
                         f"Refusing re-registration of agent at {pid} because it is already marked gone")
            message = "Agent has been marked gone"
        else:
            key = (str(data.get("hostname") or "").lower(), pid.rpartition("@")[2].rpartition(":")[0])
            machine = self.machines.get(key)
            if machine is not None and machine["mode"] == DOWN:
                glog.warning(
                    "master.cpp:7163" if again else "master.cpp:6888",
                    f"Refusing {again}registration of agent at {pid} because the machine "
                    f"'{maintenance.machine_json(machine['id'])}' that it is running on is `DOWN`",
                )
                message = "Machine is `DOWN`"
        if message is None:
            return None
        return json_response({"message": message, "shutdown": True}, 403)

    def _reconcile_agent(self, agent_id, reported, now):
        """The agent's full list of tasks against the master's: states move on, tasks the master
        does not know are re-added (master failover), tasks the master has ended are killed,
        tasks the master placed there are handed over until the agent reports them."""
        launch, kill, ack = [], [], []
        seen = set()
        for item in reported:
            if not isinstance(item, dict) or not item.get("task_id"):
                continue
            task_id, state = str(item["task_id"]), str(item.get("state") or "TASK_RUNNING")
            seen.add(task_id)
            task = self.tasks.get(task_id)
            if task is None:
                task = self._new_task(task_id, item.get("name"), item.get("framework_id"), agent_id,
                                      item.get("resources"), state, now)
                glog.info("master.cpp:7790", f"Re-adding task {task_id} of framework {task['framework_id']} that "
                                             f"runs on agent {agent_id}")
            task["delivered"] = True
            if task["slave_id"] != agent_id or (task["state"] in TERMINAL_STATES and state not in TERMINAL_STATES):
                kill.append(task_id)
                continue
            self._update_task(task, state, item.get("message"), item.get("reason"))
            if state in TERMINAL_STATES:
                ack.append(task_id)
            elif task["kill"]:
                kill.append(task_id)
        for task in self.tasks.values():
            if task["slave_id"] != agent_id or task["id"] in seen or task["state"] in TERMINAL_STATES:
                continue
            if not task["delivered"]:
                launch.append({k: task[k] for k in ("id", "name", "framework_id", "resources")}
                              | {"task_id": task["id"], "cmd": task.get("cmd", ""), "env": task.get("env", {})})
            elif task["state"] != "TASK_UNREACHABLE":
                # ReconcileTasksMessage: a task the agent does not know is dropped (lost for
                # frameworks that are not partition-aware).
                partition_aware = self._partition_aware(task["framework_id"])
                self._update_task(task, "TASK_DROPPED" if partition_aware else "TASK_LOST",
                                  "Reconciliation: task unknown to the agent", "REASON_RECONCILIATION")
        return {"launch": launch, "kill": kill, "ack": ack}

    def _agent_unreachable(self, agent_id, entry):
        """An agent that failed its health checks: TASK_UNREACHABLE (TASK_LOST if the framework is
        not partition-aware), as Master::markUnreachable does."""
        for task in self.tasks.values():
            if task["slave_id"] == agent_id and task["state"] in ACTIVE_STATES:
                aware = self._partition_aware(task["framework_id"])
                self._update_task(task, "TASK_UNREACHABLE" if aware else "TASK_LOST",
                                  "health check timed out", "REASON_SLAVE_REMOVED")

    def _remove_agent(self, agent_id, cause, state, reason, message):
        entry = self.agents.pop(agent_id)
        glog.info("master.cpp:11228", f"Removing agent {agent_id} at {entry['pid']} ({entry['hostname']}): {cause}")
        for task in self.tasks.values():
            if task["slave_id"] == agent_id and task["state"] not in TERMINAL_STATES:
                new_state = state
                if state == "TASK_GONE_BY_OPERATOR" and not self._partition_aware(task["framework_id"]):
                    new_state, reason = "TASK_LOST", "REASON_SLAVE_REMOVED"
                self._update_task(task, new_state, message, reason)
        self.counters["slave_removals"] += 1
        self.agent_shutdowns[agent_id] = cause
        glog.info("master.cpp:11283", f"Removed agent {agent_id} ({entry['hostname']}): {cause}")

    # --- the scheduler side of the stand-in protocol ---

    def _scheduler_call(self, data, now):
        framework_id = str(data.get("framework_id") or "")
        if framework_id in self.completed_frameworks:
            return json_response({"message": "Framework has been removed"}, 403)
        framework = self.frameworks.get(framework_id)
        if framework is None:
            return json_response({"message": f"Framework {framework_id} is not subscribed"}, 404)
        framework["last_seen"] = now
        framework["active"] = True
        for task_id in data.get("kill") or []:
            task = self.tasks.get(str(task_id))
            if task is None or task["framework_id"] != framework_id or task["state"] in TERMINAL_STATES:
                continue
            self.counters["messages_kill_task"] += 1
            glog.info("master.cpp:5780", f"Telling agent {task['slave_id']} to kill task {task['id']} of framework "
                                         f"{framework_id} ({framework['name']})")
            task["kill"] = True
            if not task["delivered"] or task["state"] == "TASK_UNREACHABLE":
                self._update_task(task, "TASK_KILLED", "Killed before the agent started it", "REASON_TASK_KILLED")
        for item in data.get("launch") or []:
            if isinstance(item, dict):
                self._launch(framework_id, framework, item, now)
        tasks = [
            {"task_id": t["id"], "agent_id": t["slave_id"], "hostname": t["hostname"], "state": t["state"],
             "name": t["name"],
             "message": t.get("message"), "reason": t.get("reason"), "timestamp": t["statuses"][-1]["timestamp"]}
            for t in self.tasks.values()
            if t["framework_id"] == framework_id
            and (t["state"] not in TERMINAL_STATES or now - (t["ended"] or now) < ENDED_TASKS_SHOWN_SECS)
        ]
        return json_response({"offers": self._offers(), "tasks": tasks})

    def _offers(self):
        """What the allocator would offer: every active agent's unallocated resources, with the
        unavailability of its machine when that machine is scheduled for maintenance."""
        out = []
        for agent_id, entry in sorted(self.agents.items(), key=lambda item: item[1]["registered_time"]):
            if not entry["active"]:
                continue
            machine = self.machines.get(self._agent_machine_key(entry))
            if machine is not None and machine["mode"] == DOWN:
                continue
            used = self._used(agent_id)
            free = {}
            for name in SCALARS:
                total = entry["resources"].get(name)
                free[name] = round((total if isinstance(total, float) else 0.0) - used[name], 6)
            if free["cpus"] < 0.01 and free["mem"] < 32:  # --min_allocatable_resources=cpus:0.01|mem:32
                continue
            offer = {"agent_id": agent_id, "hostname": entry["hostname"], "resources": free,
                     "attributes": entry["attributes"]}
            if machine is not None and machine.get("unavailability"):
                offer["unavailability"] = machine["unavailability"]
            out.append(offer)
        return out

    def _launch(self, framework_id, framework, item, now):
        task_id = str(item.get("task_id") or "")
        if not task_id or task_id in self.tasks:
            return
        agent_id = str(item.get("agent_id") or "")
        resources = {k: float((item.get("resources") or {}).get(k) or 0.0) for k in SCALARS}
        self.counters["messages_launch_tasks"] += 1
        task = self._new_task(task_id, item.get("name"), framework_id, agent_id, resources, "TASK_STAGING", now)
        task["cmd"] = str(item.get("cmd") or "")
        task["env"] = {str(k): str(v) for k, v in (item.get("env") or {}).items()}
        agent = self.agents.get(agent_id)
        aware = self._partition_aware(framework_id)
        if agent is None or not agent["active"]:
            self._update_task(task, "TASK_DROPPED" if aware else "TASK_LOST",
                              f"Task launched with invalid offers: Agent {agent_id} is not available",
                              "REASON_INVALID_OFFERS")
            return
        used = self._used(agent_id)
        for name in SCALARS:
            total = agent["resources"].get(name)
            total = total if isinstance(total, float) else 0.0
            if used[name] > total + 1e-9:
                self._update_task(task, "TASK_ERROR", f"Task uses more resources {name}:{resources[name]:g} than "
                                                      f"available {name}:{total - used[name] + resources[name]:g}",
                                  "REASON_TASK_INVALID")
                return
        glog.info("master.cpp:4163", f"Launching task {task_id} of framework {framework_id} ({framework['name']}) "
                                     f"with resources cpus(allocated: *):{resources['cpus']:g}; mem(allocated: *):"
                                     f"{resources['mem']:g} on agent {agent_id} at {agent['pid']} "
                                     f"({agent['hostname']})")

    # --- maintenance and the operator API ---

    def _maintenance_route(self, route, method, body, headers):
        if route == "api/v1":
            return self._api_v1(method, body, headers)
        allowed = "GET" if route == "maintenance/status" else "POST"
        if method != allowed:
            return Response(
                405,
                f"405 Method Not Allowed. Expecting one of {{ '{allowed}' }}, but received '{method}'.",
                TEXT,
                [("Allow", allowed)],
            )
        if not self.serving:
            return self._redirect("/" + route) if self.leader is not None and not self.elected else Response(
                503, "No leader elected", TEXT)
        if route == "maintenance/status":
            with self.lock:
                return json_response(maintenance.cluster_status(self.machines))
        try:
            ids = maintenance.parse_machines(body)
        except maintenance.Invalid as exc:
            return Response(400, str(exc), TEXT)
        return self._machines_down(ids) if route == "machine/down" else self._machines_up(ids)

    def _refuse_unless(self, ids, mode, direction):
        """The 400 of machine/down (mode DRAINING) or machine/up (mode DOWN) for the first machine
        not scheduled or not in that mode; None when all are. Called with the lock held."""
        for machine_id in ids:
            entry = self.machines.get(maintenance.machine_key(machine_id))
            text = maintenance.machine_json(machine_id)
            if entry is None:
                return Response(400, f"Machine '{text}' is not part of a maintenance schedule", TEXT)
            if entry["mode"] != mode:
                return Response(400, f"Machine '{text}' is not in {mode} mode and cannot be brought {direction}", TEXT)
        return None

    def _machines_down(self, ids):
        """Master::Http::_startMaintenance."""
        with self.lock:
            refused = self._refuse_unless(ids, DRAINING, "down")
            if refused is not None:
                return refused
            cause = "Operator initiated 'Machine DOWN'"
            for machine_id in ids:
                key = maintenance.machine_key(machine_id)
                for agent_id, agent in list(self.agents.items()):
                    if self._agent_machine_key(agent) == key:
                        self._remove_agent(agent_id, cause, "TASK_LOST", "REASON_SLAVE_REMOVED",
                                           f"Agent {agent['hostname']} removed: {cause}")
                self.machines[key]["mode"] = DOWN
        return Response(200)

    def _machines_up(self, ids):
        """Master::Http::_stopMaintenance."""
        with self.lock:
            refused = self._refuse_unless(ids, DOWN, "up")
            if refused is not None:
                return refused
            keys = {maintenance.machine_key(m) for m in ids}
            for key in keys:
                del self.machines[key]
            self.maintenance_schedule = maintenance.remove_from_schedule(self.maintenance_schedule, keys)
        return Response(200)

    def _mark_gone(self, agent_id):
        """Master::Http::_markAgentGone, then Master::markGone: the agent is shut down, its tasks
        are TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not partition-aware)."""
        glog.info("http.cpp:3433", f"Marking agent '{agent_id}' as gone")
        with self.lock:
            if agent_id in self.gone:
                glog.warning("http.cpp:3436", f"Not marking agent '{agent_id}' as gone because it has already "
                                              "transitioned to gone")
                return Response(200)
            if agent_id not in self.agents:
                return Response(404, f"Agent '{agent_id}' not found", TEXT)
            message = "Agent has been marked gone"
            self._remove_agent(agent_id, message, "TASK_GONE_BY_OPERATOR", "REASON_SLAVE_REMOVED_BY_OPERATOR",
                               message)
            self.gone[agent_id] = time.time()
        return Response(200)

    def _api_v1(self, method, body, headers):
        """Master::Http::api (the v1 operator API); the calls of the maintenance flow are emulated."""
        with self.lock:
            leader, elected = self.leader, self.elected
        if not elected:
            if leader is None:
                return Response(503, "No leader elected", TEXT)
            return Response(307, headers=[("Location",
                                           f"//{common.master_host(leader)}:{common.master_address(leader)[1]}/api/v1")])
        if not self.recovered:
            return Response(503, "Master has not finished recovery", TEXT)
        if method != "POST":
            return Response(405, f"405 Method Not Allowed. Expecting one of {{ 'POST' }}, but received '{method}'.",
                            TEXT, [("Allow", "POST")])
        content_type = headers.get("Content-Type") if headers is not None else None
        if content_type is None:
            return Response(400, "Expecting 'Content-Type' to be present", TEXT)
        if content_type == "application/x-protobuf":
            return Response(501, "TEST STAND-IN: protobuf calls are not emulated", TEXT)
        if content_type != "application/json":
            return Response(415, "Expecting 'Content-Type' of application/json or application/x-protobuf", TEXT)
        try:
            call = json.loads(body or b"")
        except ValueError as exc:
            return Response(400, f"Failed to parse body into JSON: {exc}", TEXT)
        if not isinstance(call, dict) or not isinstance(call.get("type"), str):
            return Response(400, "Failed to convert JSON into Call protobuf: Missing required fields: type", TEXT)
        accept = (headers.get("Accept") or "*/*") if headers is not None else "*/*"
        media = [part.split(";")[0].strip() for part in accept.split(",")]
        if not any(m in ("application/json", "application/*", "*/*") for m in media):
            if "application/x-protobuf" in media:
                return Response(501, "TEST STAND-IN: protobuf responses are not emulated", TEXT)
            return Response(406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'", TEXT)
        kind = call["type"]
        glog.info("http.cpp:1115", f"Processing call {kind}")
        field = kind.lower()
        if kind == "GET_HEALTH":
            return json_response({"type": kind, "get_health": {"healthy": True}})
        if kind == "GET_MAINTENANCE_STATUS":
            with self.lock:
                status = maintenance.cluster_status(self.machines)
            return json_response({"type": kind, "get_maintenance_status": {"status": status}})
        if kind == "GET_MAINTENANCE_SCHEDULE":
            with self.lock:
                schedule = self.maintenance_schedule
            return json_response({"type": kind, "get_maintenance_schedule": {"schedule": schedule}})
        if kind in ("MARK_AGENT_GONE", "START_MAINTENANCE", "STOP_MAINTENANCE", "UPDATE_MAINTENANCE_SCHEDULE"):
            if not isinstance(call.get(field), dict):
                return Response(400, f"Failed to validate master::Call: Expecting '{field}' to be present", TEXT)
            inner = call[field]
            if kind == "MARK_AGENT_GONE":
                agent = inner.get("agent_id")
                agent_id = agent.get("value") if isinstance(agent, dict) else None
                if not isinstance(agent_id, str):
                    return Response(400, "Failed to convert JSON into Call protobuf: Missing required fields: "
                                         "mark_agent_gone.agent_id", TEXT)
                return self._mark_gone(agent_id)
            if kind == "UPDATE_MAINTENANCE_SCHEDULE":
                return self._maintenance_schedule("POST", json.dumps(inner.get("schedule") or {}).encode())
            try:
                ids = maintenance.validate_machines(inner.get("machines") or [])
            except maintenance.Invalid as exc:
                return Response(400, str(exc), TEXT)
            return self._machines_down(ids) if kind == "START_MAINTENANCE" else self._machines_up(ids)
        return Response(501, f"TEST STAND-IN: the call {kind} is not emulated", TEXT)
