"""The cluster core as an operator checks it from a workstation: one leading Mesos master
that every master names, the agent registered with it, one Marathon leader, an app stored
through a standby; then the leaders crash or stop and new ones take over within 30 s.

Mesos and Marathon here are the stand-ins of demo/standins/ (docs/testing.md says what
that covers); ZooKeeper and Docker are real."""

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request

MASTERS = {"mm1": "172.29.15.11", "mm2": "172.29.15.12", "mm3": "172.29.15.13"}
AGENT = "172.29.15.21"
AUTH = "Basic " + base64.b64encode(b"molecule:molecule-secret").decode()
MESOS_ADMIN = "Basic " + base64.b64encode(b"admin:admin-secret-molecule").decode()
FAILOVER_LIMIT = 30


def get(url, auth=True, method="GET", body=None):
    """(status, parsed JSON or text, headers); auth: True (Marathon's user), False, or a header value."""
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    if auth:
        request.add_header("Authorization", AUTH if auth is True else auth)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), exc.headers
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw.decode(), headers


def mesos_state(ip):
    """The master's /master/state, or {} while it cannot answer with it (down, recovering)."""
    try:
        status, body, _ = get(f"http://{ip}:5050/master/state", auth=False)
    except OSError:
        return {}
    return body if status == 200 and isinstance(body, dict) else {}


def mesos_leader(ips):
    """The leader's ip if every given master names the same one, else None."""
    leaders = {mesos_state(ip).get("leader") for ip in ips}
    if len(leaders) != 1 or None in leaders:
        return None
    return leaders.pop().split("@")[1].split(":")[0]


def marathon_leader(ips):
    leaders = set()
    for ip in ips:
        try:
            status, body, _ = get(f"http://{ip}:8080/v2/leader")
        except OSError:
            return None
        leaders.add(body.get("leader") if status == 200 and isinstance(body, dict) else None)
    if len(leaders) != 1 or None in leaders:
        return None
    return leaders.pop().split(":")[0]


def active_agents(leader_ip):
    """ip:port -> entry of the agents the master lists as active ({} while it cannot say)."""
    try:
        status, body, _ = get(f"http://{leader_ip}:5050/master/slaves", auth=False)
    except OSError:
        return {}
    if status != 200 or not isinstance(body, dict):
        return {}
    return {s["pid"].split("@")[1]: s for s in body.get("slaves", []) if s["active"]}


def wait_for(what, probe, limit, start=None):
    """(value, seconds since start) once probe() gives a value; start defaults to now."""
    start = time.monotonic() if start is None else start
    while time.monotonic() - start < limit:
        value = probe()
        if value:
            return value, time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {limit} s")


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def _hosts(host):
    from testinfra import get_host

    inventory = host.backend.ansible_inventory
    return {name: get_host(f"ansible://{name}?ansible_inventory={inventory}") for name in (*MASTERS, "ma1")}


def _in(name, *command):
    return subprocess.run(["docker", "exec", name, *command], capture_output=True, text=True, check=True).stdout


def test_the_flag_change_elected_a_new_leader_once(host):
    """side_effect.yml's restart went follower, follower, leader (roles/rolling_restart): one
    election since the first master restarted. In play order (mm1 first) it would take one
    more each time the master restarted was leading."""
    if _name(host) != "mm1":
        return  # cluster-wide, once
    # "Mon 2026-11-30 23:40:01 UTC" -> "2026-11-30 23:40:01 UTC"; one host clock for all containers
    restarted = [_in(name, "systemctl", "show", "-p", "ActiveEnterTimestamp", "--value", "dcos-mesos-master")
                 .strip().split(" ", 1)[1] for name in MASTERS]
    since = min(restarted)
    elections = {name: _in(name, "journalctl", "-u", "dcos-mesos-master", "--since", since, "-o", "cat")
                 .count("Elected as the leading master!") for name in MASTERS}
    assert sum(elections.values()) == 1, (since, elections)


