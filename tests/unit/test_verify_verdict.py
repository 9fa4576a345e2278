"""The verify phase's judge (plugins/filter/verify.py): what the hosts found, judged once for
the cluster, every problem named in one list. The healthy cluster passes with its summary; each
broken fact of the e2e's negative case is named as the operator reads it; a master that failed
its own check earlier is named as not asked, never as a member down."""

import copy
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "collections"))
from ansible_collections.dcos.installer.plugins.filter.verify import FilterModule, verdict  # noqa: E402

MASTERS = ["master1", "master2", "master3"]
IPS = {"master1": "10.0.0.11", "master2": "10.0.0.12", "master3": "10.0.0.13"}
CONTEXT = {"masters": MASTERS, "agent_port": 5051, "domain": "consul", "vip": "10.0.0.250",
           "lb": ["master1", "master2"], "mysql_slave": "agent2"}
SLAVE_STATUS = "*** 1. row ***\n   Slave_IO_Running: Yes\n  Slave_SQL_Running: Yes\n  Last_Error: \n" \
               "  Seconds_Behind_Master: 0\n"


def _health():
    checks = [{"Node": h, "CheckID": f"service:{s}", "ServiceID": s, "Status": "passing"}
              for h in MASTERS for s in ("zookeeper", "marathon")]
    checks += [{"Node": "master1", "CheckID": "service:mesos-master-leader", "ServiceID": "mesos-master-leader",
                "Status": "passing"},
               {"Node": "master2", "CheckID": "service:mesos-master-leader", "ServiceID": "mesos-master-leader",
                "Status": "critical"},
               {"Node": "agent1", "CheckID": "service:mysql-vip", "ServiceID": "mysql-vip", "Status": "passing"}]
    return {"json": checks}


def _master(name, mode, elected):
    d = {"name": name, "dcos_ip": IPS[name],
         "__verify_zk": {"stdout": f"Zookeeper version: 3.8\nMode: {mode}\n"},
         "__verify_mesos": {"json": {"master/elected": elected, "registrar/log/recovered": 1.0,
                                     "registrar/log/ensemble_size": 3.0}},
         "__verify_marathon": {"json": {"leader": "master3:8080"}},
         "__verify_consul": {"results": [{"json": "10.0.0.11:8300"}, {"json": ["a", "b", "c"]}]},
         "__verify_dns": {"results": [
             {"resolve": "registry.service.consul", "want": ["10.0.0.10"], "addresses": ["10.0.0.10"]},
             {"resolve": "zookeeper.service.consul", "want": list(IPS.values()), "addresses": list(IPS.values())},
             {"resolve": "consul.service.consul", "want": [f"10.0.0.{i}" for i in range(10, 16)],
              "addresses": ["10.0.0.12", "10.0.0.15", "10.0.0.10"]}]},
         "__verify_leader_dns": {"stdout_lines": ["10.0.0.11 STREAM leader.mesos-master.service.consul",
                                                  "10.0.0.11 DGRAM", "10.0.0.11 RAW"]},
         "__verify_health": _health()}
    if elected:
        d["__verify_agents"] = {"json": {"slaves": [
            {"pid": "slave(1)@10.0.0.21:5051", "active": True}, {"pid": "slave(1)@10.0.0.22:5051", "active": True}]}}
    else:
        d["__verify_agents"] = {"skipped": True}
    return d


@pytest.fixture()
def seen():
    return {"masters": [_master("master1", "follower", 1.0), _master("master2", "follower", 0.0),
                        _master("master3", "leader", 0.0)],
            "agent_ips": ["10.0.0.21", "10.0.0.22"],
            "lb_addresses": ["2: eth0    inet 10.0.0.11/24 brd\n2: eth0    inet 10.0.0.250/24 scope global",
                             "2: eth0    inet 10.0.0.12/24 brd"],
            "lb_unasked": [],
            "mysql": {"master_ip": "10.0.0.21", "master_gtid": "0-1-7|", "vip": "10.0.0.21",
                      "slave_gtid": "0-1-7|0-1-7", "replica": SLAVE_STATUS}}


def test_a_whole_cluster_passes_with_its_summary(seen):
    found = verdict(seen, CONTEXT)
    assert found["problems"] == []
    assert found["summary"] == ("ZooKeeper leader ['master3']; Mesos leader ['master1'] with 2 agents; Marathon "
                                "leader ['master3:8080']; Consul leader ['10.0.0.11:8300'], 9 checks; 3 names "
                                "resolve to their hosts")
    assert FilterModule().filters()["verify_verdict"] is verdict


def test_every_broken_fact_is_named_at_once_and_an_unasked_master_is_not_counted_down(seen):
    """The e2e's negative case: master3 failed its own check (not asked), the VIP on both lb
    hosts, a service at a foreign address, the slave's SQL thread stopped under a write, a
    singleton passing on no node."""
    seen["masters"][2] = {"name": "master3", "dcos_ip": IPS["master3"]}  # failed above: nothing of it
    seen["masters"][0]["__verify_zk"]["stdout"] = "Mode: leader\n"
    seen["lb_addresses"][1] += "\n2: eth0    inet 10.0.0.250/24 scope global"
    dns = seen["masters"][0]["__verify_dns"]["results"][0]
    dns["addresses"] = ["10.0.0.10", "10.0.0.200"]
    seen["mysql"].update(master_gtid="0-1-8|", replica=SLAVE_STATUS.replace("SQL_Running: Yes", "SQL_Running: No"))
    for d in seen["masters"][:2]:
        d["__verify_health"]["json"] = [c for c in d["__verify_health"]["json"] if c["ServiceID"] != "mysql-vip"]
    problems = verdict(seen, CONTEXT)["problems"]
    text = "; ".join(problems)
    assert "zookeeper: modes" not in text and "marathon: leaders" not in text, text
    assert "vip: 10.0.0.250 is held by 2 lb hosts (master1, master2), split brain" in text
    assert "dns: registry.service.consul resolves to 10.0.0.10,10.0.0.200, expected 10.0.0.10" in text
    assert ("mysql: replication on agent2: master at '0-1-8', slave at '0-1-7'; Slave_IO_Running: Yes, "
            "Slave_SQL_Running: No, Last_Error:, Seconds_Behind_Master: 0") in text
    assert "consul: mysql-vip passes on 0 nodes, expected 1" in text
    assert "consul: 3 raft peers" not in text  # three peers for three masters
    assert len(problems) == 4, problems


