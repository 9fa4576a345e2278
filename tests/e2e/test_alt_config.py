"""The paths a default config never takes, installed and verified once: a second cluster whose
config.cfg sets many keys away from their defaults (every boolean flipped where the
combination is valid). One master (ZooKeeper standalone, quorum 1), two lb hosts of which one
is an agent, multicast VRRP on a named interface, the operator's own certificates (registry
with its chain, the VIP, Consul RPC TLS), Consul without ACLs on other ports and another
domain, other ports and data folders everywhere, version pins, no firewall, no cAdvisor, the
hosts' own package repos kept, an unreachable NTP upstream, precheck thresholds and a waiver.

The installer runs the way operators run it in a data center: from the release archive
(`./install.sh release`, built here from the e2e bundle), copied onto the installer host,
unpacked and set up there with no route out of the cluster's network (PyPI and the Debian
mirror asserted unreachable first: python3-venv comes from the archive's own apt source, the
Python packages from its wheelhouse), then every run of this module is started there (the
route comes back for the install itself: this config keeps the hosts' own package sources,
which the hosts then reach). Its runs/ folder is copied back after each run for the checks.

The install's own verify phase is the first judge; a few facts an operator would look at on
such a cluster are checked by hand; then a dry run of the whole converged cluster plans no
change (the real second run that changes nothing is the main cluster's, test_cluster.py)."""

import datetime as dt
import ipaddress
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from installer.demo import (
    IMAGE,
    RELEASE_IMAGES,
    Node,
    build_bundle,
    docker,
    reachable_from,
    remove_nodes,
    ssh_keypair,
    start_nodes,
)
from tests.e2e.helpers import TOP, auth, changed, http, run_record_leaks, summary, wait

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-alt")]

SUBNET = "172.29.41.0/24"
NETWORK = "dcos-alt-net"
LABEL = "dcos-testbed=1"
# agent1 runs Debian 11 (an lb host, the MySQL master, a Mesos agent) beside Debian 12 hosts,
# installed from the one release archive that carries both releases' packages.
NODES = [Node("dcos-alt-installer", "installer", "172.29.41.10"), Node("dcos-alt-master1", "master1", "172.29.41.11"),
         Node("dcos-alt-agent1", "agent1", "172.29.41.21", RELEASE_IMAGES["debian11"]),
         Node("dcos-alt-agent2", "agent2", "172.29.41.22")]
VIP = "172.29.41.250"
GATEWAY = "172.29.41.1"
BUNDLE = TOP / ".cache" / "test-bundles" / "e2e"
RESULTS = TOP / ".cache" / "test-logs" / "e2e-alt-config.json"


def _pki(folder: Path) -> None:
    """An operator's CA and the certificates it issued: the registry's (with its chain), the
    VIP's, and the Consul agents' (server.alt1.altconsul, verified by the servers)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(k, name):
        (folder / name).write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        (folder / name).chmod(0o600)

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alt operator CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (folder / "ca.crt").write_bytes(ca_pem)
    for name, names, usages in (
            ("registry", [ipaddress.ip_address("172.29.41.10")], [ExtendedKeyUsageOID.SERVER_AUTH]),
            ("vip", [ipaddress.ip_address(VIP)], [ExtendedKeyUsageOID.SERVER_AUTH]),
            ("consul", ["server.alt1.altconsul", "localhost"],
             [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])):
        k = key()
        sans = [x509.IPAddress(n) if not isinstance(n, str) else x509.DNSName(n) for n in names]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(names[0]))]))
                .issuer_name(ca_name).public_key(k.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        # The registry's file carries its chain: every host trusts the CA from it.
        (folder / f"{name}.crt").write_bytes(pem + (ca_pem if name == "registry" else b""))
        write_key(k, f"{name}.key")


def _zookeeper_version() -> str:
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    entries = manifest.get("packages") or manifest.get("files") or []
    for entry in entries:
        name = entry.get("name", "") if isinstance(entry, dict) else ""
        if name == "zookeeper" or name.startswith("zookeeper_"):
            version = entry.get("version", "")
            if version:
                return version.split("-")[0]
    return ""


CONFIG = """[cluster]
name = alt
domain = alt.test
ssh_user = dcos
ssh_key_file = {key}
python_interpreter = /usr/bin/python3
firewall = off
task_timeout = 900
phase_timeout = 3600