def test_our_units_run_and_the_package_units_are_masked(host):
    if _name(host) == "ma1":
        assert host.service("dcos-mesos-agent").is_running and host.service("dcos-mesos-agent").is_enabled
        assert "--containerizers=docker,mesos" in host.check_output("systemctl show -p ExecStart dcos-mesos-agent")
    else:
        for unit in ("zookeeper", "dcos-mesos-master", "dcos-marathon"):
            assert host.service(unit).is_running and host.service(unit).is_enabled, unit
        assert host.check_output("systemctl show -p User --value dcos-marathon") == "marathon"
        assert host.file("/etc/marathon/dcos.env").mode == 0o640
        assert "molecule-secret" not in host.check_output("systemctl show -p ExecStart dcos-marathon")
        assert host.run("systemctl is-enabled marathon").stdout.strip() == "masked"
    for unit in ("mesos-master", "mesos-slave"):
        assert host.run(f"systemctl is-enabled {unit}").stdout.strip() == "masked", unit
        assert not host.service(unit).is_running, unit


def test_one_mesos_leader_with_the_agent_and_one_marathon_leader(host):
    if _name(host) != "mm1":
        return  # cluster-wide, once
    leader = mesos_leader(MASTERS.values())
    assert leader in MASTERS.values()
    elected = {ip: get(f"http://{ip}:5050/metrics/snapshot", auth=False)[1]["master/elected"]
               for ip in MASTERS.values()}
    assert sorted(elected.values()) == [0.0, 0.0, 1.0] and elected[leader] == 1.0, elected

    flags = get(f"http://{leader}:5050/master/flags", auth=False)[1]["flags"]
    assert (flags["quorum"], flags["cluster"], flags["work_dir"]) == ("2", "molecule", "/var/lib/mesos/master")
    # side_effect.yml changed a flag: every master was restarted with it (one at a time)
    for ip in MASTERS.values():
        assert get(f"http://{ip}:5050/master/flags", auth=False)[1]["flags"]["agent_ping_timeout"] == "20secs", ip

    agents = active_agents(leader)
    assert f"{AGENT}:5051" in agents, agents
    assert agents[f"{AGENT}:5051"]["attributes"] == {"rack": "r1", "zone": "a"}
    agent_state = get(f"http://{AGENT}:5051/state", auth=False)[1]
    assert agent_state["id"] == agents[f"{AGENT}:5051"]["id"]

    for ip in MASTERS.values():
        status, body, headers = get(f"http://{ip}:8080/ping")
        assert (status, body.strip()) == (200, "pong"), ip
    assert marathon_leader(MASTERS.values()) in MASTERS.values()
    # Marathon registered with the masters as an authenticated framework.
    frameworks = get(f"http://{leader}:5050/master/frameworks", auth=False)[1]["frameworks"]
    assert [f["name"] for f in frameworks if f["active"]] == ["marathon"], frameworks


def test_nothing_answers_without_credentials(host):
    """What someone on the network gets without the cluster's credentials."""
    if _name(host) != "mm1":
        return
    leader = mesos_leader(MASTERS.values())
    # Marathon: every path, /ping included, asks for Basic auth; an app needs the credentials.
    for path in ("/ping", "/v2/apps"):
        status, _, headers = get(f"http://{leader}:8080{path}", auth=False)
        assert status == 401 and headers["WWW-Authenticate"].lower().startswith("basic realm="), (path, status)
    app = {"id": "/intruder", "cmd": "id", "cpus": 0.1, "mem": 16}
    assert get(f"http://{leader}:8080/v2/apps", auth=False, method="POST", body=app)[0] == 401
    assert get(f"http://{leader}:8080/v2/apps", auth="Basic " + base64.b64encode(b"molecule:wrong").decode(),
               method="POST", body=app)[0] == 401
    # Mesos: the read-write endpoints of the masters and the agent want the operator's user.
    status, body, headers = get(f"http://{leader}:5050/master/teardown", auth=False, method="POST",
                                body={"frameworkId": "x"})
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="mesos-master-readwrite"', (status, body)
    status, _, _ = get(f"http://{leader}:5050/master/maintenance/schedule", auth=MESOS_ADMIN)
    assert status == 200
    status, _, headers = get(f"http://{AGENT}:5051/api/v1", auth=False, method="POST",
                             body={"type": "GET_HEALTH"})
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readwrite"'
    # No credential on a command line that /flags shows.
    flags = json.dumps(get(f"http://{leader}:5050/master/flags", auth=False)[1])
    assert "zk-secret-molecule" not in flags and "agent-secret-molecule" not in flags
    assert get(f"http://{leader}:5050/master/flags", auth=False)[1]["flags"]["zk"] == \
        "file:///etc/dcos/mesos-master/zk"