@pytest.mark.parametrize("break_it, said", [
    (lambda s: s["masters"][2]["__verify_zk"].update(stdout=""), "zookeeper: modes {'master1': 'follower', "
     "'master2': 'follower', 'master3': 'down'}, expected one leader and the rest followers"),
    (lambda s: s["masters"][1]["__verify_mesos"]["json"].update({"master/elected": 1}),
     "mesos: masters that lead ['master1', 'master2'], expected exactly one"),
    (lambda s: [d["__verify_mesos"]["json"].update({"master/elected": 0}) for d in s["masters"]],
     "mesos: masters that lead [], expected exactly one"),
    (lambda s: s["masters"][0]["__verify_mesos"]["json"].update({"registrar/log/ensemble_size": 1}),
     "mesos: the leader's replicated log: recovered 1.0, 1 replicas, expected recovered and at least 2"),
    (lambda s: s["masters"][0]["__verify_agents"]["json"]["slaves"][1].update(active=False),
     "mesos: agents not active on the leader: 10.0.0.22:5051"),
    (lambda s: s["masters"][1]["__verify_marathon"].update(json={"message": "unauthorized"}),
     "marathon: leaders named ['master3:8080', 'none'], expected one named by every master"),
    (lambda s: [d["__verify_consul"]["results"][0].update(json="") for d in s["masters"]],
     "consul: leaders named [''], expected one"),
    (lambda s: s["masters"][0]["__verify_consul"]["results"][1].update(json=["a", "b"]),
     "consul: 2 raft peers, expected 3"),
    (lambda s: s["masters"][0]["__verify_health"]["json"][0].update(Status="critical"),
     "consul: check service:zookeeper on master1 is critical"),
    (lambda s: [d.pop("__verify_health") for d in s["masters"]], "consul: no answer for the health of the checks"),
    (lambda s: s["masters"][0]["__verify_dns"]["results"][2].update(addresses=["10.0.0.12", "10.0.0.99"]),
     "dns: consul.service.consul resolves to 10.0.0.12,10.0.0.99, expected 10.0.0.10,10.0.0.11,10.0.0.12,"
     "10.0.0.13,10.0.0.14,10.0.0.15"),
    (lambda s: s["masters"][0]["__verify_dns"]["results"][1].update(addresses=[]),
     "dns: zookeeper.service.consul resolves to nothing, expected 10.0.0.11,10.0.0.12,10.0.0.13"),
    (lambda s: s["masters"][0]["__verify_leader_dns"].update(stdout_lines=["10.0.0.12 STREAM x"]),
     "dns: leader.mesos-master.service.consul resolves to 10.0.0.12, expected the leader 10.0.0.11"),
    (lambda s: s.update(lb_addresses=["", ""], lb_unasked=["master2"]),
     "vip: 10.0.0.250 is held by 0 lb hosts (none) (not asked: master2, failed above)"),
    (lambda s: s["mysql"].update(vip=""), "dns: mysql-vip.service.consul resolves to nothing, expected the master "
     "10.0.0.21"),
    (lambda s: s["mysql"].update(master_gtid=""), "mysql: replication on agent2: master at '', slave at '0-1-7'"),
])
def test_each_broken_fact_alone_is_the_one_problem(seen, break_it, said):
    """One fact broken, one problem named; where one fact implies others, each of them too (no
    leader: no leader's log, no leader's name; no health list: no singleton passing)."""
    broken = copy.deepcopy(seen)
    break_it(broken)
    problems = verdict(broken, CONTEXT)["problems"]
    implied = {"mesos: masters that lead []": ["mesos: the leader's replicated log: recovered ?, ? replicas",
                                               "dns: leader.mesos-master.service.consul resolves to 10.0.0.11, "
                                               "expected the leader none"],
               "consul: no answer": ["consul: mesos-master-leader passes on 0 nodes",
                                     "consul: mysql-vip passes on 0 nodes"]}
    wanted = [said, *next((v for k, v in implied.items() if said.startswith(k)), [])]
    assert len(problems) == len(wanted), problems
    assert all(any(p.startswith(w) for p in problems) for w in wanted), problems


def test_one_master_without_lb_or_mysql_is_judged_as_standalone(seen):
    one = {"masters": [_master("master1", "standalone", 1)], "agent_ips": seen["agent_ips"], "lb_addresses": [],
           "lb_unasked": [], "mysql": {}}
    one["masters"][0]["__verify_consul"]["results"][1]["json"] = ["a"]
    one["masters"][0]["__verify_mesos"]["json"]["registrar/log/ensemble_size"] = 1
    one["masters"][0]["__verify_health"]["json"] = [c for c in _health()["json"] if c["ServiceID"] !=
                                                     "mysql-vip" and c["Node"] == "master1"]
    context = {**CONTEXT, "masters": ["master1"], "lb": [], "vip": None, "mysql_slave": None}
    assert verdict(one, context)["problems"] == []
