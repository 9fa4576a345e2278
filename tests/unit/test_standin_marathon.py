"""The Marathon stand-in (demo/standins/marathon/): command line like Scallop 3.3.2 and the HTTP API
of a --disable_ha instance, against demo/standins/reference/marathon/. No ZooKeeper, loopback only."""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
SCRIPT = TOP / "demo/standins/marathon/package/usr/share/marathon/bin/marathon"
REFERENCE = TOP / "demo/standins/reference/marathon"
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
    def __init__(self, tmp, *extra, master="127.0.0.1:1"):
        self.port = _free_port()
        lib = tmp / "libmesos.so"
        lib.write_text("stub\n")
        self.log = tmp / f"marathon-{self.port}.log"
        args = ["-J-Xmx512m", "--disable_ha", "--master", master, "--http_port", str(self.port),
                "--hostname", "127.0.0.1", "--http_address", "127.0.0.1", *extra]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([str(SCRIPT), *args], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         env=_env(MESOS_NATIVE_JAVA_LIBRARY=str(lib), JAVA_OPTS="-Xss1m"))
        deadline = time.monotonic() + 30
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


def _basic(user_password: str, scheme: str = "Basic") -> dict:
    return {"Authorization": f"{scheme} " + base64.b64encode(user_password.encode()).decode()}


def test_basic_auth_without_credentials_is_401_with_jettys_basic_realm(secured):
    status, headers, body = secured.request("GET", "/v2/info")
    assert status == 401 and headers["WWW-Authenticate"] == 'basic realm="Testing"'
    assert b"HTTP ERROR 401 Unauthorized" in body
    assert "X-Marathon-Leader" not in headers and "X-Frame-Options" not in headers  # filters did not run


def test_basic_auth_with_a_wrong_password_is_401(secured):
    for user_password in ("ops:wrong", "nobody:s3cret", "ops"):
        assert secured.request("GET", "/v2/info", headers=_basic(user_password))[0] == 401, user_password


def test_basic_auth_with_the_right_credentials_is_served(secured):
    for scheme in ("Basic", "basic", "BASIC"):  # Jetty compares the scheme case-insensitively
        status, _, body = secured.request("GET", "/v2/info", headers=_basic("ops:s3cret", scheme))
        assert status == 200 and json.loads(body)["name"] == "marathon"


def test_basic_auth_covers_ping(secured):
    assert secured.request("GET", "/ping")[0] == 401  # the security handler maps "/*"
    assert secured.request("GET", "/ping", headers=_basic("ops:s3cret"))[0] == 200


def test_mesos_authentication_needs_a_principal():
    proc = run("--master", "m", "--mesos_authentication")
    assert (proc.returncode, proc.stderr) == (1, "[scallop] Error: When specifying 'mesos_authentication', all of "
                                                 "the following options must also be provided: "
                                                 "mesos_authentication_principal\n")
    proc = run("--master", "m", MARATHON_MESOS_AUTHENTICATION="")  # the environment gives the option too
    assert proc.returncode == 1 and "must also be provided: mesos_authentication_principal" in proc.stderr


def test_mesos_authentication_secret_and_secret_file_exclude_each_other():
    proc = run("--master", "m", "--mesos_authentication_secret", "x", "--mesos_authentication_secret_file", "/f")
    assert proc.stderr == ("[scallop] Error: There should be only one or zero of the following options: "
                           "mesos_authentication_secret, mesos_authentication_secret_file\n")


MESOS_SBIN = TOP / "demo/standins/mesos/package/usr/sbin"


@pytest.fixture(scope="module")
def mesos_master(tmp_path_factory):
    """A standalone Mesos stand-in master that requires framework authentication."""
    work = tmp_path_factory.mktemp("mesos")
    credentials = work / "credentials"
    credentials.write_text("marathon marathonpw\n")
    credentials.chmod(0o600)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
    env["STANDIN_MESOS_FLAGS_DIR"] = str(TOP / "demo/standins/reference/mesos-1.11.0")
    log = work / "master.log"
    proc = subprocess.Popen(
        [sys.executable, str(MESOS_SBIN / "mesos-master"), "--ip=127.0.0.1", f"--port={port}",
         f"--work_dir={work}/m", "--authenticate_frameworks", f"--credentials={credentials}"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 30
    while b"Elected as the leading master" not in log.read_bytes():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    yield {"port": port, "log": log}
    proc.kill()
    proc.wait(5)


def _frameworks(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/master/frameworks", timeout=5) as resp:
        return json.loads(resp.read())["frameworks"]


def test_mesos_authentication_presents_the_credential(mesos_master, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("marathonpw")  # no final newline: the file is the secret, byte for byte
    m = Marathon(tmp_path, "--mesos_authentication", "--mesos_authentication_principal", "marathon",
                 "--mesos_authentication_secret_file", str(secret), master=f"127.0.0.1:{mesos_master['port']}")
    try:
        deadline = time.monotonic() + 30
        while not any(f["name"] == "marathon" and f["active"] for f in _frameworks(mesos_master["port"])):
            assert time.monotonic() < deadline, m.log.read_text()
            time.sleep(0.2)
        assert "Authenticate with Mesos as marathon" in m.log.read_text()
        assert "Successfully authenticated principal 'marathon'" in mesos_master["log"].read_text()
    finally:
        m.stop()


def _marathon_exit(tmp_path, master_port, *extra):
    lib = tmp_path / "libmesos.so"
    lib.write_text("stub\n")
    args = ["--disable_ha", "--master", f"127.0.0.1:{master_port}", "--http_port", str(_free_port()),
            "--hostname", "127.0.0.1", "--http_address", "127.0.0.1", *extra]
    return subprocess.run([str(SCRIPT), *args], env=_env(MESOS_NATIVE_JAVA_LIBRARY=str(lib)), capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)


def test_framework_without_credential_is_refused_and_marathon_exits(mesos_master, tmp_path):
    # the principal alone does not authenticate: --mesos_authentication is off
    proc = _marathon_exit(tmp_path, mesos_master["port"], "--mesos_authentication_principal", "marathon")
    assert proc.returncode == 106, proc.stdout
    assert re.search(r"Error: Framework at \S+ is not authenticated\n", proc.stdout)
    assert "follow the instructions for recovery here: https://mesosphere.github.io/marathon/docs/framework-id.html" \
        in proc.stdout


def test_secret_file_is_read_whole_so_a_final_newline_is_refused(mesos_master, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("marathonpw\n")
    proc = _marathon_exit(tmp_path, mesos_master["port"], "--mesos_authentication", "--mesos_authentication_principal",
                          "marathon", "--mesos_authentication_secret_file", str(secret))
    assert proc.returncode == 106, proc.stdout
    assert "Error: Master refused authentication\n" in proc.stdout
    assert "Authentication of scheduler-" in mesos_master["log"].read_text()


def test_marathon_env_vars_become_options_in_main_not_in_the_launcher():
    # Main.envToArgs: MARATHON_ZK=bad -> --zk bad, once (a launcher that converted too would give 'bad bad').
    proc = run("--master", "m", MARATHON_ZK="bad")
    assert proc.stderr == f"[scallop] Error: Bad arguments for option 'zk': 'bad' - bad {ZK_URL_ERROR}\n"


def test_jvm_options_are_accepted_and_logged(marathon):
    deadline = time.monotonic() + 5
    while "JVM arguments" not in marathon.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "-Xss1m -Xmx512m" in marathon.log.read_text()
