"""The whole install, end to end, as an operator runs it: `./install.sh config.cfg --yes` from
this machine over SSH, as the sudo user `dcos`, into six hosts on an internal Docker network
(no host reaches a mirror) from a bundle made here with the Mesos and Marathon stand-ins.

Then what an operator checks by hand, a second run that changes nothing, a run killed in the
middle and run again, and failover on the finished cluster. Measured times go to
.cache/test-logs/e2e-cluster.json and are printed at the end of the test session."""

import base64
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from installer.api import start_upgrade_plan
from installer.demo import IMAGE, DemoCluster, DemoError, Node, add_nodes, docker, newer_bundle, prepare
from tests.e2e.helpers import auth as _auth
from tests.e2e.helpers import changed as run_changed
from tests.e2e.helpers import http as _http
from tests.e2e.helpers import install, run_record_leaks
from tests.e2e.helpers import summary as run_summary
from tests.e2e.helpers import wait as _wait

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TOP = Path(__file__).resolve().parents[2]
RESULTS = TOP / ".cache" / "test-logs" / "e2e-cluster.json"
# master3 runs Debian 11 beside the Debian 12 hosts (#21: a second OS release in one cluster,
# its packages from the bundle's targets/debian11/, ZooKeeper's line the same as the others').
CLUSTER = DemoCluster(prefix="dcos-e2e", subnet="172.29.40.0/24", agents=2, label="dcos-testbed=1", name="e2e",
                      releases={"master3": "debian11"})
# A machine on the cluster's LAN that is not a cluster host (an attacker's, or an operator's desk).
LAN_MACHINE = Node("dcos-e2e-lan", "lan", "172.29.40.99")
CONFIGURED_SECRET = "Stats-Given-In-Config-2f9c"


def _record(key: str, value) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")


