"""The Marathon stand-in (tests/standins/marathon/): command line like Scallop 3.3.2 and the HTTP API
of a --disable_ha instance, against tests/reference/marathon/. No ZooKeeper, loopback only."""

import base64
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
SCRIPT = TOP / "tests/standins/marathon/package/usr/share/marathon/bin/marathon"
REFERENCE = TOP / "tests/reference/marathon"
ZK_URL_ERROR = ("is not a valid zk url; it should formatted like zk://user:pass@host1:port1,host2:port2/path, "
                "or zk://host1:port1,host2:port2/marathon")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARATHON_", "MESOSPHERE_"))}
    env.pop("JAVA_OPTS", None)
    env["STANDIN_MARATHON_FLAGS_DIR"] = str(REFERENCE)
    env.update(extra)
    return env


def run(*args, **env):
    return subprocess.run([str(SCRIPT), *args], env=_env(**env), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--master", "m", "--foo", "1"], {}, "Unknown option 'foo'"),
    (["--master", "m", "--version"], {}, "Unknown option 'version'"),
    ([], {}, "Required option 'master' not found"),
    (["--http_port", "8080"], {}, "Required option 'master' not found"),
    (["--master", "m", "--zk", "zk://host:2181"], {},
     f"Bad arguments for option 'zk': 'zk://host:2181' - zk://host:2181 {ZK_URL_ERROR}"),
    (["--master", "m", "--http_port", "http"], {}, "Bad arguments for option 'http_port': 'http' - bad Int value"),
    (["--master", "m", "--http_port", "99999999999"], {},
     "Bad arguments for option 'http_port': '99999999999' - bad Int value"),
    (["--master", "m", "--zk_session_timeout=ten"], {},
     "Bad arguments for option 'zk_session_timeout': 'ten' - bad Long value"),
    (["--master", "m", "--http_port", "1", "--http_port", "2"], {},
     "Bad arguments for option 'http_port': '1 2' - you should provide exactly one argument for this option"),
    (["--master", "a", "--master", "b"], {}, "Bad arguments for option 'master': 'a b' - Expected exactly one url"),
    (["--master", "m"], {"MARATHON_FOO": "1"}, "Unknown option 'foo'"),
    (["--master", "m"], {"MARATHON_HA": "true"}, "Bad arguments for option 'ha': 'true' - wrong arguments format"),
    (["--master", "m", "--disable_http=1"], {},
     "Bad arguments for option 'disable_http': '1' - too many arguments for flag option"),
    (["--master", "m", "extra"], {}, "Excess arguments provided: 'extra'"),
])
def test_command_line_errors(args, env, message):
    proc = run(*args, **env)
    assert proc.returncode == 1, proc
    assert proc.stderr == f"[scallop] Error: {message}\n"
    assert proc.stdout == ""


def test_app_env_vars_are_ignored_and_env_gives_options():
    proc = run("--zk", "bad", MARATHON_APP_ID="/x", MARATHON_MASTER="zk://h:2181/mesos")
    assert proc.returncode == 1
    assert proc.stderr == f"[scallop] Error: Bad arguments for option 'zk': 'bad' - bad {ZK_URL_ERROR}\n"
    # env and argv together: the option is given twice
    proc = run("--master", "m", MARATHON_MASTER="n")
    assert proc.stderr == "[scallop] Error: Bad arguments for option 'master': 'n m' - Expected exactly one url\n"


def test_help_only_as_first_argument_and_jvm_options_accepted():
    proc = run("-J-Xmx512m", "-Dfoo=bar", "--help", "--foo")
    assert proc.returncode == 0, proc
    assert "--master" in proc.stdout and "--zk " in proc.stdout
    assert "--zk_max_concurrency" not in proc.stdout  # hidden
    assert proc.stderr == ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Marathon:
    def __init__(self, tmp, *extra):
        self.port = _free_port()
        lib = tmp / "libmesos.so"
        lib.write_text("stub\n")
        self.log = tmp / f"marathon-{self.port}.log"
        args = ["-J-Xmx512m", "--disable_ha", "--master", "127.0.0.1:1", "--http_port", str(self.port),
                "--hostname", "127.0.0.1", "--http_address", "127.0.0.1", *extra]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([str(SCRIPT), *args], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         env=_env(MESOS_NATIVE_JAVA_LIBRARY=str(lib), JAVA_OPTS="-Xss1m"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert self.proc.poll() is None, self.log.read_text()
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"marathon stand-in did not start:\n{self.log.read_text()}")

    def request(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        headers = dict(headers or {})
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def marathon(tmp_path_factory):
    m = Marathon(tmp_path_factory.mktemp("marathon"))
    yield m
    assert m.stop() == 0, "SIGTERM must end the stand-in with exit code 0"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    m = Marathon(tmp_path_factory.mktemp("marathon-auth"), "--http_credentials", "ops:s3cret", "--http_realm",
                 "Testing")
    yield m
    m.stop()


def test_ping_negotiates_content(marathon):
    status, headers, body = marathon.request("GET", "/ping")
    assert (status, body, headers["Content-Type"]) == (200, b"pong", "text/plain")
    status, headers, body = marathon.request("GET", "/ping", headers={"Accept": "application/json"})
    assert (status, body, headers["Content-Type"]) == (200, b'"pong"', "application/json")
    status, _, body = marathon.request("GET", "/ping", headers={"Accept": "image/png"})
    assert (status, body) == (204, b"")


def test_leader_headers_and_no_server_header(marathon):
    status, headers, body = marathon.request("GET", "/v2/leader")
    assert status == 200 and json.loads(body) == {"leader": f"127.0.0.1:{marathon.port}"}
    assert headers["X-Marathon-Leader"] == f"http://127.0.0.1:{marathon.port}"
    assert headers["X-Frame-Options"] == "DENY" and headers["X-XSS-Protection"] == "1; mode=block"
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert headers["Pragma"] == "no-cache" and headers["Expires"] == "0"
    assert "Server" not in headers


def _sample_info():
    text = (REFERENCE / "api-samples.md").read_text()
    section = text.split("## GET /v2/info", 1)[1]
    return json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))


