"""Shared pieces: build info, HTTP server in libprocess' manner, addresses, ZooKeeper URLs and
leader detection, resources/attributes text, system metrics."""

import base64
import binascii
import json
import os
import socket
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import glog

VERSION = "1.11.0"
BUILD = {
    "build_date": "2020-11-24 15:38:37",
    "build_time": 1606232317.0,
    "build_user": "ubuntu",
    "git_sha": "04bc7ee1984d86fbb0bd782ccc69ce44c13ae4b9",
    "git_tag": "1.11.0",
    "version": VERSION,
}


class Exit(Exception):
    """A main() check failed: EXIT(EXIT_FAILURE) << message."""

    def __init__(self, message, where="main.cpp:300"):
        super().__init__(message)
        self.where = where


def log_build(where):
    glog.info(where, f"Build: {BUILD['build_date']} by {BUILD['build_user']}")
    glog.info(where, f"Version: {VERSION}")
    glog.info(where, f"Git tag: {BUILD['git_tag']}")
    glog.info(where, f"Git SHA: {BUILD['git_sha']}")


def version_body():
    return dict(sorted(BUILD.items()))


def state_header():
    return {k: BUILD[k] for k in ("version", "git_sha", "git_tag", "build_date", "build_time", "build_user")}


def dumps(value):
    return json.dumps(value, separators=(",", ":"))


# --- responses ---


class Response:
    def __init__(self, status=200, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = list(headers or [])
        if content_type:
            self.headers.append(("Content-Type", content_type))


def json_response(value, status=200):
    return Response(status, dumps(value), "application/json")


def not_found():
    return Response(404)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_response(self, code, message=None):
        # like BaseHTTPRequestHandler.send_response, without the Server header
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format, *args):
        pass

    def _serve(self, method):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = self.server.app(method, parts.path, parts.query, body, self.headers)
        except Exception as exc:
            response = Response(500, str(exc), "text/plain; charset=utf-8")
        self.send_response(response.status)
        location = [h for h in response.headers if h[0] == "Location"]
        for name, value in location:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            if name != "Location":
                self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_HEAD(self):
        self._serve("HEAD")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_http(bind_ip, port, app):
    """Binds like libprocess; a failure is glog FATAL (abort), as process::initialize does."""
    try:
        server = _Server((bind_ip, port), _Handler)
    except OSError as exc:
        glog.log(
            "FATAL",
            "process.cpp:1130",
            f"Failed to initialize: Failed to bind on {bind_ip}:{port}: {exc.strerror}: {exc.strerror} [{exc.errno}]",
        )
        os.abort()
    server.app = app
    # not start_thread: closing the server at a clean exit may end serve_forever with an error
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def start_thread(target, name, args=()):
    """A daemon thread whose unexpected end ends the process (EXIT(EXIT_FAILURE), as a failed
    CHECK ends a Mesos daemon): the unit restarts it. A thread that died silently would leave a
    daemon that answers HTTP but never registers or heartbeats again."""

    def guarded():
        try:
            target(*args)
        except BaseException as exc:  # any end but a return is fatal
            glog.exit_failure("process.cpp:3600", f"Thread '{name}' failed: {exc!r}")

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


# --- addresses ---


def ip_to_uint32(ip):
    """MasterInfo.ip: the network-order s_addr read as a host (little-endian) integer."""
    return struct.unpack("<I", socket.inet_aton(ip))[0]


def advertised_ip(flags):
    """The IP libprocess puts in its PIDs: --advertise_ip, --ip, else the IP of the hostname."""
    for name in ("advertise_ip", "ip"):
        value = flags.get(name)
        if value and value != "0.0.0.0":
            return value
    hostname = socket.gethostname()
    try:
        return socket.gethostbyname(hostname)
    except OSError as exc:
        raise Exit(
            f"Failed to obtain the IP address for '{hostname}'; the DNS service may not be able to resolve it: "
            f"{exc.strerror if hasattr(exc, 'strerror') and exc.strerror else exc}",
            "process.cpp:1163",
        ) from None


def ip_discovery(flags, name="ip_discovery_command"):
    command = flags.get(name)
    if not command:
        return None
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Exit(f"Failed to run IP discovery command: {proc.stderr.strip()}")
    return proc.stdout.strip()


def hostname_of(flags, ip):
    if flags.get("hostname"):
        return flags.get("hostname")
    if flags.get("hostname_lookup", True):
        return socket.gethostname()
    return ip


# --- ZooKeeper URLs (zookeeper::URL::parse) and the group/detector rules ---


class ZkURL:
    def __init__(self, servers, path, credentials):
        self.servers = servers
        self.path = path
        self.credentials = credentials


