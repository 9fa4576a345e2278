"""The whole install, end to end, as an operator runs it: `./install.sh config.cfg --yes` from
this machine over SSH, as the sudo user `dcos`, into six hosts on an internal Docker network
(no host reaches a mirror) from a bundle made here with the Mesos and Marathon stand-ins.

Then what an operator checks by hand, a second run that changes nothing, a run killed in the
middle and run again, and failover on the finished cluster. Measured times go to
.cache/test-logs/e2e-cluster.json and are printed at the end of the test session."""

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from installer.demo import DemoCluster, prepare

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TOP = Path(__file__).resolve().parents[2]
RESULTS = TOP / ".cache" / "test-logs" / "e2e-cluster.json"
CLUSTER = DemoCluster(prefix="dcos-e2e", subnet="172.29.40.0/24", agents=2, label="dcos-testbed=1", name="e2e")


def _record(key: str, value) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")


def _install(env: dict, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    start = time.time()
    proc = subprocess.run([str(TOP / "install.sh"), str(env["config"]), "--runs-dir", str(env["runs"]), *args],
                          capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    proc.duration = time.time() - start  # type: ignore[attr-defined]
    return proc


def _summary(env: dict) -> dict:
    return json.loads(((env["runs"] / "latest").resolve() / "summary.json").read_text())


def _http(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None,
          timeout: float = 5, cafile: str | None = None) -> tuple[int, object]:
    import ssl

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json",
                                                                          **(headers or {})})
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _wait(check, timeout: float, interval: float = 0.25, what: str = "") -> float:
    """Seconds until check() is true; fails after timeout."""
    start = time.time()
    last = None
    while time.time() - start < timeout:
        try:
            if check():
                return time.time() - start
        except (OSError, ValueError, KeyError, subprocess.SubprocessError, RuntimeError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what or check} not true within {timeout}s (last error: {last})")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.unlink(missing_ok=True)
    config = prepare(CLUSTER, folder, bundle=TOP / ".cache" / "test-bundles" / "e2e")
    env = {"config": config, "runs": folder / "runs", "folder": folder}
    first = _install(env, "--yes")
    env["first"] = first
    (TOP / ".cache" / "test-logs" / "e2e-first-install.log").write_text(first.stdout + first.stderr)
    yield env
    CLUSTER.destroy()


@pytest.fixture
def installed(env):
    if env["first"].returncode != 0:
        pytest.fail("the first install failed (see test_first_install_...)")
    return env


def _node(name: str):
    return CLUSTER.node(name)


def _secrets(env) -> dict:
    return yaml.safe_load((env["runs"] / "secrets" / f"{CLUSTER.name}.yml").read_text())


