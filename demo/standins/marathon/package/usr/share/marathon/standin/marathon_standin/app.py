"""Process wiring: options, HTTP server, leader election, Mesos registration, signals."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from . import BUILDREF, VERSION
from .options import ZkUrl, parse_or_exit, split_list

log = logging.getLogger("marathon")


class State:
    def __init__(self, opts):
        self.opts = opts
        self.scheme = "http"
        self.host_port = f"{opts['hostname']}:{opts['http_port']}"
        self.stopping = threading.Event()
        self.elected = False
        self.leader = None
        self.framework_id = None
        self.mesos_ui_url = None
        self.zk_client = None
        self.extra_clients: list = []
        self.store = None
        self.mesos_leader = None  # the Mesos master registered with (mesos.MesosLeader)
        self.registrar = None
        self.scheduler = None
        self.lock = threading.Lock()
        self._exit_lock = threading.Lock()

    # -- election callbacks ---------------------------------------------------------------
    def set_leader(self, leader) -> None:
        self.leader = leader

    def on_elected(self) -> None:
        from .mesos import Registrar, libmesos_error
        from .scheduler import Scheduler

        error = libmesos_error()
        if error:
            log.error("%s", error)
            self.fatal(1, "the native Mesos library could not be loaded")
            return
        self.elected = True
        self.registrar = Registrar(self)
        self.registrar.start()
        self.scheduler = Scheduler(self)
        self.scheduler.start()

    def set_mesos(self, framework_id, ui_url) -> None:
        with self.lock:
            if framework_id:
                self.framework_id = framework_id
            if ui_url:
                self.mesos_ui_url = ui_url

    # -- exit ---------------------------------------------------------------------------
    def fatal(self, code: int, reason: str) -> None:
        """Ends the process from any thread: closes the ZooKeeper sessions first."""
        threading.Thread(target=self.exit, args=(code, reason), name="exit", daemon=True).start()

    def exit(self, code: int, reason: str) -> None:
        if not self._exit_lock.acquire(blocking=False):
            return
        log.info("Shutting down (%s), exit code %d", reason, code)
        self.stopping.set()
        self.elected = False
        clients = [c for c in [self.zk_client, *self.extra_clients] if c is not None]

        def close():
            for client in clients:
                try:
                    client.stop()
                    client.close()
                except Exception as e:
                    log.warning("Closing the ZooKeeper client: %s", e)

        closer = threading.Thread(target=close, daemon=True)
        closer.start()
        closer.join(5.0)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    # -- /v2/info -----------------------------------------------------------------------
    def info(self) -> dict:
        o = self.opts
        master = o["master"]
        if master.startswith("zk://"):
            parsed = ZkUrl.parse(master)
            master = parsed.redacted if parsed else master
        zk = ZkUrl.parse(o["zk"])
        origin = o["access_control_allow_origin"]
        features = split_list(o["enable_features"]) if o["enable_features"] else []
        return {
            "name": "marathon",
            "version": VERSION,
            "buildref": BUILDREF,
            "elected": self.elected,
            "leader": self.leader,
            "frameworkId": self.framework_id,
            "marathon_config": {
                "access_control_allow_origin": split_list(origin) if origin else None,
                "checkpoint": o["checkpoint"],
                "decline_offer_duration": o["decline_offer_duration"],
                "default_network_name": o["default_network_name"],
                "env_vars_prefix": o["env_vars_prefix"],
                "executor": o["executor"],
                "failover_timeout": o["failover_timeout"],
                "features": features,
                "framework_name": o["framework_name"],
                "ha": o["ha"],
                "hostname": o["hostname"],
                "launch_token": o["launch_tokens"],
                "launch_token_refresh_interval": o["launch_token_refresh_interval"],
                "leader_proxy_connection_timeout_ms": o["leader_proxy_connection_timeout"],
                "leader_proxy_read_timeout_ms": o["leader_proxy_read_timeout"],
                "local_port_max": o["local_port_max"],
                "local_port_min": o["local_port_min"],
                "master": master,
                "max_instances_per_offer": o["max_instances_per_offer"],
                "mesos_bridge_name": o["mesos_bridge_name"],
                "mesos_heartbeat_failure_threshold": o["mesos_heartbeat_failure_threshold"],
                "mesos_heartbeat_interval": o["mesos_heartbeat_interval"],
                "mesos_leader_ui_url": self.mesos_ui_url,
                "mesos_role": o["mesos_role"],
                "mesos_user": o["mesos_user"],
                "new_group_enforce_role": o["new_group_enforce_role"],
                "min_revive_offers_interval": o["min_revive_offers_interval"],
                "offer_matching_timeout": o["offer_matching_timeout"],
                "on_elected_prepare_timeout": o["on_elected_prepare_timeout"],
                "reconciliation_initial_delay": o["reconciliation_initial_delay"],
                "reconciliation_interval": o["reconciliation_interval"],
                "scale_apps_initial_delay": o["scale_apps_initial_delay"],
                "scale_apps_interval": o["scale_apps_interval"],
                "store_cache": o["store_cache"],
                "task_launch_confirm_timeout": o["task_launch_confirm_timeout"],
                "task_launch_timeout": o["task_launch_timeout"],
                "task_lost_expunge_initial_delay": o["task_lost_expunge_initial_delay"],
                "task_lost_expunge_interval": o["task_lost_expunge_interval"],
                "task_reservation_timeout": o["task_reservation_timeout"],
                "webui_url": o["webui_url"],
                "maintenance_mode": o["maintenance_mode"],
            },
            "zookeeper_config": {
                "zk": zk.redacted if zk else o["zk"],
                "zk_compression": o["zk_compression"],
                "zk_compression_threshold": o["zk_compression_threshold"],
                "zk_connection_timeout": o["zk_connection_timeout"],
                "zk_max_node_size": o["zk_max_node_size"],
                "zk_max_versions": o["zk_max_versions"],
                "zk_session_timeout": o["zk_session_timeout"],
                "zk_timeout": o["zk_timeout"],
            },
            "http_config": {"http_port": o["http_port"], "https_port": o["https_port"]},
        }


def setup_logging(level: str | None) -> None:
    levels = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "warning": logging.WARNING, "error": logging.ERROR, "off": logging.CRITICAL + 10}
    logging.basicConfig(
        stream=sys.stdout, level=levels.get((level or "info").lower(), logging.INFO),
        format="[%(asctime)s] %(levelname)-5s %(message)s (%(name)s:%(threadName)s)")
    logging.getLogger("kazoo").setLevel(logging.WARNING)


def main(argv: list[str]) -> int:
    opts = parse_or_exit(argv)
    setup_logging(opts["logging_level"])
    log.info("TEST STAND-IN for Marathon %s/%s (not the real Marathon)", VERSION, BUILDREF)
    jvm = os.environ.get("STANDIN_MARATHON_JVM_ARGS", "").strip()
    if jvm:
        log.info("JVM arguments accepted and ignored: %s", jvm)
    if opts["disable_http"]:
        log.error("--disable_http (HTTPS only) is not supported by this TEST STAND-IN")
        return 1
    state = State(opts)

    def on_signal(signum, _frame):
        state.exit(0, signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    use_zk = opts["ha"] or "zk" in opts.supplied
    if use_zk:
        try:
            from . import zk as zkmod
        except ImportError as e:  # pragma: no cover - kazoo is a package dependency
            log.error("kazoo is required for ZooKeeper: %s", e)
            return 1
        url = ZkUrl.parse(opts["zk"])
        state.zk_client = zkmod.make_client(url, opts["zk_session_timeout"], "marathon")
        state.store = zkmod.ZkStore(state.zk_client, url.path)
    else:
        from .zk import MemoryStore

        state.store = MemoryStore()

    from .http_api import http_credentials, serve

    if opts["http_credentials"] and http_credentials(opts) is None:
        logging.getLogger("marathon.http").error(
            "The HTTP credentials must be specified in the form of 'user:password'.")

    address = opts["http_address"] or "0.0.0.0"
    try:
        serve(state, address, opts["http_port"])
    except OSError as e:
        log.error("Cannot bind HTTP on %s:%s: %s", address, opts["http_port"], e)
        return 1
    log.info("HTTP API listening on %s:%s as %s", address, opts["http_port"], state.host_port)

    def start_election():
        if use_zk:
            from .zk import Election, start_client

            if not start_client(state.zk_client, opts["zk_connection_timeout"], state.stopping,
                                ZkUrl.parse(opts["zk"]).redacted):
                return
            if opts["ha"]:
                Election(state, state.zk_client, ZkUrl.parse(opts["zk"]).path.rstrip("/") + "/leader-curator").start()
                return
        log.info("Elected as leader (%s; --disable_ha, no election)", state.host_port)
        state.set_leader(state.host_port)
        state.on_elected()

    threading.Thread(target=start_election, name="startup", daemon=True).start()
    while True:
        time.sleep(1)