def _install(env: dict, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return install(env["config"], env["runs"], *args, timeout=timeout)


def _summary(env: dict) -> dict:
    return run_summary(env["runs"])


# One HTTP request made by a node's own python3 (what a cluster host, or a LAN machine, sees):
# the firewall keeps the cluster's internal ports away from this test machine.
# What the tests know once the cluster is installed: the cluster CA and Marathon's login.
STATE: dict = {}


def _vip_url(port: int) -> str:
    return f"https://{CLUSTER.vip}/" if port == 443 else f"https://{CLUSTER.vip}:{port}/"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.unlink(missing_ok=True)
    config = prepare(CLUSTER, folder, bundle=TOP / ".cache" / "test-bundles" / "e2e")
    # One secret given in config.cfg (the rest generated): the secret greps look for both kinds.
    config.write_text(config.read_text().replace("stats_password =", f"stats_password = {CONFIGURED_SECRET}", 1))
    env = {"config": config, "runs": folder / "runs", "folder": folder}
    first = _install(env, "--yes", "-v")  # -v: the log with every task's result, which must hold no secret
    env["first"] = first
    (TOP / ".cache" / "test-logs" / "e2e-first-install.log").write_text(first.stdout + first.stderr)
    secrets_file = env["runs"] / "secrets" / f"{CLUSTER.name}.yml"
    if secrets_file.exists():
        STATE["ca"] = str(env["runs"] / "state" / CLUSTER.name / "registry-pki" / "ca.crt")
        STATE["marathon"] = _auth("admin", yaml.safe_load(secrets_file.read_text())["marathon_password"])
    yield env
    remove_lan_machine()
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
    # ZooKeeper listens on the host's cluster address only.
    out = node.sh(f"bash -c 'exec 3<>/dev/tcp/{node.ip}/2181 && printf srvr >&3 && timeout 5 cat <&3'", check=False)
    return next((line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Mode: ")), "down")


def _mesos_leader() -> str | None:
    """Asked from the installer host (a cluster address: the firewall lets it in)."""
    for master in CLUSTER.group("master"):
        try:
            status, snap = _http(f"http://{master.ip}:5050/metrics/snapshot", timeout=2, via=_node("installer"))
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
        if status == 200 and isinstance(snap, dict) and snap.get("master/elected") == 1:
            return master.name
    return None


def _marathon_leader(via_vip: bool = True, master=None) -> str | None:
    """The leader a Marathon names: through the VIP (HTTPS, from this machine) or a master's own
    (from the installer host)."""
    if via_vip:
        status, body = _http(_vip_url(443) + "v2/leader", timeout=2, headers=STATE["marathon"], cafile=STATE["ca"])
    else:
        status, body = _http(f"http://{master.ip}:8080/v2/leader", timeout=2, headers=STATE["marathon"],
                             via=_node("installer"))
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
    assert f"Marathon         https://{CLUSTER.vip}/" in out, out[-3000:]
    assert f"Mesos            https://{CLUSTER.vip}:8050/" in out
    assert f"Consul           https://{CLUSTER.vip}:8550/ui/" in out
    assert f"Docker registry  https://{_node('installer').ip}:5000/v2/" in out
    assert "Cluster CA" in out and "registry-pki/ca.crt" in out
    assert {e["name"] for e in summary["endpoints"]} >= {"Marathon", "Mesos", "Consul", "MySQL", "Cluster CA"}
    _record("first_install", {"seconds": round(proc.duration, 1),
                              "phases": {p["phase"]: p["duration"] for p in summary["phases"]}})


def test_installer_host_serves_repo_registry_and_time(installed):
    installer = _node("installer")
    status, _ = _http(f"http://{installer.ip}:8081/debian/InRelease", via=_node("agent1"))
    assert status == 200
    # The registry is open to the admin networks (this machine), with TLS and a login.
    secrets = _secrets(installed)
    status, _ = _http(f"https://{installer.ip}:5000/v2/", cafile=STATE["ca"],
                      headers=_auth("dcos", secrets["registry_password"]))
    assert status == 200
    for node in CLUSTER.nodes:
        if node.name == "installer":
            continue
        sources = node.sh("chronyc -n -c sources")
        assert any(line.split(",")[1:3] == ["*", installer.ip] for line in sources.splitlines()), (node.name, sources)
    # A host pushes an image and another pulls it: through TLS with the cluster CA, logged in
    # with the registry's user by the installer (root's Docker on every host).
    image = f"{installer.ip}:5000/e2e/empty:{int(time.time())}"
    STATE["image"] = image
    pushed = installer.sh(f"tar cf - --files-from /dev/null | docker import - {image} >/dev/null && "
                          f"docker push {image} >/dev/null && echo pushed", check=False, timeout=180)
    assert pushed.strip() == "pushed", pushed
    pulled = _node("agent1").sh(f"docker pull {image} >/dev/null && echo pulled", check=False, timeout=180)
    assert pulled.strip() == "pulled", pulled


def test_a_debian_11_master_runs_its_releases_packages_from_the_bundle(installed):
    """master3 runs Debian 11 beside Debian 12 hosts: its only package source is the
    installer's debian11 repository (the cluster has no route out), every package of its
    components is the version the bundle's targets/debian11/ holds, and its ZooKeeper is
    bookworm's 3.8 line like the rest of the ensemble (3.4, bullseye's own, cannot join)."""
    bundle = TOP / ".cache" / "test-bundles" / "e2e"
    master3, master1 = _node("master3"), _node("master1")
    assert master3.sh(". /etc/os-release && echo $VERSION_ID").strip() == "11"
    assert master1.sh(". /etc/os-release && echo $VERSION_ID").strip() == "12"
    installer = _node("installer").ip
    assert f"URIs: http://{installer}:8081/debian11" in master3.sh("cat /etc/apt/sources.list.d/dcos.sources")
    assert f"URIs: http://{installer}:8081/debian\n" in master1.sh("cat /etc/apt/sources.list.d/dcos.sources")
    policy = master3.sh("apt-cache policy")
    assert f"http://{installer}:8081/debian11 ./ Packages" in policy and "deb.debian.org" not in policy, policy
    for node, release, manifest in ((master1, "debian12", bundle / "manifest.json"),
                                    (master3, "debian11", bundle / "targets" / "debian11" / "manifest.json")):
        held = {f["name"]: f["version"] for f in json.loads(manifest.read_text())["files"] if f["kind"] == "package"}
        names = ["chrony", "docker.io", "zookeeper", "consul", "dnsmasq", "mesos", "marathon", "nftables"]
        installed_versions = dict(line.split("\t") for line in node.sh(
            "dpkg-query -W -f '${Package}\\t${Version}\\n' " + " ".join(names)).splitlines())
        assert installed_versions == {n: held[n] for n in names}, (release, installed_versions)
    assert installed_versions["zookeeper"].startswith("3.8")  # master3's, the loop's last
    zk = master3.sh(f"bash -c 'exec 3<>/dev/tcp/{master3.ip}/2181 && printf srvr >&3 && timeout 5 cat <&3'")
    assert "Zookeeper version: 3.8" in zk and _zk_mode(master3) in ("leader", "follower"), zk


def test_zookeeper_mesos_and_marathon_have_one_leader(installed):
    modes = sorted(_zk_mode(m) for m in CLUSTER.group("master"))
    assert modes == ["follower", "follower", "leader"], modes
    leader = _mesos_leader()
    assert leader is not None
    status, slaves = _http(f"http://{_node(leader).ip}:5050/master/slaves", via=_node("installer"))
    assert status == 200
    assert {s["hostname"] for s in slaves["slaves"] if s["active"]} == {"agent1", "agent2"}
    leaders = {_marathon_leader(via_vip=False, master=m) for m in CLUSTER.group("master")}
    assert len(leaders) == 1 and leaders <= {m.name for m in CLUSTER.group("master")} | _ips("master"), leaders


def test_consul_has_a_leader_and_every_service_is_healthy_in_dns(installed):
    master = _node("master1")
    status, leader = _http(f"http://{master.ip}:8500/v1/status/leader", via=master)
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
        status, checks = _http(f"http://{master.ip}:8500/v1/health/state/any", headers={"X-Consul-Token": token},
                               via=master)
        if status != 200:
            return [("consul answered", status)]
        found = [(c["Node"], c["CheckID"], c["Status"]) for c in checks
                 if c["Status"] != "passing" and c["ServiceID"] not in ("mesos-master-leader", "mysql-vip")]
        for name, ips in expected.items():
            service, tag = (name.split(".")[1], name.split(".")[0]) if "." in name else (name, None)
            _, entries = _http(f"http://{master.ip}:8500/v1/health/service/{service}?passing=1"
                               + (f"&tag={tag}" if tag else ""), headers={"X-Consul-Token": token}, via=master)
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
    status, info = _http(_vip_url(443) + "v2/info", headers=STATE["marathon"], cafile=STATE["ca"])
    assert status == 200 and info["name"] == "marathon"
    app = {"id": "/e2e/sleeper", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32, "instances": 1}
    status, body = _http(_vip_url(443) + "v2/apps", method="POST", body=app, headers=STATE["marathon"],
                         cafile=STATE["ca"])
    assert status == 201, body  # a fresh cluster: the app is new
    status, apps = _http(_vip_url(443) + "v2/apps", headers=STATE["marathon"], cafile=STATE["ca"])
    assert status == 200 and "/e2e/sleeper" in [a["id"] for a in apps["apps"]]


def start_lan_machine() -> Node:
    """A plain container on the cluster's network with an address of the cluster's LAN, not in
    config.cfg: what anyone on that LAN can reach. Removed with the cluster (same label)."""
    remove_lan_machine()
    docker("run", "-d", "--name", LAN_MACHINE.container, "--label", CLUSTER.label, "--network", CLUSTER.network,
           "--ip", LAN_MACHINE.ip, "--entrypoint", "sleep", IMAGE, "infinity")
    return LAN_MACHINE


def remove_lan_machine() -> None:
    docker("rm", "-f", LAN_MACHINE.container, check=False)


def _port_open(node, ip: str, port: int, udp: bool = False) -> bool:
    code = (f"import socket\ns = socket.create_connection(('{ip}', {port}), 3)\nprint('open')" if not udp else
            f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(3)\n"
            f"s.sendto(b'\\x1b' + 47 * b'\\0', ('{ip}', {port}))\ns.recv(48)\nprint('open')")
    try:
        return node.python(code, timeout=20).strip() == "open"
    except (DemoError, subprocess.SubprocessError):  # refused, or timed out (dropped): not open
        return False


def test_a_lan_machine_gets_nothing_without_credentials(installed):
    """Secure by default, tried from a LAN machine that is not a cluster host."""
    lan = start_lan_machine()
    secrets = _secrets(installed)
    ca = "/tmp/cluster-ca.crt"
    docker("cp", STATE["ca"], f"{lan.container}:{ca}")
    marathon = _vip_url(443) + "v2/apps"
    app = {"id": "/e2e/lan", "cmd": "id", "cpus": 0.1, "mem": 16, "instances": 0}
    # The VIP answers HTTPS with a certificate that verifies against the cluster CA.
    status, _, headers = _http(marathon, method="POST", body=app, via=lan, cafile=ca, full=True)
    assert status == 401 and headers.get("www-authenticate", "").lower().startswith("basic"), status
    status, body = _http(marathon, method="POST", body=app, via=lan, cafile=ca,
                         headers=_auth("admin", secrets["marathon_password"]))
    assert status == 201, body
    _http(marathon + "e2e/lan", method="DELETE", via=lan, cafile=ca,
          headers=_auth("admin", secrets["marathon_password"]))
    # Mesos' read-write endpoints want the operator's user, through the VIP too.
    status, _, headers = _http(_vip_url(8050) + "master/teardown", method="POST", body={"frameworkId": "x"},
                               via=lan, cafile=ca, full=True)
    assert status == 401 and headers.get("www-authenticate") == 'Basic realm="mesos-master-readwrite"', status
    # The registry: no anonymous pull.
    installer = _node("installer").ip
    status, _ = _http(f"https://{installer}:5000/v2/_catalog", via=lan, cafile=ca)
    assert status == 401
    # HAProxy stats: a login; plain HTTP redirects to HTTPS.
    assert _http(_vip_url(9090), via=lan, cafile=ca)[0] == 401
    status, _, headers = _http(f"http://{CLUSTER.vip}/v2/apps", via=lan, full=True)
    assert status == 301 and headers["location"].startswith(f"https://{CLUSTER.vip}/")
    # The cluster's internal ports: not reachable at all from a machine outside the cluster.
    closed = {"zookeeper": ("master1", 2181), "mesos master": ("master1", 5050), "marathon": ("master1", 8080),
              "consul http": ("master1", 8500), "consul rpc": ("master1", 8300), "mysql": ("agent1", 3306),
              "mesos agent": ("agent1", 5051), "cadvisor": ("agent1", 4194), "repo": ("installer", 8081)}
    reachable = [name for name, (host, port) in closed.items() if _port_open(lan, _node(host).ip, port)]
    assert reachable == [], reachable
    # The same ports from a cluster host: open (the firewall filters by source, it did not break them).
    assert _port_open(_node("agent2"), _node("master1").ip, 2181)
    assert _port_open(_node("agent2"), _node("agent1").ip, 3306)
    # NTP (udp) answers cluster hosts only.
    assert not _port_open(lan, installer, 123, udp=True)
    assert _port_open(_node("agent1"), installer, 123, udp=True)


def test_no_host_listens_beyond_its_port_table(installed):
    """Every socket a host listens on outside loopback is in the port table the firewall works
    from (installer/ports.py), or is SSH, or an ephemeral port a program took for itself (such
    as libprocess' for the framework scheduler). A listener nobody planned is a port open to the
    world: this is where one would show (Consul's WAN gossip, its DNS on the cluster address...)."""
    from installer.rundir import read_yaml

    hosts = read_yaml((installed["runs"] / "latest").resolve() / "inventory" / "hosts.yml")["all"]["hosts"]
    unplanned = {}
    for node in CLUSTER.nodes:
        planned = {(p["port"], p["proto"]) for p in hosts[node.name]["dcos_ports"]} | {(22, "tcp")}
        for line in node.sh("ss -H -ltnu").splitlines():
            fields = line.split()
            proto, local = fields[0], fields[4]
            address, _, port = local.rpartition(":")
            address = address.strip("[]").split("%")[0]
            if address.startswith("127.") or address == "::1" or int(port) >= 32768:
                continue
            if (int(port), proto) not in planned:
                unplanned.setdefault(node.name, []).append(f"{proto} {local}")
    assert unplanned == {}, unplanned


def test_mysql_replicates_to_the_slave(installed):
    master, slave = _node("agent1"), _node("agent2")
    stamp = str(time.time_ns())
    master.sh("mysql -e \"CREATE DATABASE IF NOT EXISTS e2e; CREATE TABLE IF NOT EXISTS e2e.t (v VARCHAR(32)); "
              f"INSERT INTO e2e.t VALUES ('{stamp}')\"")
    seconds = _wait(lambda: stamp in slave.sh("mysql -N -e 'SELECT v FROM e2e.t'"), 10, what="row on the slave")
    _record("mysql_replication_seconds", round(seconds, 2))
    assert "ON" in slave.sh("mysql -N -e 'SELECT @@read_only'").replace("1", "ON")


def test_verify_names_every_broken_fact_at_once(installed):
    """Facts broken at once: Marathon and ZooKeeper stopped on a master, the VIP on both lb hosts
    (split brain), a service registered at an address that is not its host's, the MySQL slave's
    SQL thread stopped while the master takes a write, the firewall's table gone from a host, a
    package reinstalled under its running daemon (Consul runs a binary that is gone).
    One verify run fails and names every one of them, with the stopped units' journals."""
    holder = _vip_holder()
    other = _node("master2" if holder == "master1" else "master1")
    token = _secrets(installed)["consul_management_token"]
    fake = '{"ID": "registry-e2e-fake", "Name": "registry", "Address": "172.29.40.200", "Port": 5000}'
    api = f"curl -fsS -H 'X-Consul-Token: {token}' -X PUT http://127.0.0.1:8500/v1/agent/service"
    master, slave = _node("agent1"), _node("agent2")
    other.sh(f"ip addr add {CLUSTER.vip}/{CLUSTER.prefixlen} dev eth0")
    _node("agent1").sh(f"{api}/register --data '{fake}'")
    slave.sh("mysql -e 'STOP SLAVE SQL_THREAD'")
    master.sh("mysql -e \"INSERT INTO e2e.t VALUES ('while the slave stands still')\"")
    _node("master3").sh("systemctl stop dcos-marathon zookeeper")
    # Consul's binary replaced under its running daemon as dpkg replaces it (a new file renamed
    # over the old: an upgrade without a restart). Not `apt-get install --reinstall`: that also
    # runs the package's scripts, which touch what the consul role manages (the CI's second run
    # then changed consul on master3).
    _node("master3").sh("cp -p /usr/bin/consul /usr/bin/consul.dpkg-new && mv /usr/bin/consul.dpkg-new /usr/bin/consul")
    _node("master2").sh("nft delete table inet dcos_installer")
    try:
        proc = _install(installed, "--phases", "verify", "--yes")
    finally:
        other.sh(f"ip addr del {CLUSTER.vip}/{CLUSTER.prefixlen} dev eth0", check=False)
        _node("agent1").sh(f"{api}/deregister/registry-e2e-fake", check=False)
        slave.sh("mysql -e 'START SLAVE SQL_THREAD'")
        _node("master3").sh("systemctl start zookeeper dcos-marathon; systemctl restart consul")
        _node("master2").sh("systemctl restart dcos-firewall")
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert f"vip: {CLUSTER.vip} is held by 2 lb hosts" in out, out[-4000:]
    assert "dns: registry.service.consul resolves to" in out and "172.29.40.200" in out, out[-4000:]
    assert "mysql: replication on agent2" in out and "Slave_SQL_Running: No" in out, out[-4000:]
    assert "master3  [verify] Check that every service of this host runs" in out
    assert "zookeeper is inactive" in out and "dcos-marathon is inactive" in out, out[-4000:]
    assert "runs code replaced since it started" in out and "consul runs deleted /usr/bin/consul" in out, out[-4000:]
    assert "--- journalctl -u dcos-marathon" in out and "--- journalctl -u zookeeper" in out
    # master3 failed its own check above: it is not counted again as a ZooKeeper member down.
    assert "zookeeper: modes" not in out, out[-4000:]
    assert "master2: the installer's firewall table is not loaded" in out, out[-4000:]
    # Put right again (the verify phase of the whole re-run below passes on it).
    _wait(lambda: _vip_holder() is not None, 30, what="one VIP holder again")
    _wait(lambda: _zk_mode(_node("master3")) == "follower", 60, what="the ZooKeeper member back")


def test_a_unit_that_fails_to_start_shows_its_journal_in_the_summary(installed):
    """A unit that does not start fails the run with its last journal lines in the summary,
    not only systemd's "see journalctl"."""
    agent = _node("agent2")
    dropin = "/etc/systemd/system/dcos-cadvisor.service.d"
    agent.sh(f"mkdir -p {dropin} && printf '[Service]\\nExecStartPre=/bin/sh -c \"echo e2e-broken-on-purpose >&2; "
             f"exit 1\"\\n' > {dropin}/zz-e2e.conf && systemctl daemon-reload && systemctl stop dcos-cadvisor")
    try:
        proc = _install(installed, "--yes", "--phases", "consul", "--limit", "agent2")
    finally:
        agent.sh(f"rm -rf {dropin} && systemctl daemon-reload")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "--- journalctl -u dcos-cadvisor" in proc.stdout and "e2e-broken-on-purpose" in proc.stdout, \
        proc.stdout[-4000:]
    again = _install(installed, "--yes", "--phases", "consul", "--limit", "agent2")
    assert again.returncode == 0, again.stdout[-3000:]
    assert agent.sh("systemctl is-active dcos-cadvisor").strip() == "active"


# A task of each stamped role past its check: it runs only where the role runs.
_STAMPED_TASKS = ("Write chrony's configuration", "Write daemon.json", "Load kernel modules at boot",
                  "Install cAdvisor's unit", "Install the agent's unit",
                  "Register this host's services and their checks", "Install Marathon's unit",
                  "Install the master's unit", "Write zoo.cfg", "Install the check of the mysql-vip Consul service",
                  "Write the configuration (checked with haproxy -c first)", "Write the configuration",
                  "Trust the registry's CA system-wide", "Point apt at the local repository")


def _ran(env) -> dict:
    """(task, host) -> (status, message) of the latest run's results that were not skipped (the
    registry phase's Docker on the installer host included: it reads the hosts phase's record)."""
    text = ((env["runs"] / "latest").resolve() / "events.jsonl").read_text()
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {(e["task"], e["host"]): (e["status"], e.get("msg", "")) for e in events
            if e.get("type") == "host_result" and e.get("status") != "skipped"}


def _said(env) -> dict:
    """host -> why its stamped role runs, from the latest run (the fast path's check)."""
    return {h: msg for (task, h), (_, msg) in _ran(env).items() if task == "Say what differs since the last run"}


def test_a_re_run_runs_only_the_roles_whose_state_drifted(installed):
    """chrony.conf changed on agent1, the firewall's table deleted from master2's running kernel,
    and on master1 the marker a run leaves when it is killed between a changed chrony.conf and
    chrony's restart: a plain re-run of the hosts phase says what differs, runs ntp on agent1
    and master1 and common on master2 and nothing else of the stamped roles anywhere, puts
    both back and restarts chrony on master1 (its marker gone). It runs before
    test_second_run_changes_nothing, whose whole re-run then proves the repaired roles recorded
    their state again (every host asked, no stamped role ran) without a run of its own."""
    agent, master = _node("agent1"), _node("master2")
    conf = "/etc/chrony/chrony.conf"
    clean = agent.sh(f"sha256sum {conf}").split()[0]
    table = master.sh("nft -s list table inet dcos_installer")
    agent.sh(f"echo 'server 192.0.2.1 iburst # drift made by the e2e test' >> {conf}")
    master.sh("nft delete table inet dcos_installer")
    owed, marker = _node("master1"), "/etc/ansible/facts.d/dcos_ntp.restart-pending"
    chrony_since = "systemctl show -p ActiveEnterTimestampMonotonic --value chrony"
    started = owed.sh(chrony_since).strip()
    owed.sh(f"touch {marker}")
    proc = _install(installed, "--yes", "--phases", "hosts")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    said = _said(installed)
    assert said == {"agent1": f"ntp runs: file {conf}: changed", "master1": f"ntp runs: pending: {marker}",
                    "master2": "common runs: command /usr/sbin/nft -s -t list table inet dcos_installer: changed"}, said
    ran = {(task, h) for (task, h) in _ran(installed) if task in _STAMPED_TASKS}
    assert ran == {("Write chrony's configuration", "agent1"), ("Write chrony's configuration", "master1"),
                   ("Load kernel modules at boot", "master2")}, ran
    assert agent.sh(f"sha256sum {conf}").split()[0] == clean
    assert master.sh("nft -s list table inet dcos_installer") == table
    assert owed.sh(f"test -e {marker} || echo gone").strip() == "gone"
    assert owed.sh(chrony_since).strip() != started, "chrony was not restarted on master1"
    _record("hosts_phase_repair_seconds", round(proc.duration, 1))


def test_second_run_changes_nothing(installed):
    proc = _install(installed, "--yes")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    summary = _summary(installed)
    assert len(summary["phases"]) == 10
    assert set(summary["phases"][2]["counts"]) == {n.name for n in CLUSTER.nodes}  # hosts: every host counted
    # The survey (the precheck asked every host for its roles' records): the phases with only
    # stamped roles found converged everywhere were not started; their hosts are named.
    phases = {p["phase"]: p for p in summary["phases"]}
    idle = {"zookeeper", "mesos", "marathon", "consul", "lb", "mysql"}
    assert {name for name, p in phases.items() if not p["counts"]} == idle, summary["phases"]
    masters = {n.name for n in CLUSTER.group("master")}
    assert set(phases["zookeeper"]["converged"]) == masters and set(phases["marathon"]["converged"]) == masters
    assert set(phases["consul"]["converged"]) == {n.name for n in CLUSTER.nodes}
    changed = _changed(installed)
    assert not changed, changed
    # The fast path: the stamped roles asked every host and went no further on any (the roles
    # that ran proved changed=0 above; the stamped ones prove it in the alt cluster's --full dry run).
    ran = _ran(installed)
    asked = {h for (task, h) in ran if task == "Ask whether the role is converged on this host since its last run"}
    assert asked == {n.name for n in CLUSTER.nodes}, asked
    assert not [k for k in ran if k[0] in _STAMPED_TASKS], [k for k in ran if k[0] in _STAMPED_TASKS]
    first = installed["first"].duration
    _record("second_run", {"seconds": round(proc.duration, 1), "ratio_to_first": round(proc.duration / first, 3),
                           "phases": {p["phase"]: p["duration"] for p in summary["phases"]}})


def test_lost_secrets_and_reordered_masters_are_refused_before_any_phase(installed):
    """What the hosts were installed as is compared before any phase: a run with another
    runs/ folder (its secrets lost: new ones would be generated) and a run whose config lists
    the masters in another order both stop at the precheck (exit 3), naming what changed."""
    def identity_failures(runs: Path) -> list[dict]:
        report = json.loads(((runs / "latest").resolve() / "precheck.json").read_text())
        return [r for r in report["results"] if r["check"] == "cluster_identity" and r["status"] == "FAIL"]

    other = installed["folder"] / "other-runs"
    lost = _install({"config": installed["config"], "runs": other}, "--yes")
    assert lost.returncode == 3, (lost.stdout + lost.stderr)[-4000:]
    failures = identity_failures(other)
    assert {f["host"] for f in failures} == {n.name for n in CLUSTER.nodes}, failures
    assert all("not the ones the cluster was installed with" in f["message"] and "restore runs/secrets" in f["fix"]
               for f in failures), failures
    text = installed["config"].read_text()
    masters = "\n".join(f"{m.name} = {m.ip}" for m in CLUSTER.group("master"))
    swapped = "\n".join(f"{m.name} = {m.ip}" for m in reversed(CLUSTER.group("master")))
    assert masters in text
    reordered = installed["folder"] / "reordered.cfg"
    reordered.write_text(text.replace(masters, swapped))
    proc = install(reordered, installed["runs"], "--yes")
    assert proc.returncode == 3, (proc.stdout + proc.stderr)[-4000:]
    assert any(f["message"].startswith("masters: the masters were") for f in identity_failures(installed["runs"]))


def test_limit_to_one_master_changes_nothing_and_keeps_the_quorum(installed):
    """--limit master2 on the phases that count the cluster (ZooKeeper ensemble, Mesos quorum,
    Consul's bootstrap_expect): the same values as a full run, so nothing changes."""
    proc = _install(installed, "--yes", "--phases", "zookeeper,mesos,consul", "--limit", "master2")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    summary = _summary(installed)
    changed = {(p["phase"], host): c["changed"] for p in summary["phases"] for host, c in p["counts"].items()
               if c["changed"]}
    assert not changed, changed
    assert all(set(p["counts"]) <= {"master2", "localhost"} for p in summary["phases"]), summary["phases"]
    unit = _node("master2").sh("systemctl show -p ExecStart dcos-mesos-master")
    assert "--quorum=2" in unit, unit
    assert '"bootstrap_expect": 3' in _node("master2").sh("cat /etc/consul.d/consul.json")


def _playbooks_of(run_dir: Path) -> list[int]:
    """Processes of ansible-playbook whose command line names this run folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ansible-playbook" in cmdline and str(run_dir).encode() in cmdline:
                found.append(int(proc.name))
    return found


def test_a_killed_run_is_run_again_and_completes(installed):
    # Work for the run to do: an agent is down. Kill the installer (and its whole process
    # group) in the middle of the mesos phase, before its role starts the agent again.
    agent = _node("agent2")
    agent.sh("systemctl stop dcos-mesos-agent")
    runs = installed["runs"]
    before = {p for p in runs.iterdir() if p.is_dir()}
    # The killed run starts at the mesos phase itself (the phases before it have nothing to do
    # on this cluster; a whole run would only take longer to get there). The survey starts it on
    # agent2 (its agent's unit is stopped) and on the leading master's check of the agents.
    proc = subprocess.Popen([str(TOP / "install.sh"), str(installed["config"]), "--runs-dir", str(runs), "--yes",
                             "--from", "mesos"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)

    def mid_mesos_phase() -> bool:
        new = [p for p in runs.iterdir() if p.is_dir() and p not in before]
        if not new or not (new[0] / "events.jsonl").exists():
            return False
        events = [json.loads(line) for line in (new[0] / "events.jsonl").read_text().splitlines()
                  if line.endswith("}")]
        return sum(e["type"] == "task_start" and e.get("phase") == "mesos" for e in events) >= 3

    _wait(mid_mesos_phase, 900, interval=0.3, what="the run reaching the mesos phase")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = next(p for p in runs.iterdir() if p.is_dir() and p not in before)
    assert "run_end" not in (killed / "events.jsonl").read_text()
    # The killed installer took its playbook with it (and the playbook's workers): nothing of
    # that run goes on against the hosts.
    _wait(lambda: not _playbooks_of(killed), 30, what="the killed run's ansible-playbook ending")
    assert agent.sh("systemctl is-active dcos-mesos-agent", check=False).strip() != "active"

    # What the next run says to do after a kill: resume where the killed one stopped (the
    # phases after mesos have nothing to do here: left out, for time, verify too, its facts
    # asked below; the whole re-run that changes nothing is test_second_run_changes_nothing).
    again = _install(installed, "--yes", "--from", "mesos", "--skip-phases", "marathon,consul,lb,mysql,verify")
    assert "still runs (pid" not in again.stderr
    assert f"the last run {killed.name} never ended" in again.stdout
    assert "stopped in the mesos phase" in again.stdout and "--from mesos" in again.stdout
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    assert agent.sh("systemctl is-active dcos-mesos-agent").strip() == "active"
    # What verify would have waited for (2 minutes at most, as it does): both agents active
    # on the leading master again.

    def both_agents_active() -> bool:
        leader = _mesos_leader()
        if leader is None:
            return False
        status, slaves = _http(f"http://{_node(leader).ip}:5050/master/slaves", via=_node("installer"))
        return (status == 200 and isinstance(slaves, dict)
                and {s["hostname"] for s in slaves["slaves"] if s["active"]} == {"agent1", "agent2"})

    _wait(both_agents_active, 120, interval=2, what="both agents active on the leading Mesos master")
    _record("rerun_after_kill_seconds", round(again.duration, 1))


def _changed(env) -> dict:
    return run_changed(env["runs"])


def test_a_dry_run_lists_the_drift_and_changes_nothing(installed):
    """A managed file changed, a unit stopped and a restart left pending by a run that stopped
    before master2's turn: --check names the three hosts as changing, shows the file's diff,
    says why each stamped role runs on each of them (the fast path's own reasons: a unit
    stopped, a file changed, a restart pending), and
    leaves everything as it was; a real run repairs all three (master2's ZooKeeper is
    restarted, its marker gone)."""
    master, agent, other = _node("master3"), _node("agent1"), _node("master2")
    drifted_hosts = "master3,agent1,master2"
    zoo = "/etc/zookeeper/dcos/zoo.cfg"
    pending = "/etc/ansible/facts.d/dcos_zookeeper.restart-pending"
    clean = master.sh(f"sha256sum {zoo}").split()[0]
    master.sh(f"echo '# drift made by the e2e test' >> {zoo}")
    drifted = master.sh(f"sha256sum {zoo}").split()[0]
    agent.sh("systemctl stop chrony")
    other.sh(f"touch {pending}")
    started = other.sh("systemctl show -p ActiveEnterTimestampMonotonic --value zookeeper").strip()
    try:
        # Limited to the drifted hosts and the phases that own what drifted (the dry run of the
        # whole converged cluster is the non-default cluster's): the others would only add time.
        check = _install(installed, "--yes", "--check", "--phases", "hosts,zookeeper", "--limit", drifted_hosts)
        assert check.returncode == 0, (check.stdout + check.stderr)[-6000:]
        changed = _changed(installed)
        assert changed.get(("zookeeper", "master3")) and changed.get(("hosts", "agent1")), changed
        assert changed.get(("zookeeper", "master2")), changed
        said = _said(installed)
        assert said == {"agent1": "ntp runs: unit chrony: enabled inactive",
                        "master3": f"zookeeper runs: file {zoo}: changed",
                        "master2": f"zookeeper runs: pending: {pending}"}, said
        log = ((installed["runs"] / "latest").resolve() / "install.log").read_text()
        assert "-# drift made by the e2e test" in log  # the diff of a file that holds no secret
        assert "would restart zookeeper on " in log
        assert master.sh(f"sha256sum {zoo}").split()[0] == drifted
        assert agent.sh("systemctl is-active chrony", check=False).strip() != "active"
        assert other.sh(f"test -e {pending} && echo yes").strip() == "yes"
        assert other.sh("systemctl show -p ActiveEnterTimestampMonotonic --value zookeeper").strip() == started
    finally:
        # The repair through the portal's API (a portal run, for the secret grep after it).
        from installer.api import start_run

        run = start_run(installed["config"], phases=["hosts", "zookeeper"], limit=drifted_hosts,
                        runs_dir=installed["runs"])
        seen = list(run.events(timeout=900))
    assert run.wait() == 0, [e for e in seen if e["type"] in ("host_result", "run_end")][-5:]
    assert seen[-1]["type"] == "run_end"
    assert master.sh(f"sha256sum {zoo}").split()[0] == clean
    assert agent.sh("systemctl is-active chrony").strip() == "active"
    assert other.sh(f"test -e {pending} || echo gone").strip() == "gone"
    assert other.sh("systemctl show -p ActiveEnterTimestampMonotonic --value zookeeper").strip() != started


def test_no_secret_in_any_run_record(installed):
    """Every generated and configured secret, searched for in every file of runs/ but the
    secrets store, after a first install with -v, a re-run, a killed run, a failed run, a
    --check run and a portal run: no copy. And every run folder is the installer user's only."""
    runs = installed["runs"]
    secrets = {name: str(value) for name, value in _secrets(installed).items()}
    needles = {**secrets, "configured stats_password": CONFIGURED_SECRET}
    for user, key in (("admin", "marathon_password"), ("dcos", "registry_password"), ("admin", "mesos_password")):
        needles[f"basic {key}"] = base64.b64encode(f"{user}:{secrets[key]}".encode()).decode()
    run_dirs = [p for p in runs.iterdir() if p.is_dir() and p.name not in ("secrets", "state")]
    assert len(run_dirs) >= 6, run_dirs
    found, modes = run_record_leaks(runs, needles)
    assert found == [], found[:20]
    assert modes == [], modes[:20]
    assert all(p.stat().st_mode & 0o077 == 0 for p in [runs, *run_dirs]), "run folders must be 0700"
    # The config copy says which secret was given, not what it is.
    copy = (run_dirs[0] / "config.cfg").read_text()
    assert "stats_password = (redacted)" in copy


def test_the_data_is_still_there_after_the_re_runs(installed):
    """Nothing in a re-run deletes, re-initialises or overwrites data: the operator's own
    database row (on both MySQL hosts), Marathon's app (its state in ZooKeeper), the image
    pushed to the registry."""
    for node in (_node("agent1"), _node("agent2")):
        assert node.sh("mysql -N -e 'SELECT COUNT(*) FROM e2e.t'").strip() not in ("", "0"), node.name
    status, apps = _http(_vip_url(443) + "v2/apps", headers=STATE["marathon"], cafile=STATE["ca"])
    assert status == 200 and "/e2e/sleeper" in [a["id"] for a in apps["apps"]]
    agent = _node("agent2")
    pulled = agent.sh(f"docker pull {STATE['image']} >/dev/null && echo pulled", check=False, timeout=180)
    assert pulled.strip() == "pulled", pulled


def _vip_holder() -> str | None:
    for lb in ("master1", "master2"):
        if f"inet {CLUSTER.vip}/" in _node(lb).sh("ip -4 addr show", check=False):
            return lb
    return None


def _vip_answers() -> bool:
    try:
        status, body = _http(_vip_url(443) + "v2/info", timeout=1, headers=STATE["marathon"], cafile=STATE["ca"])
    except OSError:
        return False
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
    marathon_leader = _marathon_leader()
    marathon_node = next(m for m in CLUSTER.group("master") if marathon_leader in (m.name, m.ip))
    mesos_down = time.time()
    _node(mesos_leader).sh("systemctl kill -s KILL dcos-mesos-master")
    marathon_down = time.time()
    marathon_node.sh("systemctl stop dcos-marathon")
    try:
        # Both watched in one loop, each measured from the moment its own leader went down.
        deadline = time.time() + 60
        while time.time() < deadline and not {"mesos_new_leader", "marathon_new_leader"} <= set(times):
            if "mesos_new_leader" not in times and _mesos_leader() not in (None, mesos_leader):
                times["mesos_new_leader"] = time.time() - mesos_down
            if "marathon_new_leader" not in times and _marathon_leader() not in (None, marathon_leader):
                times["marathon_new_leader"] = time.time() - marathon_down
            time.sleep(0.25)
        assert {"mesos_new_leader", "marathon_new_leader"} <= set(times), f"no new leaders within 60 s: {times}"
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


# Units, packages and settings of ours that must be gone from every host after uninstall.
_OUR_UNITS = ("zookeeper", "dcos-mesos-master", "dcos-mesos-agent", "dcos-marathon", "consul", "haproxy",
              "keepalived", "mariadb", "dcos-cadvisor", "docker", "nginx", "docker-registry", "dcos-firewall")
_OUR_PACKAGES = ("zookeeper", "libzookeeper-java", "mesos", "marathon", "consul", "haproxy", "keepalived",
                 "mariadb-server", "mariadb-server-core", "cadvisor", "docker.io", "nginx", "nginx-common",
                 "docker-registry")


def _reissue(pki: Path, name: str, days: int) -> None:
    """Sign the certificate again with the cluster CA, same key and names, valid `days` more:
    the state the registry's certificate is in 815 days after the install."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    old = x509.load_pem_x509_certificate((pki / name).read_bytes())
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    now, day = datetime.datetime.now(datetime.UTC), datetime.timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(ca.subject)
               .public_key(old.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - day).not_valid_after(now + days * day))
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    (pki / name).write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def _served_until(node, address: str) -> str:
    return node.sh(f"echo | openssl s_client -connect {address} 2>/dev/null | openssl x509 -noout -enddate",
                   check=False).strip()


def test_a_certificate_near_its_end_is_reported_and_renewed(installed):
    """The registry's certificate with 10 days left (signed again by the cluster CA, as 815
    days after the install): the precheck warns; renew-certs issues it again for 825 days,
    the registry serves the new one and a pull works; the VIP's certificate is renewed and
    served too, and the VIP answered throughout."""
    env = installed
    pki = env["runs"] / "state" / CLUSTER.name / "registry-pki"
    _reissue(pki, "registry.crt", days=10)
    vip_before = _served_until(_node("agent1"), f"{CLUSTER.vip}:443")
    proc = _install(env, "renew-certs", "--yes")
    _record("renew_certs_seconds", round(proc.duration, 1))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    # Its precheck saw the certificate's end near (a plain run's fix names renew-certs: unit tests).
    report = json.loads((env["runs"] / "latest" / "precheck.json").read_text())
    (warned,) = [r for r in report["results"] if r["check"] == "certificates" and r["status"] == "WARN"]
    assert warned["message"].startswith("the registry's certificate (registry.crt) expires in 9 days"), warned
    assert "this run's registry phase issues it again" in warned["fix"], warned
    assert "the registry's certificate (registry.crt): valid until" in proc.stdout
    from installer.certs import read_not_after

    left = (read_not_after(pki / "registry.crt")[0] - datetime.datetime.now(datetime.UTC)).days
    assert left >= 820, left
    agent = _node("agent2")
    registry = f"{_node('installer').ip}:5000"
    served = _served_until(agent, registry)
    expected = read_not_after(pki / "registry.crt")[0].strftime("%b %e %H:%M")
    assert expected.replace("  ", " ") in served.replace("  ", " "), (served, expected)
    agent.sh(f"docker rmi {STATE['image']} >/dev/null 2>&1 || true", check=False)
    pulled = agent.sh(f"docker pull {STATE['image']} >/dev/null && echo pulled", check=False, timeout=180)
    assert pulled.strip() == "pulled", pulled
    assert _served_until(_node("agent1"), f"{CLUSTER.vip}:443") != vip_before  # the VIP's, issued again
    assert _vip_answers()


def test_backup_holds_zookeeper_mysql_and_the_secrets(installed):
    """./install.sh config.cfg backup --yes on the running cluster: one archive (0600) whose
    SHA256SUMS hold; ZooKeeper's data from a follower stopped for the copy (Marathon's app is in
    it) and back in the ensemble after; the operator's row in the dump taken from the MySQL slave;
    the secrets file, CA and config in secrets/ and no secret anywhere else."""
    env = installed
    proc = _install(env, "backup", "--yes")
    _record("backup_seconds", round(proc.duration, 1))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert "Backup: " in proc.stdout and "mode 0600" in proc.stdout
    path = Path(_summary(env)["archive"])
    STATE["backup"] = path
    assert path.stat().st_mode & 0o077 == 0
    with tarfile.open(path) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar if m.isfile()}
    for line in members["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(members[name]).hexdigest() == digest, name
    manifest = json.loads(members["manifest.json"])
    assert manifest["complete"] and manifest["parts"]["zookeeper"]["from"] in {m.name for m in CLUSTER.group("master")}
    assert manifest["parts"]["mysql"]["from"] == "agent2"  # the slave, which replicates
    assert manifest["parts"]["mysql"]["why"].startswith("the slave, replicating ("), manifest["parts"]["mysql"]
    assert "MySQL: dumped on agent2, the slave, replicating (" in proc.stdout
    assert manifest["versions"]["master1"].get("zookeeper"), manifest["versions"]
    with tarfile.open(fileobj=io.BytesIO(members["zookeeper/data.tar.gz"])) as tar:
        zk = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    assert any(name.startswith("version-2/snapshot.") for name in zk), sorted(zk)
    assert any(b"sleeper" in data for data in zk.values()), "Marathon's app is in ZooKeeper's data"
    dump = gzip.decompress(members["mysql/databases.sql.gz"])
    assert b"CREATE TABLE `t`" in dump and b"INSERT INTO `t`" in dump
    # The accounts (their password hashes are secrets) only in secrets/, never the mysql schema.
    assert b"IDENTIFIED" not in dump and b"gtid_slave_pos" not in dump
    accounts = gzip.decompress(members["secrets/mysql-accounts.sql.gz"])
    assert b"CREATE USER IF NOT EXISTS `repl`@" in accounts and b"IDENTIFIED" in accounts
    assert members["secrets/secrets.yml"] == (env["runs"] / "secrets" / f"{CLUSTER.name}.yml").read_bytes()
    assert b"BEGIN" in members["secrets/registry-pki/ca.key"]
    # No secret outside secrets/, the ZooKeeper files and the dump opened.
    secrets = {name: str(value) for name, value in _secrets(env).items()}
    needles = {**secrets, "configured stats_password": CONFIGURED_SECRET}
    for user, key in (("admin", "marathon_password"), ("dcos", "registry_password"), ("admin", "mesos_password")):
        needles[f"basic {key}"] = base64.b64encode(f"{user}:{secrets[key]}".encode()).decode()
    opened = {**{n: d for n, d in members.items() if not n.startswith("secrets/")},
              **{f"zookeeper/{n}": d for n, d in zk.items()}, "mysql dump": dump}
    found = sorted((label, name) for name, data in opened.items() for label, needle in needles.items()
                   if needle and needle.encode() in data)
    assert found == [], found
    # The member stopped for the copy is back: one leader, every member serving.
    modes = sorted(_zk_mode(m) for m in CLUSTER.group("master"))
    assert modes == ["follower", "follower", "leader"], modes
    status, apps = _http(_vip_url(443) + "v2/apps", headers=STATE["marathon"], cafile=STATE["ca"])
    assert status == 200 and "/e2e/sleeper" in [a["id"] for a in apps["apps"]]


def _apps() -> list[str]:
    status, apps = _http(_vip_url(443) + "v2/apps", headers=STATE["marathon"], cafile=STATE["ca"])
    assert status == 200, apps
    return [a["id"] for a in apps["apps"]]


def test_the_upgrade_plan_of_the_bundle_installed_is_empty(installed):
    """upgrade --plan asks every host for its packages' versions (read-only: nothing changed) and
    compares them with the bundle's manifest of the host's own release: the cluster installed
    from this bundle has every package of every component at the manifest's version, the
    Debian 11 master at its sub-bundle's, so there is nothing to upgrade."""
    env = installed
    proc = _install(env, "upgrade", "--plan")
    _record("upgrade_plan_seconds", round(proc.duration, 1))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert "Nothing to upgrade: every package of the cluster is at its target version." in proc.stdout, proc.stdout
    assert not _changed(env)
    plan = json.loads(Path(_summary(env)["archive"]).read_text())
    rows = plan["rows"]
    assert {r["host"] for r in rows} == {n.name for n in CLUSTER.nodes}
    assert {r["action"] for r in rows} == {"same"}, [r for r in rows if r["action"] != "same"]
    assert {"zookeeper", "mesos", "marathon", "consul", "haproxy", "mariadb-server", "chrony"} <= {
        r["package"] for r in rows}
    assert not plan["refused"]
    # the portal's call makes the same plan (the same read-only run)
    run = start_upgrade_plan(env["config"], runs_dir=env["runs"])
    run.wait()
    assert run.status().state == "successful" and run.plan is not None
    assert run.plan.to_json()["rows"] == rows and not run.plan.refused
    # a pin the bundle's consul does not match (the install asks for consul=1.8.0*): refused, one
    # line for every host, before anything is done
    text = env["config"].read_text()
    at = text.index("[consul]")
    assert "\nversion =\n" in text[at:text.index("\n[", at + 1)]
    pinned = env["folder"] / "pinned.cfg"
    pinned.write_text(text[:at] + text[at:].replace("\nversion =\n", "\nversion = 1.8.0\n", 1))
    proc = install(pinned, env["runs"], "upgrade", "--plan")
    assert proc.returncode == 2, (proc.stdout + proc.stderr)[-4000:]
    # (one line per release: the Debian 11 master's consul is its sub-bundle's)
    refused = re.findall(r"^  (.+): \[consul\] version = 1\.8\.0 in config\.cfg, but the bundle carries consul "
                         r"1\.8\.7\S* for debian1[12]:", proc.stdout.split("\nRefused:\n")[-1], re.M)
    assert {h for line in refused for h in line.split(", ")} == {n.name for n in CLUSTER.nodes}, proc.stdout[-3000:]


def test_restore_brings_back_the_app_and_the_row(installed):
    """After the backup the app is deleted from Marathon, the rows from MySQL, and a database is
    made; restore ARCHIVE --yes (ZooKeeper's data and the dump put back, then verify): the app is
    listed again, the rows are back on the master and the slave, the database made after the
    backup is left alone, each member's data before the restore is kept aside, one leader.
    A ZooKeeper election after the backup (as a real disaster has) makes the clients' last zxid
    newer than the archive's: the restore must still leave no agent cut off and no Marathon
    crash-looping on the backup's election znodes."""
    env = installed
    if "backup" not in STATE:
        pytest.fail("no archive: test_backup_holds_zookeeper_mysql_and_the_secrets did not make one (run it first)")
    master, slave = _node("agent1"), _node("agent2")
    rows = master.sh("mysql -N -e 'SELECT COUNT(*) FROM e2e.t'").strip()
    status, _ = _http(_vip_url(443) + "v2/apps/e2e/sleeper", method="DELETE", headers=STATE["marathon"],
                      cafile=STATE["ca"])
    assert status in (200, 202), status
    _wait(lambda: "/e2e/sleeper" not in _apps(), 30, what="the app deleted")
    master.sh("mysql -e 'DELETE FROM e2e.t; CREATE DATABASE after_backup'")
    _wait(lambda: slave.sh("mysql -N -e 'SELECT COUNT(*) FROM e2e.t'").strip() == "0", 10, what="rows gone on slave")
    leader = next(m for m in CLUSTER.group("master") if _zk_mode(m) == "leader")
    leader.sh("systemctl restart zookeeper")
    _wait(lambda: sorted(_zk_mode(m) for m in CLUSTER.group("master")) == ["follower", "follower", "leader"], 60,
          what="a new ZooKeeper leader")
    since = leader.sh("date +%s").strip()

    proc = _install(env, "restore", str(STATE["backup"]), "--yes")
    _record("restore_seconds", round(proc.duration, 1))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert "the cluster is DOWN meanwhile" in proc.stdout and "Restored cluster e2e" in proc.stdout
    assert [p["phase"] for p in _summary(env)["phases"]] == ["restore", "verify"]
    _wait(lambda: "/e2e/sleeper" in _apps(), 60, what="the app back in Marathon")
    assert master.sh("mysql -N -e 'SELECT COUNT(*) FROM e2e.t'").strip() == rows
    _wait(lambda: slave.sh("mysql -N -e 'SELECT COUNT(*) FROM e2e.t'").strip() == rows, 20, what="rows on the slave")
    assert "after_backup" in master.sh("mysql -N -e 'SHOW DATABASES'")
    for node in CLUSTER.group("master"):
        assert node.sh("ls -d /var/lib/zookeeper/version-2.pre-restore-*", check=False).strip(), node.name
        assert node.sh("test -e /var/lib/zookeeper/restore-in-progress || echo gone").strip() == "gone", node.name
    assert sorted(_zk_mode(m) for m in CLUSTER.group("master")) == ["follower", "follower", "leader"]
    for node in CLUSTER.group("master"):
        journal = node.sh(f"journalctl -u dcos-marathon --since @{since} --no-pager", check=False)
        assert "same id" not in journal, (node.name, journal[-2000:])
    # A damaged copy is refused before any host is contacted.
    damaged = STATE["backup"].with_name("damaged.tar.gz")
    damaged.write_bytes(STATE["backup"].read_bytes()[:-4096])
    proc = _install(env, "restore", str(damaged), "--yes")
    assert proc.returncode == 2 and "not whole" in proc.stderr, proc.stderr
    damaged.unlink()


def _cut_to_three_hosts(config: str) -> str:
    """config.cfg with master1 the only master, agent1 the only agent, no lb host, VIP or MySQL."""
    out, section = [], ""
    for line in config.splitlines():
        header = line.strip().startswith("[") and line.strip().endswith("]")
        if header:
            section = line.strip()[1:-1]
        if section in ("lb", "keepalived", "mysql"):
            continue
        if not header and section in ("masters", "agents") and line.strip() and not line.lstrip().startswith("#") \
                and not line.strip().startswith(("master1 ", "agent1 ")):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _small_archive(source: Path, dest: Path) -> Path:
    """The e2e backup (its real ZooKeeper data with Marathon's app, its secrets and CA) for a
    cluster of the installer host, master1 and agent1: ZooKeeper's data holds no member ids, so
    it restores into one member as into three (installer/restore.py). SHA256SUMS and the
    manifest are made again; the MySQL part goes with the [mysql] section (two hosts more). The
    rehearsal of three hosts costs the CI about half the six-host one."""
    with tarfile.open(source) as tar:
        top = tar.getmembers()[0].name.split("/", 1)[0]
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar if m.isfile()}
    for name in ("secrets/config.cfg", "config.cfg"):
        members[name] = _cut_to_three_hosts(members[name].decode()).encode()
    for name in ("mysql/databases.sql.gz", "secrets/mysql-accounts.sql.gz"):
        members.pop(name, None)
    manifest = json.loads(members.pop("manifest.json"))
    manifest["parts"].pop("mysql", None)
    members.pop("SHA256SUMS")
    manifest["files"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for n, d in members.items()}
    members["SHA256SUMS"] = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n"
                                    for n, d in sorted(members.items())).encode()
    members["manifest.json"] = json.dumps(manifest, indent=2).encode()
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    dest.chmod(0o600)
    return dest


