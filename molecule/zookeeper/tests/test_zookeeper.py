"""The ensemble as an operator checks it: one leader and two followers (srvr), a znode written
on one member is read on all, and with one member stopped the other two still serve."""

import time

SRVR = "bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && timeout 5 cat <&3'"
CLI = "/usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:2181"


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def _mode(host):
    out = host.run(SRVR).stdout
    return next((line.split(": ")[1] for line in out.splitlines() if line.startswith("Mode: ")), None)


def _others(host):
    from testinfra import get_host

    inventory = host.backend.ansible_inventory
    return {name: get_host(f"ansible://{name}?ansible_inventory={inventory}") for name in ("zk1", "zk2", "zk3")}


def test_the_unit_is_ours_and_runs_as_zookeeper(host):
    assert host.service("zookeeper").is_running and host.service("zookeeper").is_enabled
    assert "QuorumPeerMain" in host.check_output("systemctl show -p ExecStart zookeeper")
    assert host.process.get(comm="java").user == "zookeeper"
    assert host.file("/var/lib/zookeeper/myid").content_string.strip() == _name(host)[-1]
    assert "server.3=172.29.14.13:2888:3888" in host.file("/etc/zookeeper/dcos/zoo.cfg").content_string


def test_one_leader_two_followers_and_replication_and_quorum(host):
    if _name(host) != "zk1":
        return  # an ensemble-wide check, run once
    members = _others(host)
    modes = sorted(_mode(m) for m in members.values())
    assert modes == ["follower", "follower", "leader"], modes

    members["zk1"].check_output(f"{CLI} create /dcos-molecule written-on-zk1 2>&1")
    for name, member in members.items():
        assert "written-on-zk1" in member.check_output(f"{CLI} get /dcos-molecule 2>&1"), name

    follower = next(name for name, m in members.items() if _mode(m) == "follower")
    members[follower].check_output("systemctl stop zookeeper")
    try:
        rest = {n: m for n, m in members.items() if n != follower}
        deadline = time.time() + 60
        while time.time() < deadline and sorted(_mode(m) or "" for m in rest.values()) != ["follower", "leader"]:
            time.sleep(2)
        assert sorted(_mode(m) for m in rest.values()) == ["follower", "leader"]
        writer = next(iter(rest.values()))
        writer.check_output(f"{CLI} set /dcos-molecule written-without-{follower} 2>&1")
        for name, member in rest.items():
            assert f"written-without-{follower}" in member.check_output(f"{CLI} get /dcos-molecule 2>&1"), name
    finally:
        members[follower].check_output("systemctl start zookeeper")