def test_info_has_the_sample_structure(marathon):
    status, headers, body = marathon.request("GET", "/v2/info")
    assert status == 200 and headers["Content-Type"] == "application/json"
    info, sample = json.loads(body), _sample_info()
    assert list(info) == list(sample)
    for key in ("marathon_config", "zookeeper_config", "http_config"):
        assert list(info[key]) == list(sample[key]), key
    assert info["version"] == "1.10.26" and info["buildref"] == "unknown"
    assert info["elected"] is True and info["leader"] == f"127.0.0.1:{marathon.port}"
    assert info["frameworkId"] is None and info["marathon_config"]["mesos_leader_ui_url"] is None
    assert info["marathon_config"]["ha"] is False and info["marathon_config"]["master"] == "127.0.0.1:1"
    assert info["http_config"] == {"http_port": marathon.port, "https_port": 8443}
    for key, value in sample["zookeeper_config"].items():
        if key != "zk":
            assert info["zookeeper_config"][key] == value, key


def test_apps_round_trip(marathon):
    app = {"id": "/unit-test", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}
    status, headers, body = marathon.request("POST", "/v2/apps", app)
    assert status == 201, body
    created = json.loads(body)
    deployment = headers["Marathon-Deployment-Id"]
    assert headers["Location"].endswith("/unit-test")
    assert created["deployments"] == [{"id": deployment}]
    assert created["portDefinitions"] == [{"port": 0, "name": "default", "protocol": "tcp"}]
    assert (created["backoffFactor"], created["disk"], created["killSelection"]) == (1.15, 0, "YOUNGEST_FIRST")
    assert created["tasksRunning"] == 0 and "versionInfo" not in created

    status, _, body = marathon.request("GET", "/v2/apps/unit-test")
    assert status == 200
    got = json.loads(body)["app"]
    assert got["cmd"] == "sleep 1000" and got["mem"] == 32 and got["deployments"] == []
    assert got["version"] == created["version"] and got["portDefinitions"][0]["port"] == 10000
    status, _, body = marathon.request("GET", "/v2/apps")
    assert status == 200 and [a["id"] for a in json.loads(body)["apps"]] == ["/unit-test"]

    status, headers, body = marathon.request("POST", "/v2/apps", app)
    assert status == 409 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": "An app with id [/unit-test] already exists."}

    status, _, body = marathon.request("GET", "/v2/apps/nope")
    assert (status, json.loads(body)) == (404, {"message": "App '/nope' does not exist"})
    status, _, body = marathon.request("DELETE", "/v2/apps/unit-test")
    assert status == 200 and set(json.loads(body)) == {"version", "deploymentId"}
    assert json.loads(marathon.request("GET", "/v2/apps")[2]) == {"apps": []}


def test_invalid_apps_are_rejected(marathon):
    status, _, body = marathon.request("POST", "/v2/apps", {"id": "/bad", "cmd": "x", "instances": -1, "mem": -1})
    assert status == 422
    result = json.loads(body)
    assert result["message"] == "Object is not valid"
    assert {d["path"] for d in result["details"]} == {"/instances", "/mem"}
    status, _, body = marathon.request("POST", "/v2/apps", {"id": 5, "cmd": "x"})
    assert (status, json.loads(body)) == (400, {"message": "Invalid JSON", "details": [
        {"path": "/id", "errors": ["error.expected.jsstring"]}]})
    status, _, body = marathon.request("POST", "/v2/apps", {"cmd": "x"})
    assert status == 400 and json.loads(body)["details"][0]["path"] == "/id"
    status, _, body = marathon.request("GET", "/v2/nothing")
    assert status == 404 and "message" in json.loads(body)


def test_basic_auth(secured):
    status, headers, _ = secured.request("GET", "/v2/info")
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="Testing"'
    bad = "Basic " + base64.b64encode(b"ops:wrong").decode()
    assert secured.request("GET", "/v2/info", headers={"Authorization": bad})[0] == 401
    good = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    status, _, body = secured.request("GET", "/v2/info", headers={"Authorization": good})
    assert status == 200 and json.loads(body)["name"] == "marathon"
    assert secured.request("GET", "/ping")[0] == 200  # never authenticated


def test_jvm_options_are_accepted_and_logged(marathon):
    deadline = time.monotonic() + 5
    while "JVM arguments" not in marathon.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "-Xss1m -Xmx512m" in marathon.log.read_text()
