"""ZooKeeper: the Curator leader latch Marathon 1.x uses, and the persistent state.

Latch: <zk path>/leader-curator/_c_<uuid>-latch-<10 digit seq> (EPHEMERAL|SEQUENTIAL, protected),
data = hostPort; leader = lowest sequence. State: <zk path>/state/... (apps, framework id).
kazoo is imported lazily so that option parsing works without it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

log = logging.getLogger("marathon.zk")


def make_client(zk_url, session_timeout_ms: int, name: str):
    """A started-later kazoo client for a parsed ZkUrl (digest auth and CREATOR_ALL with credentials)."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry
    from kazoo.security import CREATOR_ALL_ACL, OPEN_ACL_UNSAFE

    auth = zk_url.auth
    client = KazooClient(
        hosts=zk_url.hosts,
        timeout=max(session_timeout_ms, 1000) / 1000.0,
        auth_data=[("digest", auth)] if auth else None,
        default_acl=CREATOR_ALL_ACL if auth else OPEN_ACL_UNSAFE,
        connection_retry=KazooRetry(max_tries=-1, delay=0.2, backoff=1.5, max_delay=3),
        logger=logging.getLogger(f"kazoo.{name}"),
    )
    return client


def start_client(client, connect_timeout_ms: int, stopping: threading.Event, what: str) -> bool:
    """Connects, retrying until it works or the process stops. Returns False when stopping."""
    while not stopping.is_set():
        try:
            client.start(timeout=max(connect_timeout_ms, 1000) / 1000.0)
            log.info("Connected to ZooKeeper (%s)", what)
            return True
        except Exception as e:
            log.warning("Could not connect to ZooKeeper (%s): %s; retrying", what, e)
            stopping.wait(1.0)
    return False


def latch_sequence(child: str) -> str:
    return child.rsplit("latch-", 1)[1] if "latch-" in child else child


class Election:
    """LeaderLatch participant. Calls state.on_elected() once, state.fatal() when leadership is lost."""

    def __init__(self, state, client, latch_path: str):
        self.state = state
        self.client = client
        self.path = latch_path
        self.protected_id = None
        self.node = None
        self.session = None
        self.wake = threading.Event()
        self.last_leader = None

    def _watch(self, _event) -> None:
        self.wake.set()

    def _listener(self, zk_state) -> None:
        from kazoo.protocol.states import KazooState

        if self.state.stopping.is_set():
            return
        if zk_state == KazooState.LOST:
            log.warning("ZooKeeper session lost")
            if self.state.elected:
                log.error("Lost leadership (ZooKeeper session lost); exiting")
                self.state.fatal(1, "leadership lost")
        elif zk_state == KazooState.SUSPENDED:
            log.warning("ZooKeeper connection suspended")
        self.wake.set()

    def start(self) -> None:
        self.client.add_listener(self._listener)
        threading.Thread(target=self.run, name="election", daemon=True).start()

    def _create(self) -> str:
        from kazoo.exceptions import ConnectionLoss, OperationTimeoutError

        if self.protected_id is None:
            self.protected_id = str(uuid.uuid4())
        prefix = f"_c_{self.protected_id}-latch-"
        try:
            created = self.client.create(f"{self.path}/{prefix}", self.state.host_port.encode(),
                                         ephemeral=True, sequence=True, makepath=True)
            return created.rsplit("/", 1)[1]
        except (ConnectionLoss, OperationTimeoutError):
            # Protected mode: the node may exist although the answer was lost.
            for child in self.client.get_children(self.path):
                if child.startswith(prefix):
                    return child
            raise

    def run(self) -> None:
        from kazoo.exceptions import KazooException, NoNodeError
        from kazoo.protocol.states import KazooState

        while not self.state.stopping.is_set():
            try:
                if self.client.state != KazooState.CONNECTED:
                    self._lost_or_unknown()
                else:
                    self._step()
            except NoNodeError:
                continue  # a participant went away while reading: look again
            except KazooException as e:
                if self.state.stopping.is_set():
                    return
                log.warning("Leader election: %s: %s", type(e).__name__, e)
                self.state.stopping.wait(0.5)
                continue
            except Exception:
                log.exception("Leader election failed")
                self.state.fatal(1, "leader election failed")
                return
            self.wake.wait(2.0)
            self.wake.clear()

    def _lost_or_unknown(self) -> None:
        session = self.client.client_id
        if self.node is not None and session is not None and self.session is not None and session != self.session:
            self._node_gone()

    def _node_gone(self) -> None:
        if self.state.elected:
            log.error("Lost leadership (latch node %s gone); exiting", self.node)
            self.state.fatal(1, "leadership lost")
        self.node = None
        self.protected_id = None

    def _step(self) -> None:
        session = self.client.client_id
        if self.node is not None and session != self.session:
            self._node_gone()  # session expired: the ephemeral node is gone
        if self.node is None:
            self.node = self._create()
            self.session = session
            log.info("Joined the leader election as %s/%s", self.path, self.node)
        children = self.client.get_children(self.path, watch=self._watch)
        latches = sorted((c for c in children if "latch-" in c), key=latch_sequence)
        if self.node not in latches:
            self._node_gone()
            return
        ids = [self.client.get(f"{self.path}/{c}")[0].decode("utf-8", "replace") for c in latches]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            log.error("java.lang.IllegalStateException: Multiple election participants have the same id: %s",
                      ", ".join(duplicates))
            self.state.fatal(1, "Multiple election participants have the same id")
            return
        leader = ids[0]
        if latches[0] == self.node:
            if not self.state.elected:
                log.info("Elected as leader (%s)", self.state.host_port)
                self.state.set_leader(leader)
                self.state.on_elected()
        else:
            if self.state.elected:
                log.error("Lost leadership (leader is now %s); exiting", leader)
                self.state.fatal(1, "leadership lost")
                return
            if leader != self.last_leader:
                log.info("Defeated (leader is %s)", leader)
        self.last_leader = leader
        self.state.set_leader(leader)