def test_a_rehearsal_restores_the_backup_into_throwaway_containers(installed):
    """./install.sh restore ARCHIVE --rehearse, with no config.cfg (the archive's), of the e2e
    backup cut to three hosts: throwaway containers named as the archive's hosts on a network of
    their own, install from the archive's config moved there, restore, verify; it prints the
    app that came back, removes its containers and the copies of the secrets, and leaves the
    real cluster and its runs as they were. No secret in the rehearsal's run records. (The
    six-host rehearsal of the whole archive, MySQL's rows included, was run by hand: 550 s on
    the idle demo, 818 s beside the e2e cluster; docs/operations.md.)"""
    env = installed
    if "backup" not in STATE:
        pytest.fail("no archive: the backup test did not run first")
    archive = _small_archive(STATE["backup"], STATE["backup"].with_name("e2e-three-hosts.tar.gz"))
    runs_before = sorted(p.name for p in env["runs"].iterdir())
    start = time.time()
    proc = subprocess.run([str(TOP / "install.sh"), "restore", str(archive), "--rehearse",
                           "--runs-dir", str(env["runs"])], capture_output=True, text=True, timeout=2700,
                          check=False, stdin=subprocess.DEVNULL)
    _record("rehearsal_seconds", round(time.time() - start, 1))
    out = proc.stdout
    assert proc.returncode == 0, (out + proc.stderr)[-8000:]
    assert "nothing of the cluster itself is touched" in out and "the archive's config.cfg's own" in out, out[:3000]
    verdict = next(line for line in out.splitlines() if line.startswith("Rehearsal of cluster e2e from "))
    assert ": PASSED in " in verdict and "verify passed on the restored cluster" in verdict, verdict
    assert "/e2e/sleeper" in next(line for line in out.splitlines() if line.startswith("  Marathon: "))
    assert "Open:" not in out and "--from" not in out  # nothing to open or resume: the containers are gone
    # Its containers and network are gone; the real cluster's hosts, runs and data are untouched.
    assert not docker("ps", "-a", "-q", "--filter", "label=dcos-rehearse=1").stdout.strip()
    assert not docker("network", "ls", "-q", "--filter", "name=dcos-rehearse-net").stdout.strip()
    assert sorted(p.name for p in env["runs"].iterdir()) == sorted({*runs_before, "rehearse"})
    assert "/e2e/sleeper" in _apps()
    rehearsal = env["runs"] / "rehearse" / CLUSTER.name
    assert not (rehearsal / "runs" / "secrets").exists() and not (rehearsal / "runs" / "state").exists()
    assert (rehearsal / "config.cfg").stat().st_mode & 0o077 == 0
    secrets = {name: str(value) for name, value in _secrets(env).items()}
    found, modes = run_record_leaks(rehearsal / "runs", {**secrets, "configured stats_password": CONFIGURED_SECRET})
    assert found == [] and modes == [], (found, modes)
    runs = sorted(p.name for p in (rehearsal / "runs").iterdir() if p.name[:8].isdigit() and p.is_dir())
    assert len(runs) == 2, runs  # the install and the restore (with its verify)
    summary = run_summary(rehearsal / "runs")
    assert [p["phase"] for p in summary["phases"]] == ["restore", "verify"], summary["phases"]


