"""The Mesos 1.11.0 test stand-in (demo/standins/mesos): flag loading with the exact texts of
reference/mesos-1.11.0/flags-behaviour.md, main() checks, and a standalone master and agent on
loopback whose responses have the shape of the captured real responses."""

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
REFERENCE = TOP / "demo" / "standins" / "reference" / "mesos-1.11.0"
CAPTURED = REFERENCE / "captured"
SBIN = TOP / "demo" / "standins" / "mesos" / "package" / "usr" / "sbin"


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
    env["STANDIN_MESOS_FLAGS_DIR"] = str(REFERENCE)
    env.update(extra)
    return env


def _run(program, *args, env=None, timeout=10):
    return subprocess.run(
        [sys.executable, str(SBIN / program), *args],
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _flag_error(message, program="mesos-master"):
    return f"{message}\n\nSee `{program} --help` for a list of supported flags.\n"


def _exit_line(stderr):
    lines = [line for line in stderr.splitlines() if "EXIT with status 1:" in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("E") and "] EXIT with status 1: " in lines[0]
    return lines[0].split("] EXIT with status 1: ", 1)[1]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _post(port, path, value):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", path, body=json.dumps(value), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _wait_http(port, process, path="/version"):
    deadline = time.monotonic() + 30  # a busy CI machine (a molecule scenario beside) can take seconds to start Python
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
        try:
            return _get(port, path)
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answers on port {port}")


def _captured(name):
    return json.loads((CAPTURED / f"{name}.body").read_text())


def _assert_same_shape(ours, theirs, where="$"):
    """Same keys (dicts) and same JSON value types, recursively; lists of the same length are
    compared item by item, others against the first captured item."""
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), f"{where}: keys differ: {set(ours) ^ set(theirs)}"
        for key, value in theirs.items():
            _assert_same_shape(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list) and theirs and ours:
        pairs = zip(ours, theirs, strict=True) if len(ours) == len(theirs) else ((o, theirs[0]) for o in ours)
        for item, model in pairs:
            _assert_same_shape(item, model, f"{where}[]")


# --- flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--foo=1"], "Failed to load unknown flag 'foo'"),
        (["--no-foo"], "Failed to load unknown flag 'foo' via 'no-foo'"),
        (["--port"], "Failed to load non-boolean flag 'port': Missing value"),
        (["--no-port"], "Failed to load non-boolean flag 'port' via 'no-port'"),
        (
            ["--port=abc"],
            "Failed to load flag 'port': Failed to load value 'abc': Failed to convert into required type",
        ),
        (
            ["--agent_ping_timeout=15"],
            "Failed to load flag 'agent_ping_timeout': Failed to load value '15': Invalid duration '15'",
        ),
        (
            ["--agent_ping_timeout=15x"],
            "Failed to load flag 'agent_ping_timeout': Failed to load value '15x': Unknown duration unit 'x'; "
            "supported units are 'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days', and 'weeks'",
        ),
        (
            ["--quiet=yes"],
            "Failed to load flag 'quiet': Failed to load value 'yes': Expecting a boolean (e.g., true or false)",
        ),
        (["--no-quiet=x"], "Failed to load boolean flag 'quiet' via 'no-quiet' with value 'x'"),
        (["--port=5050", "--port=5051"], "Flag 'port' is already loaded via name 'port'"),
        (
            ["--slave_ping_timeout=10secs", "--agent_ping_timeout=10secs"],
            "Flag 'slave_ping_timeout' is already loaded via name 'agent_ping_timeout'",
        ),
        (["--agent_ping_timeout=20mins"], "Expected `--agent_ping_timeout` to be between 1secs and 15mins"),
        (
            ["--registry_strict"],
            "Support for '--registry_strict' has been disabled and will be removed in a future version of Mesos",
        ),
        (["--aaa", "--help"], "Failed to load unknown flag 'aaa'"),
    ],
)
def test_master_flag_errors_are_stouts_texts(args, message):
    proc = _run("mesos-master", *args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", _flag_error(message))


def test_flag_errors_from_the_environment_and_env_alias_against_cli_name():
    proc = _run("mesos-master", env=_env(MESOS_PORT="abc"))
    assert proc.stderr == _flag_error(
        "Failed to load flag 'port': Failed to load value 'abc': Failed to convert into required type"
    )
    proc = _run("mesos-master", "--agent_ping_timeout=10secs", env=_env(MESOS_SLAVE_PING_TIMEOUT="10secs"))
    assert proc.stderr == _flag_error("Flag 'slave_ping_timeout' is already loaded via name 'agent_ping_timeout'")
    assert proc.returncode == 1


def test_agent_flag_errors_name_mesos_agent_also_as_mesos_slave():
    for program in ("mesos-agent", "mesos-slave"):
        proc = _run(program, "--master=127.0.0.1:5050")
        assert proc.returncode == 1
        assert proc.stderr == _flag_error("Flag 'work_dir' is required, but it was not provided", "mesos-agent")


def test_help_and_version():
    proc = _run("mesos-master", "--help", "--zzz")  # help sorts first: it wins
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("Usage: mesos-master [options]\n\n")
    assert "  --[no-]authenticate_agents, --[no-]authenticate_slaves" in proc.stdout
    assert "  --port=VALUE" in proc.stdout
    proc = _run("mesos-slave", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: mesos-slave [options]\n\n")
    for program in ("mesos-master", "mesos-agent"):
        proc = _run(program, "--version")
        assert (proc.returncode, proc.stdout) == (0, "mesos 1.11.0\n")


def test_master_main_checks(tmp_path):
    port = str(_free_port())
    proc = _run("mesos-master", "--ip=127.0.0.1", f"--port={port}")
    assert proc.returncode == 1
    assert _exit_line(proc.stderr) == "--work_dir needed for replicated log based registry"

    base = ["--ip=127.0.0.1", f"--port={port}", f"--work_dir={tmp_path}"]
    proc = _run("mesos-master", *base, "--zk=zk://127.0.0.1:2181/mesos")
    assert proc.returncode == 1
    assert _exit_line(proc.stderr) == "Need to specify --quorum for replicated log based registry when using ZooKeeper"

    proc = _run("mesos-master", *base, "--zk=zk://127.0.0.1:2181/", "--quorum=1")
    assert proc.returncode == 1
    assert _exit_line(proc.stderr) == (
        "Failed to create a master contender: Expecting a (chroot) path for ZooKeeper ('/' is not supported)"
    )

    proc = _run("mesos-master", *base, "--zk=127.0.0.1:2181/mesos", "--quorum=1")
    assert _exit_line(proc.stderr) == "Error parsing ZooKeeper URL: Expecting 'zk://' at the beginning of the URL"

    proc = _run("mesos-master", *base, "--ip_discovery_command=hostname -i")
    assert _exit_line(proc.stderr) == "Only one of `--ip` or `--ip_discovery_command` should be specified"


def test_agent_main_checks(tmp_path):
    base = ["--ip=127.0.0.1", f"--port={_free_port()}", f"--work_dir={tmp_path}"]
    proc = _run("mesos-agent", *base)
    assert proc.returncode == 1
    assert _exit_line(proc.stderr) == "Missing required option `--master` or `--master_detector`"
    proc = _run("mesos-agent", *base, "--master=127.0.0.1:5050", "--master_detector=x")
    assert _exit_line(proc.stderr) == "Only one of `--master` or `--master_detector` should be specified"
    proc = _run("mesos-agent", *base, "--master=127.0.0.1:5050", "--containerizers=docker,mesos",
                f"--docker={tmp_path}/no-docker")
    assert proc.returncode == 1
    assert _exit_line(proc.stderr).startswith(
        "Failed to create a containerizer: Could not create DockerContainerizer: Failed to create docker: "
        "Failed to get docker version: "
    )


# --- a standalone master and agent ---------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("mesos")
    master_port, agent_port = _free_port(), _free_port()
    started = []

    def start(program, args, env):
        proc = subprocess.Popen(
            [sys.executable, str(SBIN / program), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / f"{program}.log").open("w"),
        )
        started.append(proc)
        return proc

    try:
        master = start(
            "mesos-master",
            ["--ip=127.0.0.1", f"--work_dir={work}/master", "--cluster=demo", "--slave_ping_timeout=20secs",
             "--registry_fetch_timeout=60secs"],
            _env(MESOS_PORT=str(master_port), MESOS_FOO="ignored"),
        )
        _wait_http(master_port, master)
        agent = start(
            "mesos-slave",
            ["--ip=127.0.0.1", f"--port={agent_port}", f"--work_dir={work}/agent", "--containerizers=mesos",
             f"--master=127.0.0.1:{master_port}", "--attributes=rack:r1;level:3",
             "--resources=cpus:4;mem:8192;ports:[31000-32000]"],
            _env(MESOS_PORT="1"),  # the command line wins over the environment
        )
        _wait_http(agent_port, agent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = json.loads(_get(master_port, "/master/state")[2])
            if state["slaves"]:
                break
            time.sleep(0.1)
        yield {"master": master, "agent": agent, "master_port": master_port, "agent_port": agent_port,
               "work": work}
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)


def test_master_health_version_and_headers(cluster):
    port = cluster["master_port"]
    status, headers, body = _get(port, "/master/health")
    assert (status, body) == (200, b"")
    assert set(headers) == {"Date", "Content-Length"} and headers["Content-Length"] == "0"
    status, headers, body = _get(port, "/version")
    assert status == 200 and "Server" not in headers
    assert headers["Content-Type"] == "application/json"
    assert body == (CAPTURED / "version.body").read_bytes()
    assert _get(port, "/health")[0] == 200  # delegated to the master process
    assert _get(port, "/nothing/here")[0] == 404


def test_master_state_has_the_captured_shape(cluster):
    port = cluster["master_port"]
    status, framework = _post(port, "/standin/frameworks",
                              {"id": None, "name": "probe", "hostname": "vm", "webui_url": "", "pid": "x@1.2.3.4:1"})
    assert status == 200 and framework["id"].endswith("-0000")
    status, headers, body = _get(port, "/master/state")
    assert status == 200 and headers["Content-Type"] == "application/json" and "Server" not in headers
    ours, theirs = json.loads(body), _captured("master_state")
    flags_ours, flags_theirs = ours.pop("flags"), theirs.pop("flags")
    ours["slaves"][0]["attributes"] = {}  # captured agent had none
    _assert_same_shape(ours, theirs)
    assert ours["leader"] == ours["pid"] and ours["leader_info"]["id"] == ours["id"]
    assert ours["slaves"][0]["id"].startswith(ours["id"] + "-S") and ours["slaves"][0]["active"] is True
    assert ours["activated_slaves"] == 1.0
    # /flags rendering: the captured set, plus what this run sets, alias under its own name
    expected = (set(flags_theirs) - {"quorum", "agent_ping_timeout"}) | {"ip", "slave_ping_timeout"}
    assert set(flags_ours) == expected
    assert flags_ours["slave_ping_timeout"] == "20secs" and flags_ours["registry_fetch_timeout"] == "1mins"
    assert flags_ours["port"] == str(port)
    for name in expected - {"ip", "slave_ping_timeout", "port", "work_dir"}:
        assert flags_ours[name] == flags_theirs[name], name
    assert json.loads(_get(port, "/master/flags")[2]) == {"flags": flags_ours}
    assert json.loads(_get(port, "/state.json")[2])["id"] == ours["id"]


def test_master_slaves_metrics_and_redirect(cluster):
    port = cluster["master_port"]
    slaves = json.loads(_get(port, "/master/slaves")[2])
    slaves["slaves"][0]["attributes"] = {}
    _assert_same_shape(slaves, _captured("master_slaves"))
    entry = json.loads(_get(port, "/master/slaves")[2])["slaves"][0]
    assert entry["attributes"] == {"rack": "r1", "level": 3.0}
    assert entry["resources"]["cpus"] == 4.0 and entry["resources"]["mem"] == 8192.0

    metrics = json.loads(_get(port, "/metrics/snapshot")[2])
    captured = _captured("metrics_snapshot")
    assert set(metrics) <= set(captured)
    assert {k for k in captured if k.startswith("master/") and "/frameworks/probe/" not in k} <= set(metrics)
    assert all(isinstance(v, float) for v in metrics.values())
    assert metrics["master/elected"] == 1.0 and metrics["master/slaves_active"] == 1.0
    assert metrics["master/uptime_secs"] > 0

    status, headers, body = _get(port, "/master/redirect")
    assert (status, body) == (307, b"")
    assert list(headers) == ["Date", "Location", "Content-Length"]
    assert headers["Location"].startswith("//") and headers["Location"].endswith(f":{port}")


def test_agent_endpoints(cluster):
    port = cluster["agent_port"]
    status, headers, body = _get(port, "/state")
    assert status == 200 and "Server" not in headers
    state = json.loads(body)
    theirs = _captured("slave_1_state")
    flags_ours, flags_theirs = state.pop("flags"), theirs.pop("flags")
    state["attributes"] = {}
    _assert_same_shape(state, theirs)
    assert state["resources"]["ports"] == "[31000-32000]" and state["resources"]["cpus"] == 4.0
    assert flags_ours["port"] == str(port) and flags_ours["frameworks_home"] == ""
    assert set(flags_theirs) <= set(flags_ours)
    assert _get(port, "/slave(1)/health")[:3:2] == (200, b"")
    assert json.loads(_get(port, "/slave(1)/state")[2])["id"] == state["id"]
    metrics = json.loads(_get(port, "/metrics/snapshot")[2])
    assert metrics["slave/registered"] == 1.0 and metrics["slave/uptime_secs"] > 0
    assert (cluster["work"] / "agent" / "meta" / "slaves" / "latest").resolve().name == state["id"]


def test_sigterm_is_a_clean_exit(cluster):
    for name in ("agent", "master"):
        proc = cluster[name]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    log = (cluster["work"] / "mesos-master.log").read_text()
    assert "Elected as the leading master!" in log
    assert "Loaded deprecated flag 'slave_ping_timeout'" in log
    assert "given agent ID" in (cluster["work"] / "mesos-slave.log").read_text()


# --- authentication (reference/mesos-1.11.0/authentication.md) -----------------------------

STANDIN_LIB = TOP / "demo" / "standins" / "mesos" / "package" / "usr" / "lib" / "mesos-standin"


def _common():
    if str(STANDIN_LIB) not in sys.path:
        sys.path.insert(0, str(STANDIN_LIB))
    from mesos_standin import common

    return common


def _request(port, method, path, body=None, auth=None, headers=None):
    headers = dict(headers or {})
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _wait_for(predicate, seconds=8.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A standalone master with --authenticate_agents, --authenticate_frameworks and
    --authenticate_http_readwrite; credentials in the text format."""
    work = tmp_path_factory.mktemp("mesos-auth")
    credentials = work / "credentials"
    credentials.write_text("ops s3cret\nagent agentpw\nmarathon marathonpw\n")
    credentials.chmod(0o600)
    port = _free_port()
    log = work / "master.log"
    proc = subprocess.Popen(
        [sys.executable, str(SBIN / "mesos-master"), "--ip=127.0.0.1", f"--port={port}", f"--work_dir={work}/m",
         "--authenticate_agents", "--authenticate", "--authenticate_http_readwrite",
         f"--credentials=file://{credentials}"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )
    started = [proc]

    def agent(*extra, port_=None):
        agent_port = port_ or _free_port()
        agent_log = work / f"agent-{agent_port}.log"
        child = subprocess.Popen(
            [sys.executable, str(SBIN / "mesos-agent"), "--ip=127.0.0.1", f"--port={agent_port}",
             f"--work_dir={work}/a{agent_port}", f"--master=127.0.0.1:{port}", *extra],
            env=_env(), stdout=subprocess.DEVNULL, stderr=agent_log.open("w"),
        )
        started.append(child)
        return child, agent_port, agent_log

    try:
        _wait_http(port, proc)
        assert _wait_for(lambda: b"Elected" in log.read_bytes())
        yield {"port": port, "log": log, "work": work, "agent": agent, "proc": proc}
    finally:
        for child in started:
            if child.poll() is None:
                child.kill()
            child.wait(5)


def test_readwrite_endpoint_without_credentials_is_401_with_the_realm(secured):
    status, headers, body = _request(secured["port"], "POST", "/master/teardown", b"frameworkId=x")
    assert (status, body) == (401, b"401 Unauthorized.")
    assert headers["WWW-Authenticate"] == 'Basic realm="mesos-master-readwrite"'
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert _request(secured["port"], "GET", "/master/maintenance/schedule")[0] == 401  # realm per route, any method
    assert _request(secured["port"], "POST", "/master/machine/down", b"[]")[0] == 401


def test_readwrite_endpoint_with_a_wrong_password_is_401(secured):
    for auth in ("ops:wrong", "nobody:s3cret", "ops:s3cret:extra"):
        status, headers, _ = _request(secured["port"], "POST", "/master/teardown", b"frameworkId=x", auth=auth)
        assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="mesos-master-readwrite"', auth
    headers = {"Authorization": "basic " + base64.b64encode(b"ops:s3cret").decode()}  # scheme is case-sensitive
    assert _request(secured["port"], "POST", "/master/teardown", b"frameworkId=x", headers=headers)[0] == 401


def test_readwrite_endpoint_with_the_right_credentials_is_served(secured):
    port = secured["port"]
    status, answer = _post(port, "/standin/frameworks", {"id": None, "name": "probe", "hostname": "vm",
                                                         "webui_url": "", "pid": "probe@127.0.0.1:1",
                                                         "principal": "ops", "secret": "s3cret"})
    assert status == 200
    status, _, body = _request(port, "POST", "/master/teardown", f"frameworkId={answer['id']}".encode(),
                               auth="ops:s3cret", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body) == (200, b"")
    status, _, body = _request(port, "POST", "/master/teardown", b"frameworkId=nope", auth="ops:s3cret")
    assert (status, body) == (400, b"No framework found with specified ID")
    status, _, body = _request(port, "GET", "/master/maintenance/schedule", auth="ops:s3cret")
    assert (status, json.loads(body)) == (200, {})


def test_readonly_endpoints_stay_open_without_authenticate_http_readonly(secured):
    for path in ("/master/state", "/master/flags", "/master/slaves", "/metrics/snapshot", "/version"):
        assert _request(secured["port"], "GET", path)[0] == 200, path


def test_health_is_open_even_with_readonly_authentication(tmp_path):
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}]}))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SBIN / "mesos-master"), "--ip=127.0.0.1", f"--port={port}",
         f"--work_dir={tmp_path}/m", "--authenticate_http_readonly", f"--credentials={credentials}"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        status, _, body = _wait_http(port, proc, "/master/health")
        assert (status, body) == (200, b"")
        assert _request(port, "GET", "/health")[0] == 200
        status, headers, _ = _request(port, "GET", "/master/state")
        assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="mesos-master-readonly"'
        assert _request(port, "GET", "/metrics/snapshot")[0] == 401
        assert _request(port, "GET", "/master/state", auth="ops:s3cret")[0] == 200
        assert _request(port, "GET", "/version")[0] == 200
    finally:
        proc.kill()
        proc.wait(5)


def test_startup_fails_with_authenticate_http_readwrite_and_no_credentials(tmp_path):
    proc = _run("mesos-master", "--ip=127.0.0.1", f"--port={_free_port()}", f"--work_dir={tmp_path}",
                "--authenticate_http_readwrite")
    assert proc.returncode == 1
    assert _exit_line(proc.stderr) == (
        "Failed to create HTTP authenticator module 'basic': No credentials provided for the default 'basic' "
        "HTTP authenticator for realm 'mesos-master-readwrite'"
    )
    assert "No credentials provided, authentication requests will be refused" in proc.stderr


def test_agent_startup_fails_with_authenticate_http_readwrite_and_no_http_credentials(tmp_path):
    proc = _run("mesos-agent", "--ip=127.0.0.1", f"--port={_free_port()}", f"--work_dir={tmp_path}",
                "--master=127.0.0.1:1", "--authenticate_http_readwrite")
    assert proc.returncode == 1
    assert _exit_line(proc.stderr) == (
        "Failed to create HTTP authenticator module 'basic': No credentials provided for the default 'basic' "
        "HTTP authenticator for realm 'mesos-agent-readwrite'"
    )


def test_bad_credentials_files_end_the_master(tmp_path):
    base = ["--ip=127.0.0.1", f"--port={_free_port()}", f"--work_dir={tmp_path}"]
    bad = tmp_path / "bad"
    bad.write_text("ops s3cret\nonly-a-principal\n")
    empty = tmp_path / "empty"
    empty.write_text("")
    cases = [
        (bad, "Invalid credential format at line 2 (see --credentials flag)"),
        (empty, "Credentials file must contain at least one credential (see --credentials flag)"),
        (tmp_path / "missing", f"Failed to read credentials file '{tmp_path}/missing': No such file or directory "
                               "(see --credentials flag)"),
    ]
    for path, message in cases:
        proc = _run("mesos-master", *base, f"--credentials={path}")
        assert proc.returncode == 1 and _exit_line(proc.stderr) == message


def test_credentials_file_readable_by_others_is_warned_about(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text("ops s3cret\n")
    credentials.chmod(0o644)
    proc = _run("mesos-master", "--ip=127.0.0.1", f"--port={_free_port()}", f"--work_dir={tmp_path}",
                f"--credentials={credentials}", "--authenticate_http_readwrite", "--http_authenticators=nope")
    assert (
        f"Permissions on credentials file '{credentials}' are too open. It is recommended that your credentials "
        "file is NOT accessible by others."
    ) in proc.stderr
    assert _exit_line(proc.stderr).startswith("Failed to create HTTP authenticator module 'nope': ")


def test_both_credentials_file_formats_are_parsed(tmp_path):
    common = _common()
    text = tmp_path / "text"
    text.write_text("ops s3cret\n\nagent agentpw\n")
    assert common.read_credentials(str(text)) == [("ops", "s3cret"), ("agent", "agentpw")]
    js = tmp_path / "json"
    js.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}, {"principal": "x"}]}))
    assert common.read_credentials(str(js)) == [("ops", "s3cret"), ("x", "")]
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"principal": "agent", "secret": "agentpw"}))
    assert common.read_credential(str(one)) == ("agent", "agentpw")
    line = tmp_path / "one.txt"
    line.write_text("agent agentpw\n")
    assert common.read_credential(str(line)) == ("agent", "agentpw")
    two = tmp_path / "two.txt"
    two.write_text("a b\nc d\n")
    with pytest.raises(common.CredentialError, match=r"^Expecting only one credential$"):
        common.read_credential(str(two))
    tab = tmp_path / "tab.txt"
    tab.write_text("a\tb\n")  # only a space separates principal and secret
    with pytest.raises(common.CredentialError, match=r"^Invalid credential format$"):
        common.read_credential(str(tab))
    empty = tmp_path / "empty"
    empty.write_text("")
    assert common.read_credentials(str(empty)) is None and common.read_credential(str(empty)) is None


def test_agent_without_credential_is_refused(secured):
    _agent, agent_port, _log = secured["agent"]()
    pid = f"slave(1)@127.0.0.1:{agent_port}"
    message = f"Refusing registration of agent at {pid} because it is not authenticated"
    assert _wait_for(lambda: message in secured["log"].read_text())
    slaves = json.loads(_get(secured["port"], "/master/slaves")[2])["slaves"]
    assert all(s["pid"] != pid for s in slaves)


def test_agent_with_credential_is_registered(secured):
    credential = secured["work"] / "agent.json"
    credential.write_text(json.dumps({"principal": "agent", "secret": "agentpw"}))
    credential.chmod(0o600)
    _agent, agent_port, log = secured["agent"](f"--credential={credential}")
    pid = f"slave(1)@127.0.0.1:{agent_port}"

    def registered():
        return any(s["pid"] == pid for s in json.loads(_get(secured["port"], "/master/slaves")[2])["slaves"])

    assert _wait_for(registered)
    assert f"Successfully authenticated principal 'agent' at {pid}" in secured["log"].read_text()
    text = log.read_text()
    assert "Agent using credential for: agent" in text
    assert f"Successfully authenticated with master master@127.0.0.1:{secured['port']}" in text


def test_agent_with_a_wrong_secret_exits(secured):
    credential = secured["work"] / "agent.txt"
    credential.write_text("agent wrong\n")
    agent, agent_port, log = secured["agent"](f"--credential={credential}")
    assert agent.wait(10) == 1
    assert _exit_line(log.read_text()) == f"Master master@127.0.0.1:{secured['port']} refused authentication"
    pid = f"slave(1)@127.0.0.1:{agent_port}"
    assert f"Authentication of {pid} was unsuccessful: Invalid credentials" in secured["log"].read_text()


def test_framework_without_credential_is_refused(secured):
    pid = "scheduler-1@127.0.0.1:1"
    status, answer = _post(secured["port"], "/standin/frameworks",
                           {"id": None, "name": "nocred", "hostname": "vm", "webui_url": "", "pid": pid})
    assert (status, answer) == (403, {"message": f"Framework at {pid} is not authenticated"})
    assert (f"Refusing subscription of framework 'nocred' at {pid}: Framework at {pid} is not authenticated"
            in secured["log"].read_text())


def test_framework_with_credential_is_accepted_and_a_wrong_secret_refused(secured):
    body = {"id": None, "name": "marathon", "hostname": "vm", "webui_url": "", "pid": "scheduler-2@127.0.0.1:1",
            "principal": "marathon", "secret": "marathonpw"}
    status, answer = _post(secured["port"], "/standin/frameworks", body)
    assert status == 200 and answer["id"]
    frameworks = json.loads(_get(secured["port"], "/master/frameworks")[2])["frameworks"]
    assert any(f["id"] == answer["id"] for f in frameworks)
    status, answer = _post(secured["port"], "/standin/frameworks",
                           {**body, "pid": "scheduler-3@127.0.0.1:1", "secret": "wrong"})
    assert (status, answer) == (401, {"message": "Master refused authentication"})


def test_agent_readonly_http_authentication(tmp_path):
    http_credentials = tmp_path / "http_credentials"
    http_credentials.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}]}))
    http_credentials.chmod(0o600)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SBIN / "mesos-agent"), "--ip=127.0.0.1", f"--port={port}", f"--work_dir={tmp_path}/a",
         "--master=127.0.0.1:1", "--authenticate_http_readonly", f"--http_credentials={http_credentials}"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_http(port, proc, "/health")[0] == 200
        status, headers, body = _request(port, "GET", "/state")
        assert (status, body) == (401, b"401 Unauthorized.")
        assert headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readonly"'
        assert _request(port, "GET", "/slave(1)/flags", auth="ops:wrong")[0] == 401
        assert _request(port, "GET", "/state", auth="ops:s3cret")[0] == 200
        assert _request(port, "POST", "/api/v1", b"{}")[0] == 501  # read-write realm not enabled: not emulated
    finally:
        proc.kill()
        proc.wait(5)


def test_agent_keeps_registering_through_answers_cut_short(tmp_path):
    """A master killed while it answers (a rolling restart) leaves the agent a bad status line or
    a short body: the agent counts that as a lost connection and registers on the next try. (It
    once ended the registration thread: the agent answered HTTP but never registered again.)"""
    import threading

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    master_port = listener.getsockname()[1]
    broken = [b"garbage\r\n\r\n",  # http.client.BadStatusLine
              # http.client.IncompleteRead
              b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n{\"id\""]
    served = []

    def serve():
        while len(served) < 6:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                served.append(json.loads(body))
                if len(served) <= len(broken):
                    conn.sendall(broken[len(served) - 1])
                else:
                    answer = b'{"id": "cut-S0"}'
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(answer)).encode() + b"\r\n\r\n" + answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    agent_port = _free_port()
    log = tmp_path / "agent.log"
    agent = subprocess.Popen(
        [sys.executable, str(SBIN / "mesos-agent"), "--ip=127.0.0.1", f"--port={agent_port}",
         f"--work_dir={tmp_path}/a", f"--master=127.0.0.1:{master_port}", "--containerizers=mesos"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )
    try:
        assert _wait_for(lambda: len(served) >= 6, 15), (served, log.read_text())
        assert agent.poll() is None, log.read_text()
        metrics = json.loads(_get(agent_port, "/metrics/snapshot")[2])
        assert metrics["slave/registered"] == 1.0
        # the first two tries went unanswered, the third registered, the rest are heartbeats with its id
        assert [s.get("id") for s in served[:3]] == [None, None, None]
        assert {s.get("id") for s in served[3:]} == {"cut-S0"}
        assert "Registered with master master@127.0.0.1" in log.read_text()
    finally:
        listener.close()
        agent.kill()
        agent.wait(5)
