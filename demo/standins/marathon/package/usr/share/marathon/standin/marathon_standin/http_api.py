"""The HTTP API (api-samples.md): filters (headers, leader proxy, basic auth) and resources."""

from __future__ import annotations

import base64
import html
import http.client
import json
import logging
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import apps

log = logging.getLogger("marathon.http")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
NO_LEADER = "Could not determine the current leader"
BAD_CONNECTION = "Failed to successfully establish a connection to the leader."
JSON = "application/json"


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def error_page(status: int, message: str, uri: str) -> bytes:
    """Jetty 9.4 ErrorHandler page (sendError)."""
    m = html.escape(message)
    u = html.escape(uri)
    return (f'<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
            f"<title>Error {status} {m}</title>\n</head>\n<body><h2>HTTP ERROR {status} {m}</h2>\n<table>\n"
            f"<tr><th>URI:</th><td>{u}</td></tr>\n<tr><th>STATUS:</th><td>{status}</td></tr>\n"
            f"<tr><th>MESSAGE:</th><td>{m}</td></tr>\n<tr><th>SERVLET:</th><td>api</td></tr>\n</table>\n\n"
            f"</body>\n</html>\n").encode()


def ping_variant(accept: str | None) -> str | None:
    """Accept negotiation of SystemResource.ping: 'text', 'html', 'json' or None (204)."""
    if not accept or not accept.strip():
        return "text"
    ranges = []
    for i, part in enumerate(accept.split(",")):
        items = [x.strip() for x in part.split(";")]
        media = items[0].lower()
        q = 1.0
        for param in items[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media and q > 0:
            ranges.append((-q, i, media))
    for _, _, media in sorted(ranges):
        if media in ("text/plain", "text/*", "*/*", "*"):
            return "text"
        if media == "text/html":
            return "html"
        if media in ("application/json", "application/*"):
            return "json"
    return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state):
        self.state = state
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Marathon"

    # ---- plumbing -------------------------------------------------------------------------
    def log_message(self, fmt, *args):
        log.info("%s - %s", self.address_string(), fmt % args)

    def send_response(self, code, message=None):
        # No Server header (Marathon turns it off); Date like Jetty.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    @property
    def state(self):
        return self.server.state

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _common_headers(self, leader_headers: bool) -> list:
        headers = []
        if leader_headers and self.state.elected:
            headers.append(("X-Marathon-Leader", f"{self.state.scheme}://{self.state.host_port}"))
        headers += [("X-Frame-Options", "DENY"), ("X-XSS-Protection", "1; mode=block"),
                    ("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache"),
                    ("Expires", "0")]
        return headers

    def reply(self, status: int, body: bytes = b"", content_type: str | None = JSON, headers=(),
              filters: bool = True) -> None:
        self.send_response(status)
        for name, value in self._common_headers(True) if filters else ():
            self.send_header(name, value)
        for name, value in headers:
            self.send_header(name, value)
        if content_type and (body or status not in (204, 304)):
            self.send_header("Content-Type", content_type)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def reply_json(self, status: int, obj, headers=()) -> None:
        self.reply(status, dumps(obj), JSON, headers)

    def reply_error_page(self, status: int, message: str, headers=(), filters: bool = True) -> None:
        self.reply(status, error_page(status, message, self.path_only), "text/html;charset=utf-8", headers,
                   filters)

    # ---- dispatch -------------------------------------------------------------------------
    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def handle_any(self):
        split = urlsplit(self.path)
        self.path_only = split.path or "/"
        self.query = parse_qs(split.query, keep_blank_values=True)
        self.body = self._read_body()
        try:
            if not self._authenticated():
                return
            if not self._wait_for_leader():
                return
            self.route()
        except BrokenPipeError:
            pass
        except Exception as e:
            log.exception("Error handling %s %s", self.command, self.path)
            if type(e).__module__.startswith("kazoo"):
                self.reply_json(503, {"message": f"State store unavailable: {type(e).__name__}"})
            else:
                self.reply_json(500, {"message": f"{type(e).__name__}: {e}"})

    def _authenticated(self) -> bool:
        """HttpModule's Jetty ConstraintSecurityHandler on "/*" (every path, /ping too) with Jetty's
        BasicAuthenticator: scheme "basic" in any case, user and password split at the first ':'."""
        user_password = http_credentials(self.state.opts)
        if user_password is None:
            return True
        header = self.headers.get("Authorization") or ""
        space = header.find(" ")
        if space > 0 and header[:space].lower() == "basic":
            try:
                decoded = base64.b64decode(header[space + 1:].strip()).decode("iso-8859-1")
            except ValueError:
                decoded = ""
            colon = decoded.find(":")
            if colon > 0 and (decoded[:colon], decoded[colon + 1:]) == user_password:
                return True
        # The security handler answers before the servlet filters (leader proxy, cache headers) run.
        realm = self.state.opts["http_realm"]
        self.reply_error_page(401, "Unauthorized", headers=[("WWW-Authenticate", f'basic realm="{realm}"')],
                              filters=False)
        return False

    def _wait_for_leader(self) -> bool:
        """LeaderProxyFilter: serve on the leader, forward from a standby, 502 when none is known."""
        me = self.state.host_port
        for attempt in range(11):
            if self.state.elected:
                return True
            leader = self.state.leader
            if leader and leader != me:
                self._forward(leader)
                return False
            if attempt < 10:
                time.sleep(0.25)
        self.reply_error_page(502, NO_LEADER)
        return False

    def _forward(self, leader: str) -> None:
        me = self.state.host_port
        via = self.headers.get_all("Via") or []
        if any(v.strip() == f"1.1 {me}" for value in via for v in value.split(",")):
            self.reply_error_page(502, "Detected proxying loop.")
            return
        host, _, port = leader.rpartition(":")
        opts = self.state.opts
        conn = http.client.HTTPConnection(host, int(port), timeout=opts["leader_proxy_connection_timeout"] / 1000)
        try:
            conn.connect()
            conn.sock.settimeout(opts["leader_proxy_read_timeout"] / 1000)
            headers = {}
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    headers[name] = value if name not in headers else headers[name] + ", " + value
            headers["Via"] = ", ".join([*via, f"1.1 {me}"])
            headers["Host"] = leader
            conn.request(self.command, self.path, body=self.body if self.body or self.command in (
                "POST", "PUT", "PATCH") else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:  # a leader killed mid-answer too
            log.warning("Forwarding %s %s to leader %s failed: %s", self.command, self.path, leader, e)
            self.reply_error_page(502, BAD_CONNECTION)
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def route(self) -> None:
        path = self.path_only
        method = "GET" if self.command == "HEAD" else self.command
        if path == "/ping":
            return self._only(method, ("GET",)) or self.ping()
        if path in ("/v2/info", "/v2/info/"):
            return self._only(method, ("GET",)) or self.info()
        if path in ("/v2/leader", "/v2/leader/"):
            return self._only(method, ("GET", "DELETE")) or self.leader(method)
        if path in ("/v2/apps", "/v2/apps/"):
            return self._only(method, ("GET", "POST")) or (self.list_apps() if method == "GET" else self.create_app())
        if path.startswith("/v2/apps/") and path.rstrip("/").endswith("/tasks"):
            app_id = apps.canonical_id(unquote(path[len("/v2/apps/"):].rstrip("/")[: -len("/tasks")]))
            if self.state.store.get_app(app_id) is not None:
                return self._only(method, ("GET",)) or self.reply_json(200, {"tasks": self._tasks(app_id)})
        if path.startswith("/v2/apps/"):
            app_id = apps.canonical_id(unquote(path[len("/v2/apps/"):]))
            return self._only(method, ("GET", "PUT", "DELETE")) or self.one_app(method, app_id)
        if path in ("/v2/deployments", "/v2/deployments/"):
            return self._only(method, ("GET",)) or self.reply_json(200, [])
        if path in ("/v2/tasks", "/v2/tasks/"):
            return self._only(method, ("GET",)) or self.reply_json(200, {"tasks": self._tasks(None)})
        return self.reply_json(404, {"message": f"URI not found: {path}"})

    def _only(self, method: str, allowed) -> bool:
        if method in allowed:
            return False
        self.reply_json(405, {"message": "HTTP 405 Method Not Allowed"})
        return True

    # ---- resources ------------------------------------------------------------------------
    def ping(self) -> None:
        variant = ping_variant(self.headers.get("Accept"))
        if variant == "text":
            self.reply(200, b"pong", "text/plain")
        elif variant == "html":
            self.reply(200, b"pong", "text/html")
        elif variant == "json":
            self.reply(200, b'"pong"', JSON)
        else:
            self.reply(204, b"", None)

    def info(self) -> None:
        self.reply_json(200, self.state.info())

    def leader(self, method: str) -> None:
        if not self.state.elected or not self.state.leader:
            return self.reply_json(404, {"message": "There is no leader"})
        if method == "GET":
            return self.reply_json(200, {"leader": self.state.leader})
        self.reply_json(200, {"message": "Leadership abdicated"})
        log.info("Leadership abdicated via DELETE /v2/leader; exiting in 500 ms")
        threading.Timer(0.5, self.state.fatal, args=(0, "leadership abdicated")).start()
        return None

    def _json_body(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != JSON and not ctype.endswith("+json"):
            self.reply_json(415, {"message": "HTTP 415 Unsupported Media Type"})
            return None, False
        try:
            return json.loads(self.body.decode("utf-8")), True
        except (ValueError, UnicodeDecodeError) as e:
            msg = str(e).split(":")[0] if self.body.strip() else "No content to map due to end-of-input"
            self.reply_json(400, {"message": "Invalid JSON", "details": [{"path": "/", "errors": [msg]}]})
            return None, False

    # ---- tasks (scheduler.py) ----------------------------------------------------------------
    def _counts(self, app_id: str):
        scheduler = self.state.scheduler
        return scheduler.counts(app_id) if scheduler is not None else None

    def _tasks(self, app_id):
        scheduler = self.state.scheduler
        if scheduler is None:
            return []
        ports = {a["id"]: [pd.get("port") for pd in a.get("portDefinitions", []) if isinstance(pd, dict)]
                 for a in self.state.store.list_apps()}
        return scheduler.task_list(app_id, ports)

    def _schedule_now(self) -> None:
        if self.state.scheduler is not None:
            self.state.scheduler.wake.set()

    def list_apps(self) -> None:
        result = self.state.store.list_apps()
        ids = self.query.get("id", [""])[0].lower()
        cmd = self.query.get("cmd", [""])[0]
        result = [a for a in result if ids in a["id"].lower() and cmd in (a.get("cmd") or "")]
        embed = {e for value in self.query.get("embed", []) for e in value.split(",")}
        self.reply_json(200, {"apps": [
            apps.app_info(a, [], self._counts(a["id"]), self._tasks(a["id"]) if "apps.tasks" in embed else None)
            for a in result]})

    def _read_valid(self, body, partial=False, check_run_spec=True):
        try:
            app = apps.read_app(body, partial=partial)
            apps.validate_app(app, check_run_spec=check_run_spec)
            return app
        except apps.InvalidJson as e:
            self.reply_json(400, {"message": "Invalid JSON", "details": e.details})
        except apps.NotValid as e:
            self.reply_json(422, {"message": "Object is not valid", "details": e.details})
        return None

    def _deploy(self, app: dict) -> dict:
        """Deployment finishes at once (the scheduler starts the tasks): assign service ports, set versionInfo."""
        others = self.state.store.list_apps()
        deployed = apps.assign_ports(app, others, self.state.opts["local_port_min"],
                                     self.state.opts["local_port_max"])
        deployed["versionInfo"] = {"lastScalingAt": app["version"], "lastConfigChangeAt": app["version"]}
        return deployed

    def _location(self, app_id: str) -> str:
        host = self.headers.get("Host") or self.state.host_port
        return f"{self.state.scheme}://{host}{app_id}"

    def create_app(self) -> None:
        body, ok = self._json_body()
        if not ok:
            return
        app = self._read_valid(body)
        if app is None:
            return
        app["id"] = apps.canonical_id(app["id"])
        app = apps.with_defaults(app, self.state.opts["mesos_role"])
        app["version"] = apps.now_version()
        app.pop("versionInfo", None)
        deployment = str(uuid.uuid4())
        if not self.state.store.create_app(self._deploy(app)):
            return self.reply_json(409, {"message": f"An app with id [{app['id']}] already exists."})
        log.info("Created app %s (deployment %s)", app["id"], deployment)
        self._schedule_now()
        self.reply_json(201, apps.app_info(app, [deployment]),
                        headers=[("Location", self._location(app["id"])), ("Marathon-Deployment-Id", deployment)])
        return None

    def one_app(self, method: str, app_id: str) -> None:
        store = self.state.store
        if method == "GET":
            app = store.get_app(app_id)
            if app is None:
                return self.reply_json(404, {"message": f"App '{app_id}' does not exist"})
            # GET /v2/apps/{id} embeds the app's tasks and counts (AppsResource.show).
            return self.reply_json(200, {"app": apps.app_info(app, [], self._counts(app_id), self._tasks(app_id))})
        deployment = str(uuid.uuid4())
        version = apps.now_version()
        headers = [("Marathon-Deployment-Id", deployment)]
        if method == "DELETE":
            if not store.delete_app(app_id):
                return self.reply_json(404, {"message": f"App '{app_id}' does not exist"})
            log.info("Deleted app %s (deployment %s)", app_id, deployment)
            self._schedule_now()
            return self.reply_json(200, {"version": version, "deploymentId": deployment}, headers)
        body, ok = self._json_body()  # PUT: create or update
        if not ok:
            return None
        existing = store.get_app(app_id)
        update = self._read_valid(body, partial=True, check_run_spec=existing is None)
        if update is None:
            return None
        if "id" in update and apps.canonical_id(update["id"]) != app_id:
            return self.reply_json(422, {"message": "Object is not valid", "details": [
                {"path": "/id", "errors": ["The id in the body does not match the id in the path"]}]})
        update["id"] = app_id
        if existing is None:
            app = apps.with_defaults(update, self.state.opts["mesos_role"])
        else:
            base = {k: v for k, v in existing.items() if k not in ("version", "versionInfo")}
            app = apps.with_defaults({**base, **update}, self.state.opts["mesos_role"])
        app["version"] = version
        store.put_app(self._deploy(app))
        self._schedule_now()
        result = {"version": version, "deploymentId": deployment}
        if existing is None:
            return self.reply_json(201, result, [*headers, ("Location", self._location(app_id))])
        return self.reply_json(200, result, headers)


def http_credentials(opts) -> tuple[str, str] | None:
    """HttpModule.createSecurityHandler: "(.+):(.+)" (greedy: the last ':' separates); None means no
    security handler (no --http_credentials, or one that does not match the pattern)."""
    text = opts["http_credentials"]
    if not text:
        return None
    m = re.fullmatch(r"(.+):(.+)", text)
    return (m.group(1), m.group(2)) if m else None


def serve(state, address: str, port: int) -> Server:
    server = Server((address, port), state)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