def _archive(path: Path) -> dict[str, str]:
    with tarfile.open(path) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read().decode(errors="replace") for m in tar if m.isfile()}


def test_diagnostics_archive_holds_every_host_and_no_secret(installed):
    """./install.sh config.cfg diagnostics on the finished cluster: one archive with every host's
    unit states and journals, configuration, versions, disk, memory, clock and ports; no secret
    in it (the cluster's, the Consul tokens only the hosts know, the private keys); and a hung
    host (a frozen container) is named as missing in 20-odd seconds while the others are kept."""
    env = installed
    proc = _install(env, "diagnostics")
    _record("diagnostics_seconds", round(proc.duration, 1))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert f"Diagnostics of {len(CLUSTER.nodes)} of {len(CLUSTER.nodes)} hosts: " in proc.stdout
    path = Path(_summary(env)["archive"])
    assert path.stat().st_mode & 0o077 == 0
    members = _archive(path)
    manifest = json.loads(members["manifest.json"])
    assert {h for h, part in manifest["hosts"].items() if part["collected"]} == {n.name for n in CLUSTER.nodes}
    assert manifest["runs"], "the last runs are in it"
    for node in CLUSTER.nodes:
        mine = f"hosts/{node.name}/"
        assert node.ip in members[mine + "system/network.txt"]
        assert "Reference ID" in members[mine + "system/clock.txt"]  # chronyc tracking: the clock's offset
        assert "Filesystem" in members[mine + "system/disk.txt"] and "Mem:" in members[mine + "system/memory.txt"]
        assert "LISTEN" in members[mine + "system/ports.txt"] or "tcp" in members[mine + "system/ports.txt"]
        assert "docker.io" in members[mine + "versions.txt"]
        assert "Active: active (running)" in members[mine + "units/consul.status.txt"]
        assert members[mine + "units/consul.journal.txt"].count("\n") > 3
        assert "dcos_docker.fact" in " ".join(n for n in members if n.startswith(mine + "records/"))
    master = "hosts/master1/"
    assert "clientPort" in members[master + "config/etc/zookeeper/dcos/zoo.cfg"]
    assert "Active: active (running)" in members[master + "units/zookeeper.status.txt"]
    assert "stats auth (redacted)" in members[master + "config/etc/haproxy/haproxy.cfg"]
    assert "/etc/haproxy/certs/dcos.pem" in members[master + "config/INDEX.txt"]
    assert "withheld: holds a private key" in members[master + "config/INDEX.txt"]
    consul = json.loads(members[master + "config/etc/consul.d/consul.json"])
    assert consul["encrypt"] == "(redacted)"

    # What must not be in it: every secret of the cluster, the Basic forms, the Consul tokens
    # only the hosts know, a line of each private key.
    secrets = {name: str(value) for name, value in _secrets(env).items()}
    needles = {**secrets, "configured stats_password": CONFIGURED_SECRET}
    for user, key in (("admin", "marathon_password"), ("dcos", "registry_password"), ("admin", "mesos_password")):
        needles[f"basic {key}"] = base64.b64encode(f"{user}:{secrets[key]}".encode()).decode()
    for node in CLUSTER.nodes:
        tokens = json.loads(node.sh("cat /etc/consul.d/consul.json")).get("acl", {}).get("tokens", {})
        needles.update({f"{node.name} consul token {k}": v for k, v in tokens.items() if v})
    for label, node, pem in (("haproxy key", _node("master1"), "/etc/haproxy/certs/dcos.pem"),
                             ("registry key", _node("installer"), "/etc/docker/registry/tls/registry.key")):
        body = node.sh(f"sed -n '/PRIVATE KEY/,$p' {pem} | sed -n 3p", check=False).strip()
        assert len(body) > 40, (label, body)
        needles[label] = body
    found = sorted((label, name) for name, text in members.items() for label, needle in needles.items()
                   if needle and needle in text)
    assert found == [], found

    # A hung host: the archive is written with what could be had, the host named with why.
    # (Hung to the network: every packet to it dropped, open SSH connections included. `docker
    # pause` would be nearer a frozen kernel but needs the cgroup freezer, which not every CI
    # machine has: "OCI runtime pause failed: unable to freeze".)
    agent2 = _node("agent2")
    agent2.sh("nft add table inet e2e_hung && nft add chain inet e2e_hung input"
              " '{ type filter hook input priority -400; policy drop; }'"
              " && nft add rule inet e2e_hung input iifname lo accept")
    try:
        hung = _install(env, "diagnostics", "--hosts", "agent2,master2", "--since", "1h", timeout=300)
    finally:
        agent2.sh("nft delete table inet e2e_hung", check=False)
    _record("diagnostics_hung_host_seconds", round(hung.duration, 1))
    assert hung.returncode == 1, (hung.stdout + hung.stderr)[-4000:]
    assert "Diagnostics of 1 of 2 hosts: " in hung.stdout
    assert "not in it: agent2: cannot be reached" in hung.stdout
    assert hung.duration < 120, hung.duration
    manifest = json.loads(_archive(Path(_summary(env)["archive"]))["manifest.json"])
    assert manifest["hosts"]["master2"]["collected"] and not manifest["hosts"]["agent2"]["collected"]
    assert manifest["since"] == "-1h"