def test_the_znodes_are_writable_by_the_digest_user_only(host):
    """ZooKeeper's own CLI, anonymous: reads /mesos, cannot write there, cannot read Marathon's state."""
    if _name(host) != "mm1":
        return
    cli = ("/usr/share/zookeeper/bin/zkCli.sh -server 172.29.15.11:2181 {} 2>&1")
    acl = host.check_output(cli.format("getAcl /mesos"))
    assert "'digest,'dcos:" in acl and "'world,'anyone\n: r" in acl.replace("\r", ""), acl
    # Marathon's state is private: anonymous cannot even read its ACL (ZooKeeper 3.8 wants READ for that).
    assert "Insufficient permission" in host.run(cli.format("getAcl /marathon")).stdout
    assert "Insufficient permission" in host.run(cli.format("create /mesos/intruder x")).stdout
    assert "Insufficient permission" in host.run(cli.format("create /intruder x")).stdout
    assert "Insufficient permission" in host.run(cli.format("ls /marathon")).stdout


def test_leaders_fail_over_within_30_s_and_nothing_is_lost(host):
    if _name(host) != "mm1":
        return
    hosts = _hosts(host)
    by_ip = {ip: name for name, ip in MASTERS.items()}
    mesos_old = mesos_leader(MASTERS.values())
    marathon_old = marathon_leader(MASTERS.values())
    standby = next(ip for ip in MASTERS.values() if ip != marathon_old)
    app = {"id": "/molecule-failover", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}
    get(f"http://{standby}:8080/v2/apps/molecule-failover", method="DELETE")
    status, body, _ = get(f"http://{standby}:8080/v2/apps", method="POST", body=app)
    assert status == 201, body  # stored through a standby, which forwards to the leader

    # The Mesos leader crashes (SIGKILL: its ZooKeeper session is not closed and must expire),
    # and the Marathon leader is stopped.
    start = time.monotonic()
    hosts[by_ip[mesos_old]].check_output("systemctl kill -s KILL dcos-mesos-master && systemctl stop dcos-mesos-master")
    hosts[by_ip[marathon_old]].check_output("systemctl stop dcos-marathon")
    try:
        mesos_rest = [ip for ip in MASTERS.values() if ip != mesos_old]
        marathon_rest = [ip for ip in MASTERS.values() if ip != marathon_old]
        mesos_new, mesos_took = wait_for("a new Mesos leader",
                                         lambda: (mesos_leader(mesos_rest) or "").replace(mesos_old, ""),
                                         FAILOVER_LIMIT, start)
        marathon_new, marathon_took = wait_for("a new Marathon leader",
                                               lambda: (marathon_leader(marathon_rest) or "").replace(marathon_old, ""),
                                               FAILOVER_LIMIT, start)
        _, agent_took = wait_for("the agent registered with the new leader",
                                 lambda: f"{AGENT}:5051" in active_agents(mesos_new), FAILOVER_LIMIT, start)
        # all three measured from the moment the leaders went down
        print(f"failover: mesos {mesos_old} -> {mesos_new} in {mesos_took:.1f} s, agent registered with it after "
              f"{agent_took:.1f} s; marathon {marathon_old} -> {marathon_new} in {marathon_took:.1f} s")
        status, body, _ = get(f"http://{marathon_new}:8080/v2/apps/molecule-failover")
        assert status == 200 and body["app"]["cmd"] == "sleep 1000", body
    finally:
        hosts[by_ip[mesos_old]].check_output("systemctl start dcos-mesos-master")
        hosts[by_ip[marathon_old]].check_output("systemctl start dcos-marathon")
        get(f"http://{standby}:8080/v2/apps/molecule-failover", method="DELETE")
    # The restarted ones come back as followers that name the new leaders.
    wait_for("all three masters naming one Mesos leader", lambda: mesos_leader(MASTERS.values()), 60)
    wait_for("all three Marathons naming one leader", lambda: marathon_leader(MASTERS.values()), 60)