def escape_app_id(app_id: str) -> str:
    """'/group/app' -> 'group_app' ('_' cannot appear in an app id)."""
    return app_id.strip("/").replace("/", "_")


class MemoryStore:
    def __init__(self):
        self.apps: dict = {}
        self.framework_id = None
        self.lock = threading.Lock()

    def list_apps(self) -> list:
        with self.lock:
            return [json.loads(v) for _, v in sorted(self.apps.items())]

    def get_app(self, app_id: str):
        with self.lock:
            v = self.apps.get(app_id)
        return json.loads(v) if v else None

    def create_app(self, app: dict) -> bool:
        with self.lock:
            if app["id"] in self.apps:
                return False
            self.apps[app["id"]] = json.dumps(app)
            return True

    def put_app(self, app: dict) -> None:
        with self.lock:
            self.apps[app["id"]] = json.dumps(app)

    def delete_app(self, app_id: str) -> bool:
        with self.lock:
            return self.apps.pop(app_id, None) is not None

    def get_framework_id(self):
        return self.framework_id

    def set_framework_id(self, fid: str) -> None:
        self.framework_id = fid


class ZkStore:
    """Persistent state under <zk path>/state, so that it survives leader failover."""

    def __init__(self, client, zk_path: str):
        self.client = client
        self.base = zk_path.rstrip("/") + "/state"
        self.apps_path = self.base + "/apps"
        self.lock = threading.Lock()

    def _wait_connected(self) -> None:
        from kazoo.protocol.states import KazooState

        deadline = time.monotonic() + 5
        while self.client.state != KazooState.CONNECTED and time.monotonic() < deadline:
            time.sleep(0.1)

    def list_apps(self) -> list:
        from kazoo.exceptions import NoNodeError

        self._wait_connected()
        try:
            children = sorted(self.client.get_children(self.apps_path))
        except NoNodeError:
            return []
        apps = []
        for child in children:
            try:
                apps.append(json.loads(self.client.get(f"{self.apps_path}/{child}")[0]))
            except NoNodeError:
                continue
        return sorted(apps, key=lambda a: a["id"])

    def get_app(self, app_id: str):
        from kazoo.exceptions import NoNodeError

        self._wait_connected()
        try:
            return json.loads(self.client.get(f"{self.apps_path}/{escape_app_id(app_id)}")[0])
        except NoNodeError:
            return None

    def create_app(self, app: dict) -> bool:
        from kazoo.exceptions import NodeExistsError

        self._wait_connected()
        try:
            self.client.create(f"{self.apps_path}/{escape_app_id(app['id'])}", json.dumps(app).encode(),
                               makepath=True)
            return True
        except NodeExistsError:
            return False

    def put_app(self, app: dict) -> None:
        from kazoo.exceptions import NoNodeError

        self._wait_connected()
        path = f"{self.apps_path}/{escape_app_id(app['id'])}"
        try:
            self.client.set(path, json.dumps(app).encode())
        except NoNodeError:
            self.client.create(path, json.dumps(app).encode(), makepath=True)

    def delete_app(self, app_id: str) -> bool:
        from kazoo.exceptions import NoNodeError

        self._wait_connected()
        try:
            self.client.delete(f"{self.apps_path}/{escape_app_id(app_id)}")
            return True
        except NoNodeError:
            return False

    def get_framework_id(self):
        from kazoo.exceptions import NoNodeError

        self._wait_connected()
        try:
            data = self.client.get(self.base + "/framework-id")[0]
        except NoNodeError:
            return None
        return data.decode() or None

    def set_framework_id(self, fid: str) -> None:
        from kazoo.exceptions import NoNodeError

        self._wait_connected()
        try:
            self.client.set(self.base + "/framework-id", fid.encode())
        except NoNodeError:
            self.client.create(self.base + "/framework-id", fid.encode(), makepath=True)
