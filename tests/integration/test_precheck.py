"""The precheck against test-bed containers, one of them broken on purpose in several ways:
a port taken by a listener, a work dir on a 1 MB tmpfs, a foreign ZooKeeper installed, a
configured IP that is not the host's. Each FAIL must name the host and say what was found;
the exit status is 3; no host is changed."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from installer.bundle import sha256
from tests.integration import nodes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("precheck")]

TOP = Path(__file__).resolve().parents[2]
NETWORK, SUBNET = "dcos-it-precheck", "172.29.30.0/24"
NODES = {"pc-installer": "172.29.30.10", "pc-master": "172.29.30.11", "pc-agent": "172.29.30.12"}
WRONG_IP = "172.29.30.50"
CONFIG = """[cluster]
name = itpre
ssh_user = dcos
ssh_key_file = id_ed25519

[installer]
pc-installer = 172.29.30.10

[masters]
pc-master = 172.29.30.11

[agents]
pc-agent = {agent_ip} ssh=172.29.30.12

[repo]
bundle = bundle
"""
# Everything a precheck may leave behind on a host: logs of the SSH login and sudo, the
# journal, the user's Ansible temp dir; the module runs from /tmp.
ALLOWED_WRITES = ("/tmp/", "/var/log/", "/home/dcos/.ansible/", "/root/.ansible/", "/var/lib/sudo/")
SNAPSHOT = ("touch /tmp/.precheck-mark; sleep 1; dpkg-query -W -f '${Package} ${Version}\\n' | md5sum")
CHANGED = ("find / -xdev -newer /tmp/.precheck-mark \\( -type f -o -type l \\) 2>/dev/null")


def _bundle(folder: Path) -> Path:
    bundle = folder / "bundle"
    (bundle / "packages").mkdir(parents=True, exist_ok=True)
    deb = bundle / "packages" / "demo_1.0_all.deb"
    deb.write_bytes(b"not really a deb, but bytes with a checksum")
    manifest = {"format": 1, "os": "debian12", "files": [
        {"path": "packages/demo_1.0_all.deb", "kind": "package", "name": "demo", "version": "1.0",
         "size": deb.stat().st_size, "sha256": sha256(deb)}]}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return bundle


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    folder = tmp_path_factory.mktemp("itpre")
    key = nodes.ssh_keypair(folder)
    started = {n.name: n for n in nodes.start(NODES, NETWORK, SUBNET, key)}
    master, agent = started["pc-master"], started["pc-agent"]
    # 1. a port ZooKeeper needs, taken by another program
    master.sh("systemd-run --unit squatter python3 -m http.server 2181 >/dev/null 2>&1")
    # 2. a foreign ZooKeeper, not installed by us
    master.sh("printf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/zookeeper.service")
    # 3. the Mesos agent work dir on a 1 MB tmpfs
    agent.sh("mkdir -p /var/lib/mesos && mount -t tmpfs -o size=1m tmpfs /var/lib/mesos")
    _bundle(folder)
    config = folder / "config.cfg"
    config.write_text(CONFIG.format(agent_ip=WRONG_IP))  # 4. a configured IP the agent does not have
    before = {name: node.sh(SNAPSHOT) for name, node in started.items()}
    proc = subprocess.run([str(TOP / "install.sh"), str(config), "--precheck-only", "--runs-dir",
                           str(folder / "runs")], capture_output=True, text=True, timeout=300, check=False)
    yield {"proc": proc, "folder": folder, "nodes": started, "before": before, "config": config}
    nodes.remove(list(NODES), NETWORK)


def _report(broken) -> dict:
    return json.loads(((broken["folder"] / "runs" / "latest").resolve() / "precheck.json").read_text())


def _fails(broken) -> dict[tuple[str, str], str]:
    return {(r["check"], r["host"]): r["message"] for r in _report(broken)["results"] if r["status"] == "FAIL"}


def test_precheck_fails_with_exit_3_and_says_nothing_changed(broken):
    proc = broken["proc"]
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "precheck FAILED: nothing was changed" in proc.stdout


def test_each_planted_problem_is_a_fail_on_the_right_host(broken):
    fails = _fails(broken)
    assert "2181/tcp (zookeeper client) is held by python3" in fails[("ports_free", "pc-master")]
    assert "zookeeper (unit zookeeper.service)" in fails[("existing_install", "pc-master")]
    assert "/var/lib/mesos/agent (on /var/lib/mesos" in fails[("disk_space", "pc-agent")]
    assert f"{WRONG_IP} is not an address of this host (it has: 172.29.30.12)" in fails[("ip_address", "pc-agent")]
    # nothing else failed: the installer host and the healthy checks pass
    assert set(fails) == {("ports_free", "pc-master"), ("existing_install", "pc-master"),
                          ("disk_space", "pc-agent"), ("ip_address", "pc-agent")}, fails


def test_the_table_shows_failures_first_with_what_to_do(broken):
    out = broken["proc"].stdout
    problems = out.index("Precheck problems")
    matrix = re.search(r"┃ check +┃ pc-installer", out).start()
    assert problems < matrix
    fixes = {(r["check"], r["host"]): r["fix"] for r in _report(broken)["results"]}
    assert "[cluster] adopt = zookeeper" in fixes[("existing_install", "pc-master")]
    assert "what to do" in out and "adopt" in out
    first_rows = out[matrix:].splitlines()[2:6]
    assert all("FAIL" in row for row in first_rows), first_rows


def test_the_bundle_was_verified(broken):
    results = {(r["check"], r["host"]): r for r in _report(broken)["results"]}
    assert results[("bundle", "pc-installer")]["status"] == "PASS"
    assert "1 files" in results[("bundle", "pc-installer")]["message"]


def test_no_host_was_changed(broken):
    for name, node in broken["nodes"].items():
        assert node.sh(SNAPSHOT.split("; ", 2)[-1]) == broken["before"][name], f"packages changed on {name}"
        written = [p for p in node.sh(CHANGED).splitlines() if not p.startswith(ALLOWED_WRITES)]
        assert not written, f"files written on {name}: {written}"


def test_a_tampered_bundle_file_is_named_and_a_waiver_is_shown(broken):
    deb = broken["folder"] / "bundle" / "packages" / "demo_1.0_all.deb"
    deb.write_bytes(b"tampered")
    config = broken["config"]
    config.write_text(config.read_text() + "\n[precheck]\nwaive = ports_free@pc-master\n")
    proc = subprocess.run([str(TOP / "install.sh"), str(config), "--precheck-only", "--runs-dir",
                           str(broken["folder"] / "runs")], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 3
    fails = _fails(broken)
    assert "packages/demo_1.0_all.deb is 8 bytes, the manifest says" in fails[("bundle", "pc-installer")]
    waived = [r for r in _report(broken)["results"] if r["waived"]]
    assert [(r["check"], r["host"]) for r in waived] == [("ports_free", "pc-master")]
    assert "FAIL (waived)" in proc.stdout and "1 waived" in proc.stdout
