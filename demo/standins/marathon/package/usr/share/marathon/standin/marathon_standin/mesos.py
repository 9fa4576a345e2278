"""Mesos leader detection (like libmesos' MasterDetector) and framework registration through the
Mesos stand-in's POST /standin/frameworks endpoint, repeated every 5 s as a heartbeat."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("marathon.mesos")
HEARTBEAT_SECONDS = 5.0
MESOS_SCHEDULER_ERROR = 106  # CrashStrategy.MesosSchedulerError
FRAMEWORK_ID_HELP = ("In case Mesos does not allow registration with the current frameworkId, follow the "
                     "instructions for recovery here: https://mesosphere.github.io/marathon/docs/framework-id.html")


class SchedulerError(Exception):
    """What the scheduler driver reports through Scheduler.error(driver, message)."""


def build_credential(opts) -> tuple[str, str | None] | None:
    """MarathonSchedulerDriver: a Credential only with --mesos_authentication; the secret is
    --mesos_authentication_secret, else the whole content of --mesos_authentication_secret_file
    (ByteString.readFrom(...).toStringUtf8: not trimmed, a final newline is part of the secret)."""
    principal = opts["mesos_authentication_principal"]
    if not opts["mesos_authentication"] or principal is None:
        return None
    secret = opts["mesos_authentication_secret"]
    path = opts["mesos_authentication_secret_file"]
    if secret is None and path:
        secret = Path(path).read_bytes().decode("utf-8", "replace")
    return principal, secret
JAVA_LIBRARY_PATH = ("/usr/java/packages/lib", "/usr/lib64", "/lib64", "/lib", "/usr/lib")


@dataclass(frozen=True)
class MesosLeader:
    hostname: str
    ip: str
    port: int
    scheme: str = "http"

    @property
    def ui_url(self) -> str:
        return f"{self.scheme}://{self.hostname}:{self.port}/"


def libmesos_error() -> str | None:
    """What MesosNativeLibrary.load() would fail with (Marathon loads it when it becomes leader)."""
    path = os.environ.get("MESOS_NATIVE_JAVA_LIBRARY") or os.environ.get("MESOS_NATIVE_LIBRARY")
    if path:
        return None if Path(path).is_file() else f"Failed to load native Mesos library from {path}"
    for folder in JAVA_LIBRARY_PATH:
        if (Path(folder) / "libmesos.so").is_file():
            return None
    return "java.lang.UnsatisfiedLinkError: no mesos in java.library.path: [{}]".format(
        ", ".join(JAVA_LIBRARY_PATH))


def parse_master_info(label: str, data: bytes) -> MesosLeader | None:
    if label == "json.info":
        info = json.loads(data)
        address = info.get("address") or {}
        ip = address.get("ip")
        if not ip and "ip" in info:
            ip = socket.inet_ntoa(struct.pack("<I", int(info["ip"])))
        port = int(address.get("port") or info.get("port") or 5050)
        hostname = address.get("hostname") or info.get("hostname") or ip
        return MesosLeader(hostname, ip, port)
    if label == "":  # very old masters: the UPID
        host, _, port = data.decode().split("@", 1)[-1].rpartition(":")
        return MesosLeader(host, host, int(port))
    log.warning("Failed to parse data of label '%s' (not supported by this stand-in)", label)
    return None


def parse_standalone(master: str) -> MesosLeader | None:
    scheme = "http"
    text = master.strip()
    for prefix in ("http://", "https://"):
        if text.startswith(prefix):
            scheme, text = prefix[:-3], text[len(prefix):]
    if text.startswith("master@"):
        text = text[len("master@"):]
    text = text.split("/", 1)[0]
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "5050"
    if not host or not port.isdigit():
        return None
    return MesosLeader(host, host, int(port), scheme)


class Registrar:
    """Runs on the leader: detects the Mesos leader, registers, heartbeats, keeps the framework id."""

    def __init__(self, state):
        self.state = state
        self.opts = state.opts
        self.master = self.opts["master"]
        self.zk_client = None
        self.zk_path = None
        self.wake = threading.Event()
        self.scheduler_id = f"scheduler-{uuid.uuid4()}"
        self.credential = None
        self.force = False

    def start(self) -> None:
        threading.Thread(target=self.run, name="mesos-registrar", daemon=True).start()

    def resubscribe(self) -> None:
        """The master does not know the framework (a new leading master): register again now."""
        self.force = True
        self.wake.set()

    def _watch(self, _event) -> None:
        self.wake.set()

    def _zk_detect(self) -> MesosLeader | None:
        from kazoo.exceptions import NoNodeError

        from .options import ZkUrl
        from .zk import make_client, start_client

        if self.zk_client is None:
            url = ZkUrl.parse(self.master)
            self.zk_path = url.path.rstrip("/") or "/"
            self.zk_client = make_client(url, self.opts["zk_session_timeout"], "mesos")
            self.state.extra_clients.append(self.zk_client)
            if not start_client(self.zk_client, self.opts["zk_connection_timeout"], self.state.stopping,
                                f"Mesos master detection {url.redacted}"):
                return None
        try:
            children = self.zk_client.get_children(self.zk_path, watch=self._watch)
        except NoNodeError:
            return None
        members = []
        for child in children:
            label, _, seq = child.rpartition("_")
            if not seq.isdigit():
                if child.isdigit():
                    label, seq = "", child
                else:
                    continue
            members.append((int(seq), label, child))
        if not members:
            return None
        _, label, child = min(members)
        try:
            data = self.zk_client.get(f"{self.zk_path.rstrip('/')}/{child}")[0]
        except NoNodeError:
            return None
        return parse_master_info(label, data)

    def detect(self) -> MesosLeader | None:
        if self.master.startswith("zk://"):
            return self._zk_detect()
        if self.master.startswith("file://"):
            text = Path(self.master[len("file://"):]).read_text().strip()
            if text.startswith("zk://"):
                self.master = text
                return self._zk_detect()
            return parse_standalone(text)
        return parse_standalone(self.master)

    def register(self, leader: MesosLeader, framework_id: str | None) -> str:
        timeout = 5.0
        cls = http.client.HTTPSConnection if leader.scheme == "https" else http.client.HTTPConnection
        conn = cls(leader.ip, leader.port, timeout=timeout)
        try:
            conn.connect()
            own_ip = conn.sock.getsockname()[0]
            body = {
                "id": framework_id,
                "name": self.opts["framework_name"],
                "hostname": self.opts["hostname"],
                "webui_url": self.opts["webui_url"] or f"http://{self.state.host_port}",
                "pid": f"{self.scheduler_id}@{own_ip}:0",
                "capabilities": ["PARTITION_AWARE"],
            }
            if self.credential is not None:
                body["principal"] = self.credential[0]
                if self.credential[1] is not None:
                    body["secret"] = self.credential[1]
            conn.request("POST", "/standin/frameworks", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status == 401:
                log.error("Master %s:%d refused authentication", leader.hostname, leader.port)
                raise SchedulerError("Master refused authentication")
            if resp.status == 403:
                try:
                    message = json.loads(data).get("message") or ""
                except ValueError:
                    message = data.decode("utf-8", "replace")
                raise SchedulerError(message)
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
            fid = json.loads(data).get("id")
            if not isinstance(fid, str) or not fid:
                raise RuntimeError(f"no framework id in {data[:200]!r}")
            return fid
        finally:
            conn.close()

    def run(self) -> None:
        try:
            self.credential = build_credential(self.opts)
        except OSError as e:
            log.error("Error reading the Mesos authentication secret from file [%s]: %s",
                      self.opts["mesos_authentication_secret_file"], e.strerror)
            self.state.fatal(1, "the Mesos authentication secret could not be read")
            return
        if self.credential is not None:
            log.info("Authenticate with Mesos as %s", self.credential[0])
        store = self.state.store
        framework_id = None
        while not self.state.stopping.is_set():
            try:
                framework_id = store.get_framework_id()
                break
            except Exception as e:
                log.warning("Could not read the framework id: %s; retrying", e)
                self.state.stopping.wait(1.0)
        if framework_id:
            log.info("Framework id from the state store: %s", framework_id)
            self.state.set_mesos(framework_id, None)
        current = None
        registered_with = None
        last_ok = 0.0
        last_try = 0.0
        last_tried = None
        while not self.state.stopping.is_set():
            try:
                leader = self.detect()
            except Exception as e:
                log.warning("Mesos leader detection (%s): %s", self.master_redacted(), e)
                leader = None
            if leader != current:
                if leader is None:
                    log.warning("No Mesos leader detected (%s)", self.master_redacted())
                else:
                    log.info("Mesos leader detected: %s:%d (%s)", leader.hostname, leader.port, leader.ip)
                current = leader
            now = time.monotonic()
            due = leader is not None and (leader != registered_with or now - last_ok >= HEARTBEAT_SECONDS
                                          or self.force)
            if due and (leader != last_tried or now - last_try >= 2.0 or self.force):
                self.force = False
                last_try, last_tried = now, leader
                try:
                    fid = self.register(leader, framework_id)
                    if leader != registered_with:
                        log.info("Registered with Mesos master %s:%d as framework %s",
                                 leader.hostname, leader.port, fid)
                    if fid != framework_id:
                        store.set_framework_id(fid)
                        framework_id = fid
                    registered_with, last_ok = leader, now
                    self.state.set_mesos(fid, leader.ui_url)
                    self.state.mesos_leader = leader
                except SchedulerError as e:
                    # MarathonScheduler.error: log, then CrashStrategy.MesosSchedulerError.
                    log.warning("Error: %s\n%s", e, FRAMEWORK_ID_HELP)
                    self.state.fatal(MESOS_SCHEDULER_ERROR, "Mesos scheduler error")
                    return
                except Exception as e:
                    log.warning("Registration with Mesos master %s:%d failed: %s; retrying",
                                leader.hostname, leader.port, e)
            self.wake.wait(1.0)
            self.wake.clear()

    def master_redacted(self) -> str:
        from .options import ZkUrl

        url = ZkUrl.parse(self.master) if self.master.startswith("zk://") else None
        return url.redacted if url else self.master