[installer]
installer = 172.29.41.10

[masters]
master1 = 172.29.41.11

[agents]
agent1 = 172.29.41.21
agent2 = 172.29.41.22

[lb]
master1
agent1

[keepalived]
vip = {vip}/24
interface = eth0
router_id = 77
unicast = false
auth_pass = AltVrrpPass1

[registry]
port = 5443
tls_cert = certs/registry.crt
tls_key = certs/registry.key
username = ops
password = Alt-Registry-Pass-1
data_dir = /srv/registry

[repo]
port = 8181
bundle = {bundle}
keep_host_repos = true

[ntp]
upstream = ntp.unreachable.alt.test
clock_control = false

[zookeeper]
client_port = 2281
peer_port = 2889
election_port = 3889
data_dir = /srv/zookeeper
heap_mb = 256
version = {zk_version}
username = zkalt
password = Alt-Zk-Password-1

[mesos]
master_port = 5055
agent_port = 5056
master_work_dir = /srv/mesos/master
agent_work_dir = /srv/mesos/agent
containerizers = mesos
attributes = rack:r1;zone:b
resources = cpus:2;mem:2048
executor_registration_timeout = 10mins
username = opsmesos
password = Alt-Mesos-Pass-1

[marathon]
port = 8088
heap_mb = 256
username = ops
password = Alt-Marathon-Pass-1

[consul]
datacenter = alt1
domain = altconsul
server_port = 8310
serf_lan_port = 8311
http_port = 8510
dns_port = 8610
acl = false
tls = true
tls_ca_file = certs/ca.crt
tls_cert_file = certs/consul.crt
tls_key_file = certs/consul.key

[haproxy]
marathon_port = 8443
mesos_port = 8052
consul_port = 8552
http_port = 0
stats_port = 9091
stats_user = opsstats
stats_password = Alt-Stats-Pass-1
stats_admin = true
tls_cert = certs/vip.crt
tls_key = certs/vip.key
extra_frontends = marathon2:8091:marathon:tcp

[mysql]
master = agent1
slave = agent2
port = 3307
data_dir = /srv/mysql
root_password = Alt-Mysql-Root-1
replication_password = Alt-Mysql-Repl-1

[cadvisor]
enabled = false