def parse_zk_url(text):
    url = text.strip()
    if not url.startswith("zk://"):
        raise ValueError("Expecting 'zk://' at the beginning of the URL")
    rest = url[len("zk://") :]
    credentials = None
    at = rest.rfind("@")
    slash = rest.find("/", at + 1 if at >= 0 else 0)
    hosts_part = rest if slash < 0 else rest[:slash]
    path = "/" if slash < 0 else rest[slash:]
    if at >= 0:
        credentials, hosts_part = hosts_part[:at], hosts_part[at + 1 :]
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return ZkURL(hosts_part, path, credentials)


def read_file_url(text):
    path = text[len("file://") :]
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise ValueError(f"Failed to read from file at '{path}': {exc.strerror}") from None


def sequence_children(children):
    """(sequence, label, name) for children whose part after the last '_' is a number."""
    out = []
    for name in children:
        label, _, seq = name.rpartition("_")
        if seq.isdigit():
            out.append((int(seq), label or None, name))
    return sorted(out)


def parse_leader_data(label, data, log_where="zookeeper.cpp:262"):
    """MasterInfo dict (json.info), one made from a UPID string (no label), or None."""
    text = data.decode("utf-8", "replace")
    if label == "json.info":
        try:
            return json.loads(text)
        except ValueError as exc:
            glog.error(log_where, f"Failed to parse JSON MasterInfo: {exc}")
            return None
    if label is None:
        pid = text.strip()
        if not pid.startswith("master@"):
            return None
        ip, _, port = pid[len("master@") :].rpartition(":")
        return {"id": "", "pid": pid, "ip": ip_to_uint32(ip), "port": int(port), "hostname": ip,
                "address": {"ip": ip, "port": int(port), "hostname": ip}}
    if label == "info":
        glog.warning(log_where, "Leading master is using a Protobuf binary format; the stand-in cannot read it")
        return None
    glog.error(log_where, f"Failed to parse data of unknown label '{label}'")
    return None


def master_address(info):
    """(ip, port) to reach a master from its MasterInfo."""
    address = info.get("address") or {}
    ip = address.get("ip")
    if not ip:
        ip = socket.inet_ntoa(struct.pack("<I", int(info.get("ip", 0))))
    return ip, int(address.get("port") or info.get("port") or 5050)


def master_host(info):
    address = info.get("address") or {}
    return address.get("hostname") or info.get("hostname") or master_address(info)[0]


def kazoo_client(url, session_timeout_secs):
    from kazoo.client import KazooClient  # lazy: flag parsing works without kazoo
    from kazoo.security import CREATOR_ALL_ACL, READ_ACL_UNSAFE

    kwargs = {
        "hosts": url.servers,
        "timeout": session_timeout_secs,
        "connection_retry": {"max_tries": -1, "delay": 0.5, "backoff": 1.5, "max_delay": 5},
    }
    if url.credentials:
        kwargs["auth_data"] = [("digest", url.credentials)]
        kwargs["default_acl"] = READ_ACL_UNSAFE + CREATOR_ALL_ACL
    return KazooClient(**kwargs)


def zk_connect(client, servers, where):
    """Connects, retrying forever (Mesos keeps trying); logs like group.cpp."""
    glog.route_python_logging()
    glog.info(where, f"Connecting to ZooKeeper {servers}")
    event = client.start_async()
    while not event.wait(1):
        pass
    while not client.connected:
        time.sleep(0.5)
    session = client.client_id[0] if client.client_id else 0
    glog.info(where, f"ZooKeeper session established (sessionId={session:x})")


# --- resources and attributes ---


def _scalar(text):
    try:
        return float(text)
    except ValueError:
        return None


def parse_attributes(text):
    """'rack:r1;zone:a;n:3' -> {"rack": "r1", "zone": "a", "n": 3.0} (scalars are numbers)."""
    out = {}
    if not text:
        return out
    for item in text.split(";"):
        if not item.strip():
            continue
        name, _, value = item.partition(":")
        name, value = name.strip(), value.strip()
        number = _scalar(value)
        out[name] = number if number is not None else value
    return out


def parse_resources(text):
    """'cpus:4;mem:8192;ports:[31000-32000]' (roles 'name(role):v' accepted) -> {name: value}."""
    out = {}
    if not text:
        return out
    text = text.strip()
    if text.startswith("["):
        for item in json.loads(text):
            name = item["name"]
            if "scalar" in item:
                out[name] = float(item["scalar"]["value"])
            elif "ranges" in item:
                out[name] = "[" + ", ".join(f"{r['begin']}-{r['end']}" for r in item["ranges"]["range"]) + "]"
            elif "set" in item:
                out[name] = "{" + ",".join(item["set"]["item"]) + "}"
        return out
    for item in text.split(";"):
        if not item.strip():
            continue
        name, _, value = item.partition(":")
        name = name.split("(")[0].strip()
        value = value.strip()
        number = _scalar(value)
        out[name] = number if number is not None else value
    return out