def _version(node, package: str) -> str:
    return node.sh(f"dpkg-query -W -f='${{Version}}' {package}", check=False).strip()


# MariaDB's binary packages in the bundle (one source package: they move together).
_MARIADB_PACKAGES = ("mariadb-server", "mariadb-server-core", "mariadb-client", "mariadb-client-core",
                     "mariadb-common", "libmariadb3")


def _active_since(node, unit: str) -> int:
    """When the unit last started, on the clock every container shares (the host's monotonic)."""
    return int(node.sh(f"systemctl show -p ActiveEnterTimestampMonotonic --value {unit}").strip())


class _Requests(threading.Thread):
    """Marathon's API asked through the VIP (HTTPS, Marathon's login) every quarter second, as a
    client of the cluster would, while an operation runs: how many failed, and the longest
    stretch with no answer."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.results: list[tuple[float, bool]] = []

    def run(self):
        while not self.stop.is_set():
            self.results.append((time.monotonic(), _vip_answers()))
            self.stop.wait(0.25)

    def finish(self) -> dict:
        self.stop.set()
        self.join(10)
        longest, since = 0.0, None
        for at, ok in self.results:
            if ok:
                if since is not None:
                    longest = max(longest, at - since)
                since = None
            elif since is None:
                since = at
        if since is not None:
            longest = max(longest, self.results[-1][0] - since)
        return {"requests": len(self.results), "failed": sum(not ok for _, ok in self.results),
                "longest_outage_s": round(longest, 1)}


def _manifest_versions(bundle: Path) -> dict[str, str]:
    files = json.loads((bundle / "manifest.json").read_text())["files"]
    return {f["name"]: f["version"] for f in files if f.get("kind") == "package"}


def test_upgrade_rolls_a_newer_bundle_through_the_cluster_and_stops_at_a_failing_member(installed):
    """The operator's next bundle (newer Mesos and Marathon for both releases, and HAProxy and
    MariaDB from Debian 12's security suite when it has newer ones) named in config.cfg;
    upgrade --plan lists exactly those packages on exactly the hosts that have them. The first
    upgrade --yes meets a Mesos master that does not come back (the leader: restarted last, the
    two others already upgraded): the run stops there, what comes after untouched. With the
    cause gone, upgrade --yes again finishes: every host at the new versions, HAProxy reloaded,
    the MySQL slave restarted before the master and replicating again (a row written after is
    on it), one leader of each, the app running, verify passed; a third upgrade has nothing to
    do. Marathon's API answers through the VIP the whole time but for short leader changes."""
    env = installed
    bundle = Path(re.search(r"^bundle = (.+)$", env["config"].read_text(), re.M).group(1))
    started = time.monotonic()
    newer = newer_bundle(bundle, bundle.parent / f"{bundle.name}-upgrade",
                         updates={"debian12": ("haproxy", *_MARIADB_PACKAGES)})
    _record("upgrade_bundle_seconds", round(time.monotonic() - started, 1))
    old_versions, new_versions = _manifest_versions(bundle), _manifest_versions(newer)
    every_moved = {p for p in old_versions if new_versions.get(p) != old_versions[p]}
    # (the plan names the catalogue's packages; MariaDB's client and libraries follow its server)
    assert every_moved - {"mesos", "marathon", "haproxy"} <= set(_MARIADB_PACKAGES), every_moved
    moved = every_moved & {"mesos", "marathon", "haproxy", "mariadb-server", "mariadb-server-core"}
    assert {"mesos", "marathon"} <= moved, moved
    _record("upgrade_real_packages", sorted(moved - {"mesos", "marathon"}))
    text = env["config"].read_text()
    env["config"].write_text(text.replace(f"bundle = {bundle}\n", f"bundle = {newer}\n", 1))
    masters, agents, lbs = CLUSTER.group("master"), CLUSTER.group("agent"), [_node("master1"), _node("master2")]
    mysql_master, mysql_slave = _node("agent1"), _node("agent2")
    hosts_of = {"mesos": masters + agents, "marathon": masters, "haproxy": lbs,
                "mariadb-server": [mysql_master, mysql_slave], "mariadb-server-core": [mysql_master, mysql_slave]}
    before = {(n.name, p): _version(n, p) for p in moved for n in hosts_of[p]}
    started_at = {n.name: _active_since(n, "mariadb") for n in (mysql_master, mysql_slave)}

    proc = _install(env, "upgrade", "--plan")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    rows = json.loads(Path(_summary(env)["archive"]).read_text())["rows"]
    changes = {(r["host"], r["package"]): r for r in rows if r["action"] != "same"}
    assert set(changes) == set(before), sorted(changes)
    assert {k: r["installed"] for k, r in changes.items()} == before
    assert all(r["action"] == "upgrade" for r in changes.values()), changes
    target = {k: r["target"] for k, r in changes.items()}
    # (the Debian 11 master's from its sub-bundle; the others' from the top manifest)
    assert {target[k] for k in target if k[0] != "master3"} <= set(new_versions.values())

    # The Mesos leader's next start fails (what a new version that does not come up looks like).
    leader = _mesos_leader()
    assert leader is not None
    node = _node(leader)
    dropin = "/etc/systemd/system/dcos-mesos-master.service.d"
    node.sh(f"mkdir -p {dropin} && printf '[Service]\\nExecStartPre=/bin/sh -c \"echo e2e-broken-on-purpose >&2; "
            f"exit 1\"\\n' > {dropin}/zz-e2e.conf && systemctl daemon-reload")
    requests = _Requests()
    requests.start()
    try:
        try:
            failed = _install(env, "upgrade", "--yes")
        finally:
            node.sh(f"rm -rf {dropin} && systemctl daemon-reload")
        _record("upgrade_failed_seconds", round(failed.duration, 1))
        (TOP / ".cache" / "test-logs" / "e2e-upgrade-failed.log").write_text(failed.stdout + failed.stderr)
        assert failed.returncode == 1, (failed.stdout + failed.stderr)[-6000:]
        assert "e2e-broken-on-purpose" in failed.stdout, failed.stdout[-4000:]
        now = {k: _version(_node(k[0]), k[1]) for k in before}
        # The leader last: the two other masters are upgraded (the leader's package too, installed
        # before its restart); the steps after the masters' are not begun.
        upgraded = {k for k in now if now[k] == target[k] != before[k]}
        assert upgraded == {(m.name, "mesos") for m in masters}, sorted(upgraded)
        # (the failure is the leader's, its journal read there, not the host the turns ran from)
        assert [f["host"] for p in _summary(env)["phases"] for f in p.get("failures") or []] == [leader]

        proc = _install(env, "upgrade", "--yes")
        _record("upgrade_seconds", round(proc.duration, 1))
        (TOP / ".cache" / "test-logs" / "e2e-upgrade.log").write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
        assert [p["phase"] for p in _summary(env)["phases"]][-2:] == ["upgrade", "verify"]
    finally:
        api = requests.finish()
    _record("upgrade_api_through_vip", api)
    assert {k: _version(_node(k[0]), k[1]) for k in before} == target
    assert node.sh("systemctl is-active dcos-mesos-master", check=False).strip() == "active"
    assert _mesos_leader() is not None and _marathon_leader() is not None
    modes = sorted(_zk_mode(m) for m in masters)
    assert modes == ["follower", "follower", "leader"], modes
    if "haproxy" in moved:  # reloaded (a new master process, the old workers finishing), not restarted
        assert all(lb.sh("systemctl is-active haproxy").strip() == "active" for lb in lbs)
    if "mariadb-server" in moved:
        # The slave restarted first, then the master; the slave replicates again (the step waited
        # for it), read-only as before, and a row written now reaches it.
        since = {n.name: _active_since(n, "mariadb") for n in (mysql_master, mysql_slave)}
        assert all(since[name] > started_at[name] for name in since), (started_at, since)
        assert since["agent2"] < since["agent1"], since
        status = mysql_slave.sh("mysql -e 'SHOW SLAVE STATUS\\G'")
        assert "Slave_IO_Running: Yes" in status and "Slave_SQL_Running: Yes" in status, status
        assert mysql_slave.sh("mysql -N -e 'SELECT @@read_only'").strip() == "1"
        mysql_master.sh("mysql -e \"INSERT INTO e2e.t VALUES ('after the upgrade')\"")
        _wait(lambda: "after the upgrade" in mysql_slave.sh("mysql -N -e 'SELECT v FROM e2e.t'"), 20,
              what="a row written after the upgrade on the slave")
    _wait(lambda: any(a.sh("pgrep -f 'slee[p] 3600' || true", check=False).strip() for a in agents), 120,
          what="the e2e app's task running again on an agent")
    # Requests through the VIP: answered but for the leaders' changes (the Marathon leader
    # restarted last), never a long outage.
    assert api["requests"] > 100 and api["longest_outage_s"] < 20, api

    again = _install(env, "upgrade", "--yes")
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "Nothing to upgrade." in again.stdout, again.stdout[-3000:]