[precheck]
min_free_gb = 1
min_free_inodes = 1000
max_clock_offset_ms = 5000
master_min_cpus = 1
master_min_memory_gb = 1
agent_min_memory_gb = 1
waive = cpu@master1
"""


def _release(folder: Path) -> tuple[Path, float]:
    """The release archive of this checkout with the e2e bundle: (archive, seconds to build)."""
    started = time.monotonic()
    proc = subprocess.run([str(TOP / "install.sh"), "release", "--target", "debian12", "--bundle", str(BUNDLE),
                           "--out", str(folder / "dist"), "--image", IMAGE],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next((folder / "dist").glob("dcos-installer-*.tar.gz")), time.monotonic() - started


def _unpack_air_gapped(host: Node, archive: Path) -> tuple[str, float]:
    """The archive unpacked and set up on the host with no route out (asserted): (its folder
    there, seconds from unpacking to the installer's first answer)."""
    host.sh("ip route del default")
    assert reachable_from(host.container) == []  # neither the mirror nor PyPI
    assert host.sh("dpkg-query -W -f '${Status}' python3-venv 2>/dev/null || true").strip() != "install ok installed"
    docker("cp", str(archive), f"{host.container}:/root/{archive.name}", timeout=300)
    release = "/root/" + archive.name[:-len(".tar.gz")]
    started = time.monotonic()
    setup = docker("exec", host.container, "bash", "-c", f"cd /root && tar xf {archive.name} && cd {release} && "
                   "./install.sh --version", check=False, timeout=600)
    took = time.monotonic() - started
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "no network used" in setup.stderr and "python3-venv" in setup.stderr, setup.stderr
    host.sh(f"ip route add default via {GATEWAY}")
    return release, took


def _install(env: dict, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    """./install.sh of the release on the installer host; the run's records copied back here."""
    start = time.time()
    proc = subprocess.run(["docker", "exec", env["host"].container, "bash", "-c",
                           f"cd {env['release']} && ./install.sh {env['config']} --runs-dir {env['runs']} "
                           + " ".join(args)], capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    proc.duration = time.time() - start  # type: ignore[attr-defined]
    shutil.rmtree(env["runs"], ignore_errors=True)
    docker("cp", f"{env['host'].container}:{env['runs']}", str(env["runs"]), check=False, timeout=300)
    return proc


@pytest.fixture(scope="module")
def alt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alt")
    build_bundle(BUNDLE, folder / "standins", ("debian11",))  # the same bundle as test_cluster's
    archive, built = _release(folder)
    key = ssh_keypair(folder)
    (folder / "certs").mkdir()
    _pki(folder / "certs")
    start_nodes(NODES, NETWORK, SUBNET, key, LABEL, internal=False)  # the hosts' own repos stay reachable
    host = NODES[0]
    release, setup = _unpack_air_gapped(host, archive)
    config = folder / "config.cfg"
    config.write_text(CONFIG.format(key=key, vip=VIP, bundle=f"{release}/bundle", zk_version=_zookeeper_version()))
    # The operator's files where the installer host's copy of config.cfg names them.
    host.sh(f"mkdir -p {folder}")
    docker("cp", str(folder / "config.cfg"), f"{host.container}:{folder}/config.cfg")
    for name in ("certs", key.name):
        docker("cp", str(folder / name), f"{host.container}:{folder}/")
    env = {"config": config, "runs": folder / "runs", "folder": folder, "host": host, "release": release,
           "archive": {"mb": round(archive.stat().st_size / 1024**2), "build_seconds": round(built, 1),
                       "unpack_and_setup_seconds": round(setup, 1)}}
    print(f"\nrelease archive {archive.name}: {env['archive']['mb']} MB, built in {built:.1f} s; on the air-gapped "
          f"installer host, unpacked and set up in {setup:.1f} s")
    env["first"] = _install(env, "--yes")
    (TOP / ".cache" / "test-logs" / "e2e-alt-first-install.log").write_text(env["first"].stdout + env["first"].stderr)
    yield env
    remove_nodes([n.container for n in NODES], NETWORK)


def _node(name: str) -> Node:
    return next(n for n in NODES if n.name == name)


def test_a_cluster_of_non_default_keys_installs_and_verifies(alt):
    proc = alt["first"]
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    summary = json.loads(((alt["runs"] / "latest").resolve() / "summary.json").read_text())
    assert [p["phase"] for p in summary["phases"]][-1] == "verify"
    assert f"https://{VIP}:8443/" in proc.stdout  # the summary's URLs follow the ports
    # One archive for a cluster of two OS releases: the bundle's Debian 11 part travels in it
    # (the main e2e cluster installs its master3 from that part).
    record = json.loads(alt["host"].sh(f"cat {alt['release']}/RELEASE.json"))
    assert record["bundle_releases"] == ["debian11", "debian12"], record.get("bundle_releases")
    assert alt["host"].sh(f"test -s {alt['release']}/bundle/targets/debian11/manifest.json && echo yes").strip()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"first_install_seconds": round(proc.duration, 1), "release": alt["archive"]})
                       + "\n")