ZK_CLI = "/usr/share/zookeeper/bin/zkCli.sh -server {ip}:2181"
ZK_AUTH = "addauth digest dcos:zk-secret-molecule"


def _zk_mode(name):
    """srvr's Mode (leader, follower) of one member, None when it does not answer."""
    ip = MASTERS[name]
    out = subprocess.run(["docker", "exec", name, "bash", "-c",
                          f"exec 3<>/dev/tcp/{ip}/2181 && printf srvr >&3 && timeout 5 cat <&3"],
                         capture_output=True, text=True, check=False).stdout
    return next((line.split(": ")[1] for line in out.splitlines() if line.startswith("Mode: ")), None)


def _zk(name, *commands):
    """zkCli.sh on a member, authenticated as the digest user, the commands in one session."""
    script = "\n".join((ZK_AUTH, *commands, "quit")) + "\n"
    return subprocess.run(["docker", "exec", "-i", name, "bash", "-c",
                           f"timeout 60 {ZK_CLI.format(ip=MASTERS[name])} 2>&1"],
                          input=script, capture_output=True, text=True, check=False).stdout


def test_zookeeper_is_ours_and_keeps_its_quorum_with_a_member_down(host):
    """The ensemble as an operator checks it: our unit, run as zookeeper, its id and peers; one
    leader and two followers (srvr); a znode written on one member is read on all; with a
    follower stopped the other two still elect, take a write and serve it."""
    name = _name(host)
    if name == "ma1":
        return
    assert "QuorumPeerMain" in host.check_output("systemctl show -p ExecStart zookeeper")
    assert "zookeeper" in [p.user for p in host.process.filter(comm="java")]
    assert host.file("/var/lib/zookeeper/myid").content_string.strip() == name[-1]
    assert "server.3=172.29.15.13:2888:3888" in host.file("/etc/zookeeper/dcos/zoo.cfg").content_string
    if name != "mm1":
        return  # ensemble-wide, once
    assert sorted(_zk_mode(m) for m in MASTERS) == ["follower", "follower", "leader"]
    znode = "/mesos/molecule-zk"
    _zk("mm1", f"delete {znode}", f"create {znode} written-on-mm1")
    for member in MASTERS:
        assert "written-on-mm1" in _zk(member, f"get {znode}"), member
    follower = next(m for m in MASTERS if _zk_mode(m) == "follower")
    _in(follower, "systemctl", "stop", "zookeeper")
    try:
        rest = [m for m in MASTERS if m != follower]
        wait_for("two members serving, one of them leading",
                 lambda: sorted(_zk_mode(m) or "" for m in rest) == ["follower", "leader"], 60)
        _zk(rest[0], f"set {znode} written-without-{follower}")
        for member in rest:
            assert f"written-without-{follower}" in _zk(member, f"get {znode}"), member
    finally:
        _in(follower, "systemctl", "start", "zookeeper")
        _zk(next(m for m in MASTERS if m != follower), f"delete {znode}")
    wait_for(f"{follower} back as a follower", lambda: _zk_mode(follower) == "follower", 60)