def ranges_of(text):
    out = []
    for raw in text.strip("[]").split(","):
        part = raw.strip()
        if "-" in part:
            begin, end = part.split("-", 1)
            out.append({"begin": int(begin), "end": int(end)})
    return out


def resources_full(resources):
    out = []
    for name, value in resources.items():
        if isinstance(value, float):
            if name == "gpus" and value == 0.0:
                continue
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": value}, "role": "*"})
        elif isinstance(value, str) and value.startswith("["):
            out.append({"name": name, "type": "RANGES", "ranges": {"range": ranges_of(value)}, "role": "*"})
        elif isinstance(value, str) and value.startswith("{"):
            items = [v.strip() for v in value.strip("{}").split(",") if v.strip()]
            out.append({"name": name, "type": "SET", "set": {"item": items}, "role": "*"})
    order = {"cpus": 0, "mem": 1, "disk": 2, "ports": 3}
    return sorted(out, key=lambda r: order.get(r["name"], 9))


def ordered_resources(resources):
    """The order /state prints them in: disk, mem, gpus, cpus, ports, then the rest."""
    order = ["disk", "mem", "gpus", "cpus", "ports"]
    out = {k: resources[k] for k in order if k in resources}
    out.update({k: v for k, v in resources.items() if k not in out})
    return out


ZERO_RESOURCES = {"disk": 0.0, "mem": 0.0, "gpus": 0.0, "cpus": 0.0}


# --- system metrics ---