def test_the_non_default_paths_did_what_their_keys_say(alt):
    if alt["first"].returncode != 0:
        pytest.fail("the install failed")
    master, agent1, agent2 = _node("master1"), _node("agent1"), _node("agent2")
    ca = str(alt["folder"] / "certs" / "ca.crt")
    # The VIP on its own port with the operator's certificate; Marathon's own user.
    status, info = http(f"https://{VIP}:8443/v2/info", cafile=ca, headers=auth("ops", "Alt-Marathon-Pass-1"))
    assert status == 200 and info["name"] == "marathon", info
    # Consul on its own ports, domain and datacenter, with TLS on RPC and without ACLs.
    assert master.ip in agent2.sh("getent ahostsv4 marathon.service.altconsul")
    conf = json.loads(master.sh("cat /etc/consul.d/consul.json"))
    assert conf["datacenter"] == "alt1" and conf["ports"]["server"] == 8310 and conf["verify_incoming_rpc"] is True
    assert "acl" not in conf
    # ZooKeeper standalone on its own port and folder, pinned to the bundle's version.
    assert "Mode: standalone" in master.sh(
        f"bash -c 'exec 3<>/dev/tcp/{master.ip}/2281 && printf srvr >&3 && timeout 5 cat <&3'")
    assert master.sh("test -f /srv/zookeeper/version-2/currentEpoch -o -d /srv/zookeeper/version-2 && echo yes").strip()
    # No firewall of the installer's; no cAdvisor; multicast VRRP on eth0.
    assert agent1.sh("systemctl is-enabled dcos-firewall 2>/dev/null || echo none").strip() in ("none", "not-found")
    assert agent1.sh("systemctl is-active dcos-cadvisor 2>/dev/null || echo inactive").strip() != "active"
    keepalived = agent1.sh("cat /etc/keepalived/keepalived.conf")
    assert "unicast_peer" not in keepalived and "interface eth0" in keepalived
    # The stats page may change servers (stats_admin = true).
    assert "stats admin if TRUE" in agent1.sh("cat /etc/haproxy/haproxy.cfg")
    # MySQL on its own port and folder, replicating.
    assert agent2.sh("mysql -N -e 'SELECT @@port, @@datadir'").split() == ["3307", "/srv/mysql/"]
    # Two OS releases: agent1 runs Debian 11 and reads the installer's debian11 repository (as
    # well as its own sources: keep_host_repos); its MariaDB 10.5 master replicates to agent2's
    # 10.11 (the direction replication supports; the precheck refuses the other).
    assert agent1.sh(". /etc/os-release && echo $VERSION_ID").strip() == "11"
    assert "URIs: http://172.29.41.10:8181/debian11" in agent1.sh("cat /etc/apt/sources.list.d/dcos.sources")
    versions = {n.name: n.sh("mysql -N -e 'SELECT VERSION()'").strip() for n in (agent1, agent2)}
    assert versions["agent1"].startswith("10.5.") and versions["agent2"].startswith("10.11."), versions
    agent1.sh("mysql -e 'CREATE DATABASE IF NOT EXISTS alt_release; CREATE TABLE IF NOT EXISTS alt_release.t "
              "(id INT PRIMARY KEY); REPLACE INTO alt_release.t VALUES (11)'")
    wait(lambda: agent2.sh("mysql -N -e 'SELECT id FROM alt_release.t' 2>/dev/null || true").strip() == "11", 30,
         what="the row written on the Debian 11 master replicated to the Debian 12 slave")
    # The registry with the operator's certificate and user, from another host.
    status, _ = http("https://172.29.41.10:5443/v2/", via=agent2, headers=auth("ops", "Alt-Registry-Pass-1"))
    assert status == 200


def test_a_dry_run_of_the_whole_converged_cluster_passes_and_changes_nothing(alt):
    """--check over every phase (with its --diff): exit 0, changed=0 everywhere (the plan of a
    converged cluster is empty), verify runs for real in it; and neither it nor any run before
    it left a secret in a file of runs/ (the operator's passwords given in config.cfg, the
    generated ones), nor a file another user may read."""
    if alt["first"].returncode != 0:
        pytest.fail("the install failed")
    check = _install(alt, "--yes", "--check", "--full")  # --full: check mode through every task of every role
    assert check.returncode == 0, (check.stdout + check.stderr)[-6000:]
    assert "(check mode)" in check.stdout
    assert changed(alt["runs"]) == {}
    assert [p["phase"] for p in summary(alt["runs"])["phases"]][-1] == "verify"
    secrets = yaml.safe_load(next((alt["runs"] / "secrets").glob("*.yml")).read_text())
    needles = {k: str(v) for k, v in secrets.items() if isinstance(v, (str, int)) and len(str(v)) >= 8}
    assert {"Alt-Marathon-Pass-1", "Alt-Registry-Pass-1"} <= set(needles.values()), sorted(needles)
    found, modes = run_record_leaks(alt["runs"], needles)
    assert found == [], found[:20]
    assert modes == [], modes[:20]