def test_a_host_added_to_the_running_cluster_passes_the_precheck_and_reaches_the_repository(installed):
    """A host added to config.cfg of the running cluster, the default firewall on: the installer
    host's table admits only the hosts of the last run, so the new host's requests to the
    repository, the registry and NTP time out. The precheck passes on it (the path to the
    installer host answers; the run admits it), the repo phase admits it before it uses the
    repository, and it installs from there. Then the host and its line are taken out again."""
    env = installed
    new = DemoCluster(prefix=CLUSTER.prefix, subnet=CLUSTER.subnet, agents=3, label=CLUSTER.label,
                      name=CLUSTER.name, releases=CLUSTER.releases).node("agent3")
    text = env["config"].read_text()
    docker("rm", "-f", "-v", new.container, check=False)
    add_nodes([new], CLUSTER.network, env["folder"] / "id_ed25519", CLUSTER.label)
    try:
        ask = f"timeout 3 bash -c 'exec 3<>/dev/tcp/{_node('installer').ip}/8081' && echo open || echo dropped"
        assert new.sh(ask, check=False).strip() == "dropped"  # the installer host's table drops it
        env["config"].write_text(re.sub(r"^(agent2 = .+)$", rf"\1\nagent3 = {new.ip}", text, count=1, flags=re.M))
        proc = _install(env, "--phases", "repo", "--yes")
        _record("added_host_repo_phase_seconds", round(proc.duration, 1))
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
        report = json.loads((env["runs"] / "latest" / "precheck.json").read_text())["results"]
        mine = {r["check"]: r for r in report if r["host"] == "agent3"}
        assert all(r["status"] == "PASS" for r in mine.values()), [r for r in mine.values() if r["status"] != "PASS"]
        for check in ("repo_reachable", "ntp_reachable"):
            assert "admits this host from this run on" in mine[check]["message"], mine[check]
        assert "certificate not checked" in mine["registry_reachable"]["message"], mine["registry_reachable"]
        # admitted, and its packages come from the cluster's repository
        assert new.sh(ask, check=False).strip() == "open"
        assert new.sh("apt-get -q update 2>&1 | grep -E '^(Err|W:|E:)' || true").strip() == ""
        assert f"http://{_node('installer').ip}:8081" in new.sh("apt-cache policy chrony")
    finally:
        env["config"].write_text(text)
        docker("rm", "-f", "-v", new.container, check=False)