def system_metrics():
    out = {"system/cpus_total": float(os.cpu_count() or 1)}
    try:
        load1, load5, load15 = os.getloadavg()
        out.update({"system/load_1min": load1, "system/load_5min": load5, "system/load_15min": load15})
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            info = dict(line.split(":", 1) for line in handle if ":" in line)
        out["system/mem_total_bytes"] = float(int(info["MemTotal"].split()[0]) * 1024)
        out["system/mem_free_bytes"] = float(int(info["MemFree"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        pass
    return out


def total_memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 2 * 1024**3


def bind_and_serve(flags, app):
    """--ip / --ip_discovery_command / --advertise_*: (advertised ip, advertised port, server),
    serving app on the bind address. Both programs do it the same way (libprocess)."""
    bind_ip = ip_discovery(flags) or flags.get("ip") or "0.0.0.0"
    ip = bind_ip if bind_ip != "0.0.0.0" else advertised_ip(flags)
    if flags.get("advertise_ip"):
        ip = flags.get("advertise_ip")
    port = int(flags.get("advertise_port") or flags.get("port"))
    return ip, port, start_http(bind_ip, int(flags.get("port")), app)


def setup_logging(flags, warnings_at, build_at):
    """--log_dir, --logging_level, --quiet as src/logging does it; then the flag warnings and
    the build line, logged at the given main.cpp places."""
    log_dir = flags.get("log_dir")
    if log_dir:
        try:
            os.makedirs(log_dir, exist_ok=True)
        except OSError as exc:
            raise Exit(f"Failed to create log directory '{log_dir}': {exc.strerror}", "logging.cpp:212") from None
    level = flags.get("logging_level")
    if level not in ("INFO", "WARNING", "ERROR"):
        raise Exit(
            f"'{level}' is not a valid logging level. Possible values for 'logging_level' flag are: "
            "'INFO', 'WARNING', 'ERROR'.",
            "logging.cpp:197",
        )
    glog.setup(flags.program, log_dir, level, flags.get("quiet"))
    for warning in flags.warnings:
        glog.warning(warnings_at, warning)
    log_build(build_at)


# --- authentication (demo/standins/reference/mesos-1.11.0/authentication.md) ---

DEFAULT_BASIC_HTTP_AUTHENTICATOR = "basic"


class CredentialError(Exception):
    """credentials::read / readCredential returned an Error."""


def _read_credential_file(path, kind, where):
    """os::read, then the 'too open' warning of src/credentials/credentials.hpp. None when empty."""
    glog.info(where[0], f"Loading {kind} for authentication from '{path}'")
    try:
        with open(path, "rb") as handle:
            content = handle.read().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise CredentialError(f"Failed to read {kind} file '{path}': {exc.strerror}") from None
    if content == "":
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        glog.warning(where[1], f"Failed to stat {kind} file '{path}': {exc.strerror}")
    else:
        if mode & 0o007:
            glog.warning(
                where[1],
                f"Permissions on {kind} file '{path}' are too open. It is recommended that your "
                f"{kind} file is NOT accessible by others.",
            )
    return content


def _tokenize(text, delimiters):
    """stout strings::tokenize: split on any delimiter character, empty tokens dropped."""
    out, token = [], ""
    for char in text:
        if char in delimiters:
            if token:
                out.append(token)
            token = ""
        else:
            token += char
    if token:
        out.append(token)
    return out


def _credential_from_json(value):
    """protobuf::parse<Credential>: principal (required string), secret (optional string)."""
    if not isinstance(value, dict) or not isinstance(value.get("principal"), str):
        return None
    secret = value.get("secret", "")
    if not isinstance(secret, str):
        return None
    return (value["principal"], secret)


def read_credentials(path):
    """credentials::read(path): [(principal, secret)], None for an empty file; CredentialError."""
    content = _read_credential_file(path, "credentials", ("credentials.hpp:37", "credentials.hpp:49"))
    if content is None:
        return None
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        items = data.get("credentials", [])
        if isinstance(items, list):
            parsed = [_credential_from_json(item) for item in items]
            if all(p is not None for p in parsed):
                return parsed
    credentials = []
    for line in _tokenize(content, "\n"):
        pairs = _tokenize(line, " ")
        if len(pairs) != 2:
            raise CredentialError(f"Invalid credential format at line {len(credentials) + 1}")
        credentials.append((pairs[0], pairs[1]))
    return credentials


def read_credential(path):
    """credentials::readCredential(path): (principal, secret), None for an empty file; CredentialError."""
    content = _read_credential_file(path, "credential", ("credentials.hpp:80", "credentials.hpp:92"))
    if content is None:
        return None
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        parsed = _credential_from_json(data)
        if parsed is not None:
            return parsed
    lines = _tokenize(content, "\n")
    if len(lines) != 1:
        raise CredentialError("Expecting only one credential")
    pairs = _tokenize(lines[0], " ")
    if len(pairs) != 2:
        raise CredentialError("Invalid credential format")
    return (pairs[0], pairs[1])


def http_authenticator(realm, names_flag, credentials, where):
    """initializeHttpAuthenticators (src/common/http.cpp) for the default 'basic' authenticator:
    {principal: secret} for the realm, or Exit with the real error text."""
    names = names_flag.split(",")
    for name in names:
        if name == DEFAULT_BASIC_HTTP_AUTHENTICATOR:
            if credentials is None:
                raise Exit(
                    f"Failed to create HTTP authenticator module '{name}': No credentials provided for the "
                    f"default '{DEFAULT_BASIC_HTTP_AUTHENTICATOR}' HTTP authenticator for realm '{realm}'",
                    where,
                )
            glog.info(
                "http.cpp:1293",
                f"Creating default '{DEFAULT_BASIC_HTTP_AUTHENTICATOR}' HTTP authenticator for realm '{realm}'",
            )
        else:
            raise Exit(
                f"Failed to create HTTP authenticator module '{name}': HTTP authenticator '{name}' not found. "
                f"Check the spelling (compare to '{DEFAULT_BASIC_HTTP_AUTHENTICATOR}') or verify that the "
                "authenticator was loaded successfully (see --modules)",
                where,
            )
    return dict(credentials)  # hashmap::put: a later entry for a principal replaces an earlier one


def unauthorized(realm):
    """http::Unauthorized({"Basic realm=\\"<realm>\\""}): 401, text body "401 Unauthorized."."""
    return Response(
        401, "401 Unauthorized.", "text/plain; charset=utf-8", [("WWW-Authenticate", f'Basic realm="{realm}"')]
    )


def basic_authenticate(headers, realm, table):
    """libprocess BasicAuthenticatorProcess::authenticate: the principal, or the 401 response."""
    header = headers.get("Authorization") if headers is not None else None
    if header is None:
        return None, unauthorized(realm)
    components = header.split(" ")
    if len(components) != 2 or components[0] != "Basic":
        return None, unauthorized(realm)
    try:
        decoded = base64.b64decode(components[1], validate=True)
    except (binascii.Error, ValueError):
        return None, unauthorized(realm)
    credential = decoded.split(b":")
    if len(credential) != 2:
        return None, unauthorized(realm)
    principal = credential[0].decode("utf-8", "surrogateescape")
    secret = table.get(principal)
    if secret is None or secret.encode("utf-8", "surrogateescape") != credential[1]:
        return None, unauthorized(realm)
    return principal, None