def test_uninstalling_one_host_with_its_data_leaves_the_others_running(alt):
    """Last: `uninstall --hosts agent2 --purge-data` (the MySQL slave and an agent, on its own
    data folders) while it runs an instance of an app: the agent is drained first (Mesos
    maintenance, machine down), so Marathon runs the instance on agent1; Mesos forgets the agent
    and its machine; its components, records and data are gone, the Consul servers forgot it;
    the other hosts, never in the run, still run theirs."""
    if alt["first"].returncode != 0:
        pytest.fail("the install failed")
    agent2, agent1, master = _node("agent2"), _node("agent1"), _node("master1")
    ca, marathon = str(alt["folder"] / "certs" / "ca.crt"), auth("ops", "Alt-Marathon-Pass-1")
    app = {"id": "/alt/sleeper", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32, "instances": 2}
    status, body = http(f"https://{VIP}:8443/v2/apps", method="POST", body=app, headers=marathon, cafile=ca)
    assert status == 201, body

    def hosts_running() -> list[str]:
        status, body = http(f"https://{VIP}:8443/v2/apps/alt/sleeper/tasks", headers=marathon, cafile=ca)
        assert status == 200, body
        return sorted(t["host"] for t in body["tasks"] if t["state"] == "TASK_RUNNING")

    wait(lambda: len(hosts_running()) == 2 and agent2.sh("pgrep -f 'slee[p] 3600' || true").strip(), 90,
         what="the app's two instances running, one on agent2")
    assert agent2.ip in hosts_running() or "agent2" in hosts_running()
    proc = _install(alt, "uninstall", "--hosts", "agent2", "--purge-data", "--yes")
    print(f"uninstall --hosts agent2 (drain included): {proc.duration:.1f}s")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert "drained" in proc.stdout
    # config.cfg stays the one truth: the operator is told which lines name agent2.
    assert "agent2 uninstalled; the other hosts still list it." in proc.stdout
    assert "[agents]: agent2 = " in proc.stdout and "[mysql]: slave = agent2" in proc.stdout
    # Marathon runs both instances elsewhere; Mesos has no agent on agent2's machine and no
    # maintenance left; the task's process is gone with the agent.
    assert hosts_running() and all(h in (agent1.ip, "agent1") for h in hosts_running()), hosts_running()
    wait(lambda: len(hosts_running()) == 2, 60, what="both instances running on agent1")
    mesos = auth("opsmesos", "Alt-Mesos-Pass-1")
    status, slaves = http(f"http://{master.ip}:5055/master/slaves", headers=mesos)
    assert status == 200 and [s["hostname"] for s in slaves["slaves"] if s["active"]] != []
    assert all(agent2.ip not in s["pid"] for s in slaves["slaves"] if s["active"]), slaves
    assert http(f"http://{master.ip}:5055/master/maintenance/schedule", headers=mesos) == (200, {})
    assert agent2.sh("pgrep -f 'slee[p] 3600' || true").strip() == ""
    assert "DELETE data: " in proc.stdout and "/srv/mysql" in proc.stdout
    assert "the others stay" in proc.stdout
    gone = agent2.sh("bash -c 'ls -d /srv/mysql /srv/mesos/agent /etc/ansible/facts.d/dcos_* /etc/consul.d 2>/dev/null;"
                     " systemctl is-active mariadb dcos-mesos-agent consul 2>/dev/null; true'", check=False)
    assert gone.split() == ["inactive", "inactive", "inactive"], gone
    for node, unit in ((agent1, "mariadb"), (master, "zookeeper"), (master, "dcos-mesos-master")):
        assert node.sh(f"systemctl is-active {unit}", check=False).strip() == "active", (node.name, unit)
    assert master.sh("ls /etc/ansible/facts.d/dcos_zookeeper.fact").strip()
    members = master.sh("consul members -http-addr=http://127.0.0.1:8510")
    assert "agent1" in members and "agent2" not in members, members