def _left_behind(node) -> list[str]:
    """What an operator would look for on a host after uninstall, each found thing named."""
    script = (
        "ls /etc/ansible/facts.d/ 2>/dev/null | grep '^dcos_' | sed 's/^/record /';"
        f"for u in {' '.join(_OUR_UNITS)}; do systemctl is-active -q $u && echo unit $u active;"
        " test -e /etc/systemd/system/$u.service && echo unit file $u; done;"
        f"for p in {' '.join(_OUR_PACKAGES)}; do dpkg-query -W -f='${{Status}}' $p 2>/dev/null"
        " | grep -qE 'ok (installed|config-files)' && echo package $p; done;"
        "test -e /var/lib/dcos-uninstall-held && echo held data; ls -d /var/lib/*.dcos-uninstall-held 2>/dev/null;"
        "grep -l 'DCOS installer' /etc/hosts /etc/sysctl.d/* /etc/security/limits.d/* /etc/modules-load.d/*"
        " /etc/systemd/system.conf.d/* 2>/dev/null | sed 's/^/managed file /';"
        "nft list table inet dcos_installer >/dev/null 2>&1 && echo firewall table;"
        "ls /etc/apt/sources.list.d/dcos.sources /usr/local/share/ca-certificates/dcos-registry-ca.crt 2>/dev/null"
        " | sed 's/^/client file /';"
        "find /etc/apt -name '*.dcos-disabled' | sed 's/^/renamed source /';"
        "grep -qE '^nameserver 127[.]0[.]0[.]1[[:space:]]*$' /etc/resolv.conf && echo resolver 127.0.0.1;"
        "ls /etc/dnsmasq.d/dcos-consul.conf /etc/consul.d /root/.my.cnf 2>/dev/null | sed 's/^/config /';"
        "true")
    return [line for line in node.sh(script, check=False).splitlines() if line.strip()]


