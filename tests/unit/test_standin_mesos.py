"""The Mesos 1.11.0 test stand-in (tests/standins/mesos): flag loading with the exact texts of
reference/mesos-1.11.0/flags-behaviour.md, main() checks, and a standalone master and agent on
loopback whose responses have the shape of the captured real responses."""

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
REFERENCE = TOP / "tests" / "reference" / "mesos-1.11.0"
CAPTURED = REFERENCE / "captured"
SBIN = TOP / "tests" / "standins" / "mesos" / "package" / "usr" / "sbin"


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
    deadline = time.monotonic() + 8
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
        deadline = time.monotonic() + 8
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