def _zk_mode(node) -> str:
    out = node.sh("bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && timeout 5 cat <&3'", check=False)
    return next((line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Mode: ")), "down")


def _mesos_leader() -> str | None:
    for master in CLUSTER.group("master"):
        try:
            status, snap = _http(f"http://{master.ip}:5050/metrics/snapshot", timeout=2)
        except OSError:
            continue
        if status == 200 and snap.get("master/elected") == 1:
            return master.name
    return None


def _marathon_leader(via: str) -> str | None:
    status, body = _http(f"http://{via}/v2/leader", timeout=2)
    return body["leader"].split(":")[0] if status == 200 else None


def _resolve(node, name: str) -> set[str]:
    out = node.sh(f"getent ahostsv4 {name}", check=False)
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _ips(prefix: str) -> set[str]:
    return {n.ip for n in CLUSTER.group(prefix)}


def test_first_install_runs_every_phase_and_prints_the_urls(env):
    proc = env["first"]
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    summary = _summary(env)
    phases = [p["phase"] for p in summary["phases"]]
    assert phases == ["repo", "registry", "hosts", "zookeeper", "mesos", "marathon", "consul", "lb", "mysql", "verify"]
    assert all(p["status"] == "successful" for p in summary["phases"])
    assert "precheck passed" in proc.stdout
    out = proc.stdout
    assert f"Marathon         http://{CLUSTER.vip}/" in out, out[-3000:]
    assert f"Mesos            http://{CLUSTER.vip}:8050/" in out
    assert f"Consul           http://{CLUSTER.vip}:8550/ui/" in out
    assert f"Docker registry  https://{_node('installer').ip}:5000/v2/" in out
    assert {e["name"] for e in summary["endpoints"]} >= {"Marathon", "Mesos", "Consul", "MySQL"}
    _record("first_install", {"seconds": round(proc.duration, 1),
                              "phases": {p["phase"]: p["duration"] for p in summary["phases"]}})


def test_installer_host_serves_repo_registry_and_time(installed):
    installer = _node("installer")
    status, _ = _http(f"http://{installer.ip}:8081/debian/InRelease")
    assert status == 200
    ca = installed["runs"] / "state" / CLUSTER.name / "registry-pki" / "ca.crt"
    cafile = str(ca) if ca.exists() else None
    status, _ = _http(f"https://{installer.ip}:5000/v2/", cafile=cafile)
    assert status == 200
    for node in CLUSTER.nodes:
        if node.name == "installer":
            continue
        sources = node.sh("chronyc -n -c sources")
        assert any(line.split(",")[1:3] == ["*", installer.ip] for line in sources.splitlines()), (node.name, sources)
    # A host pulls from the registry what the bundle pushed, through the TLS the CA signs.
    agent = _node("agent1")
    assert agent.sh(f"test -f /etc/docker/certs.d/{installer.ip}:5000/ca.crt && echo ok").strip() == "ok"


def test_zookeeper_mesos_and_marathon_have_one_leader(installed):
    modes = sorted(_zk_mode(m) for m in CLUSTER.group("master"))
    assert modes == ["follower", "follower", "leader"], modes
    leader = _mesos_leader()
    assert leader is not None
    status, slaves = _http(f"http://{_node(leader).ip}:5050/master/slaves")
    assert status == 200
    assert {s["hostname"] for s in slaves["slaves"] if s["active"]} == {"agent1", "agent2"}
    leaders = {_marathon_leader(m.ip + ":8080") for m in CLUSTER.group("master")}
    assert len(leaders) == 1 and leaders <= {m.name for m in CLUSTER.group("master")} | _ips("master"), leaders


def test_consul_has_a_leader_and_every_service_is_healthy_in_dns(installed):
    master = _node("master1")
    status, leader = _http(f"http://{master.ip}:8500/v1/status/leader")
    assert status == 200 and leader.split(":")[0] in _ips("master")
    token = _secrets(installed)["consul_management_token"]
    expected = {
        "zookeeper": _ips("master"), "mesos-master": _ips("master"), "marathon": _ips("master"),
        "consul-http": _ips("master"), "mesos-agent": _ips("agent"), "registry": {_node("installer").ip},
        "repo": {_node("installer").ip}, "cadvisor": _ips("master") | _ips("agent"),
        "mysql-master": {_node("agent1").ip}, "mysql-slave": {_node("agent2").ip},
        "mysql-vip": {_node("agent1").ip}, "leader.mesos-master": {_node(_mesos_leader()).ip},
    }

    def problems() -> list:
        """Checks not passing, and services whose passing hosts are not the expected ones.
        Checks run every 5-10 s, so a check that timed out once on a busy machine may take that
        long to pass again: the test waits as an operator would, and reports what stayed wrong."""
        status, checks = _http(f"http://{master.ip}:8500/v1/health/state/any", headers={"X-Consul-Token": token})
        if status != 200:
            return [("consul answered", status)]
        found = [(c["Node"], c["CheckID"], c["Status"]) for c in checks
                 if c["Status"] != "passing" and c["ServiceID"] not in ("mesos-master-leader", "mysql-vip")]
        for name, ips in expected.items():
            service, tag = (name.split(".")[1], name.split(".")[0]) if "." in name else (name, None)
            _, entries = _http(f"http://{master.ip}:8500/v1/health/service/{service}?passing=1"
                               + (f"&tag={tag}" if tag else ""), headers={"X-Consul-Token": token})
            passing = {e["Service"]["Address"] or e["Node"]["Address"] for e in entries}
            if passing != ips:
                found.append((name, sorted(passing), "expected", sorted(ips)))
        return found

    left = problems()
    deadline = time.time() + 60
    while left and time.time() < deadline:
        time.sleep(2)
        left = problems()
    assert not left, left
    # Through the host's resolver on a client agent (dnsmasq -> the local Consul agent). Consul
    # answers at most 3 records over UDP: a bigger set shows as a subset.
    agent = _node("agent2")
    for name, ips in expected.items():
        got = _resolve(agent, f"{name}.service.consul")
        assert got == ips if len(ips) <= 3 else (got and got <= ips), (name, got, ips)


def test_marathon_api_through_the_vip_takes_an_app(installed):
    status, info = _http(f"http://{CLUSTER.vip}/v2/info")
    assert status == 200 and info["name"] == "marathon"
    app = {"id": "/e2e/sleeper", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32, "instances": 1}
    status, body = _http(f"http://{CLUSTER.vip}/v2/apps", method="POST", body=app)
    assert status in (201, 409), body  # 409: already there from an earlier attempt
    status, apps = _http(f"http://{CLUSTER.vip}/v2/apps")
    assert status == 200 and "/e2e/sleeper" in [a["id"] for a in apps["apps"]]


def test_mysql_replicates_to_the_slave(installed):
    master, slave = _node("agent1"), _node("agent2")
    stamp = str(time.time_ns())
    master.sh("mysql -e \"CREATE DATABASE IF NOT EXISTS e2e; CREATE TABLE IF NOT EXISTS e2e.t (v VARCHAR(32)); "
              f"INSERT INTO e2e.t VALUES ('{stamp}')\"")
    seconds = _wait(lambda: stamp in slave.sh("mysql -N -e 'SELECT v FROM e2e.t'"), 10, what="row on the slave")
    _record("mysql_replication_seconds", round(seconds, 2))
    assert "ON" in slave.sh("mysql -N -e 'SELECT @@read_only'").replace("1", "ON")


def test_the_verify_phase_names_a_stopped_service(installed):
    master = _node("master3")
    master.sh("systemctl stop dcos-marathon")
    try:
        proc = _install(installed, "--phases", "verify", "--yes")
    finally:
        master.sh("systemctl start dcos-marathon")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "master3  [verify] Check that every service of this host runs" in proc.stdout
    assert "dcos-marathon is inactive" in proc.stdout


def test_second_run_changes_nothing(installed):
    proc = _install(installed, "--yes")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    summary = _summary(installed)
    changed = {(p["phase"], host): c["changed"] for p in summary["phases"] for host, c in p["counts"].items()
               if c["changed"]}
    assert not changed, changed
    first = installed["first"].duration
    _record("second_run", {"seconds": round(proc.duration, 1), "ratio_to_first": round(proc.duration / first, 3),
                           "phases": {p["phase"]: p["duration"] for p in summary["phases"]}})


def test_a_killed_run_is_run_again_and_completes(installed):
    # Work for the run to do: an agent is down. Kill the installer (and its whole process
    # group) in the middle of the hosts phase, long before the mesos phase would start the
    # agent again.
    agent = _node("agent2")
    agent.sh("systemctl stop dcos-mesos-agent")
    runs = installed["runs"]
    before = {p for p in runs.iterdir() if p.is_dir()}
    proc = subprocess.Popen([str(TOP / "install.sh"), str(installed["config"]), "--runs-dir", str(runs), "--yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)

    def mid_hosts_phase() -> bool:
        new = [p for p in runs.iterdir() if p.is_dir() and p not in before]
        if not new or not (new[0] / "events.jsonl").exists():
            return False
        events = [json.loads(line) for line in (new[0] / "events.jsonl").read_text().splitlines()
                  if line.endswith("}")]
        return sum(e["type"] == "task_start" and e.get("phase") == "hosts" for e in events) >= 12

    _wait(mid_hosts_phase, 900, interval=0.5, what="the run reaching the middle of the hosts phase")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert agent.sh("systemctl is-active dcos-mesos-agent", check=False).strip() != "active"
    killed = next(p for p in runs.iterdir() if p.is_dir() and p not in before)
    assert "run_end" not in (killed / "events.jsonl").read_text()

    again = _install(installed, "--yes")
    if again.returncode == 2 and "still runs (pid" in again.stderr:
        # The killed installer's ansible-playbook outlived it; what the message says to do.
        pid = int(again.stderr.split("kill ")[-1].split()[0])
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: not Path(f"/proc/{pid}").exists(), 60)
        again = _install(installed, "--yes")
    assert f"the last run {killed.name} never ended" in again.stdout
    assert "stopped in the hosts phase" in again.stdout and "--from hosts" in again.stdout
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    assert agent.sh("systemctl is-active dcos-mesos-agent").strip() == "active"
    leader = _mesos_leader()
    status, slaves = _http(f"http://{_node(leader).ip}:5050/master/slaves")
    assert status == 200 and {s["hostname"] for s in slaves["slaves"] if s["active"]} == {"agent1", "agent2"}
    _record("rerun_after_kill_seconds", round(again.duration, 1))


def _vip_holder() -> str | None:
    for lb in ("master1", "master2"):
        if f"inet {CLUSTER.vip}/" in _node(lb).sh("ip -4 addr show", check=False):
            return lb
    return None


def _vip_answers() -> bool:
    status, body = _http(f"http://{CLUSTER.vip}/v2/info", timeout=1)
    return status == 200 and body.get("name") == "marathon"


def test_failover_on_the_finished_cluster(installed):
    times = {}
    # HAProxy on the VIP holder stops: Keepalived moves the VIP, the API answers again.
    holder = _vip_holder()
    assert holder in ("master1", "master2")
    other = "master2" if holder == "master1" else "master1"
    _node(holder).sh("systemctl stop haproxy")
    try:
        times["vip_api_answers_again"] = _wait(lambda: _vip_holder() == other and _vip_answers(), 30,
                                               what="the VIP on the other lb host, answering")
    finally:
        _node(holder).sh("systemctl start haproxy")
    assert times["vip_api_answers_again"] < 5, times

    # A ZooKeeper follower stops: the quorum holds (2 of 3), the leaders stay.
    follower = next(m for m in CLUSTER.group("master") if _zk_mode(m) == "follower")
    follower.sh("systemctl stop zookeeper")
    try:
        modes = [_zk_mode(m) for m in CLUSTER.group("master") if m is not follower]
        assert sorted(modes) == ["follower", "leader"], modes
        time.sleep(3)
        assert _mesos_leader() is not None and _vip_answers()
    finally:
        follower.sh("systemctl start zookeeper")
    _wait(lambda: _zk_mode(follower) == "follower", 60, what="the ZooKeeper member rejoining")

    # The leading Mesos master and the Marathon leader stop: new leaders.
    mesos_leader = _mesos_leader()
    marathon_leader = _marathon_leader(CLUSTER.vip)
    marathon_node = next(m for m in CLUSTER.group("master") if marathon_leader in (m.name, m.ip))
    start = time.time()
    _node(mesos_leader).sh("systemctl kill -s KILL dcos-mesos-master")
    marathon_node.sh("systemctl stop dcos-marathon")
    try:
        _wait(lambda: _mesos_leader() not in (None, mesos_leader), 60, what="a new Mesos leader")
        times["mesos_new_leader"] = time.time() - start
        _wait(lambda: _marathon_leader(CLUSTER.vip) not in (None, marathon_leader), 60, what="a new Marathon leader")
        times["marathon_new_leader"] = time.time() - start
    finally:
        _node(mesos_leader).sh("systemctl start dcos-mesos-master")
        marathon_node.sh("systemctl start dcos-marathon")
    assert times["mesos_new_leader"] < 30 and times["marathon_new_leader"] < 30, times

    # The MySQL master stops: mysql-vip names the slave.
    master, slave = _node("agent1"), _node("agent2")
    master.sh("systemctl stop mariadb")
    try:
        times["mysql_vip_to_slave"] = _wait(lambda: _resolve(slave, "mysql-vip.service.consul") == {slave.ip}, 60,
                                            what="mysql-vip on the slave")
    finally:
        master.sh("systemctl start mariadb")
    _wait(lambda: _resolve(slave, "mysql-vip.service.consul") == {master.ip}, 60, what="mysql-vip back on the master")
    assert times["mysql_vip_to_slave"] < 30, times
    _record("failover_seconds", {k: round(v, 1) for k, v in times.items()})