def test_uninstall_leaves_every_host_as_a_new_install_wants_it(installed):
    """Last, on the cluster the tests before left (failover included): the plan and no run
    without --yes; then uninstall every host. Nothing of ours is left (units, packages, records,
    managed files, the firewall table, the repo and CA, the resolver), the data folders are,
    the hosts' own package sources are back; the precheck of a new install passes on every
    host; and a second uninstall finds nothing to do."""
    env = installed
    # The app posted earlier runs on an agent (its process, left behind by the stopped agent
    # unit as Mesos wants for recovery, must go with the uninstall).
    agents = CLUSTER.group("agent")

    def sleeper_on() -> list[str]:
        return [a.name for a in agents if a.sh("pgrep -f 'slee[p] 3600' || true", check=False).strip()]

    _wait(sleeper_on, 60, what="the e2e app's task running on an agent")
    master1, agent1, installer = _node("master1"), _node("agent1"), _node("installer")
    # What the data folders hold now; the packages' purge scripts delete some of them (Debian's
    # zookeeper and consul, docker.io's nuke-graph-directory.sh on a mount point, as here).
    # (folder, depth): Docker's top level only, what a clean stop of dockerd leaves as it was.
    kept = [(master1, ("/var/lib/zookeeper", 2)), (master1, ("/var/lib/consul", 2)),
            (agent1, ("/var/lib/docker", 1)), (agent1, ("/var/lib/mysql", 2))]
    # (MariaDB deletes its temporary tablespace and DDL log at a clean shutdown.)
    listing = ("find {0[0]} -xdev -maxdepth {0[1]} ! -name '*.pid' ! -name '*.lock' ! -name LOCK ! -name 'ibtmp*'"
               " ! -name 'ddl_recovery*' | sort")
    before = {(n.name, d): n.sh(listing.format(d)) for n, d in kept}
    assert all(len(lines.splitlines()) > 2 for lines in before.values()), before
    refused = _install(env, "uninstall")
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert "stop and remove: " in refused.stdout and "keep data: " in refused.stdout
    assert "ZooKeeper's data /var/lib/zookeeper" in refused.stdout
    proc = _install(env, "uninstall", "--yes")
    _record("uninstall_seconds", round(proc.duration, 1))
    (TOP / ".cache" / "test-logs" / "e2e-uninstall.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    left = {node.name: _left_behind(node) for node in CLUSTER.nodes}
    assert left == {node.name: [] for node in CLUSTER.nodes}, left
    assert sleeper_on() == []
    after = {(n.name, d): n.sh(listing.format(d), check=False) for n, d in kept}
    lost = {key: sorted(set(before[key].splitlines()) - set(after[key].splitlines())) for key in before}
    assert lost == {key: [] for key in before}  # a stop may add a file (MariaDB's ib_buffer_pool), none goes
    assert agent1.sh("mountpoint /var/lib/docker").strip() == "/var/lib/docker is a mountpoint"
    assert installer.sh("test -d /srv/dcos && echo kept").strip() == "kept"
    assert master1.sh("test -e /etc/apt/sources.list && echo back").strip() == "back"
    assert master1.sh("systemctl is-active chrony", check=False).strip() == "active"  # time is still kept

    precheck = _install(env, "--precheck-only", timeout=600)
    assert precheck.returncode == 0, (precheck.stdout + precheck.stderr)[-6000:]
    again = _install(env, "uninstall", "--yes")
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert _changed(env) == {}
