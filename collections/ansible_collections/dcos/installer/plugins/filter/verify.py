# Runs on the controller: the verify phase's judge (playbooks/verify.yml, its last play).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: verify_verdict
short_description: Judge what the verify phase's hosts found, naming every problem at once
description:
  - Takes what the last play of playbooks/verify.yml collected from every host (C(__seen)) and
    returns C(problems) (a list of sentences, empty when the cluster is whole) and C(summary).
  - What concerns one host fails that host earlier in the playbook; this judges what concerns
    the cluster (leaders, the replicated log, agents, Consul, names, the VIP, MySQL).
  - A master that failed a check of its own earlier was not asked (no C(__verify_zk)): it is
    named as not asked, never counted again as down or leaderless.
  - Written in Python rather than as play vars: play vars are templated again at each use, and
    the Jinja of this judge took about 2.7 s of controller time on every run.
positional: context
options:
  _input:
    description: What the hosts found (masters, agent_ips, lb_addresses, lb_unasked, mysql).
    type: dict
    required: true
  context:
    description: >-
      masters (names, in config order), agent_port, domain, vip (the VIP's address or none),
      lb (the lb hosts, in the order of lb_addresses), mysql_slave (its name, or none without MySQL).
    type: dict
    required: true
"""

import re

try:
    from ansible.utils.unsafe_proxy import wrap_var
except ImportError:  # unit tests without Ansible's controller code
    def wrap_var(value):
        return value


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _json_dict(result):
    """The JSON object a check read, or {} (no answer, no JSON, not an object)."""
    found = (result or {}).get("json")
    return found if isinstance(found, dict) else {}


def _first_ip(lines):
    return _unique([line.split()[0] for line in lines if line.split()])


def verdict(seen, context):
    """Every problem of the cluster in one list, and the one-line summary of a whole one."""
    masters = list(context["masters"])
    m = seen.get("masters", [])
    once = next((d for d in m if "__verify_dns" in d), {})
    unasked = [d["name"] for d in m if "__verify_zk" not in d]
    note = (" (not asked: " + ", ".join(unasked) + ", failed above)") if unasked else ""
    modes = []
    for d in m:
        out = (d["__verify_zk"] or {}).get("stdout", "") if "__verify_zk" in d else "Mode: unasked"
        found = re.search(r"Mode: (\w+)", out or "")
        modes.append(found.group(1) if found else "down")
    mesos = [_json_dict(d.get("__verify_mesos")) for d in m]
    mesos_leaders = [name for name, j in zip(masters, mesos) if j.get("master/elected", 0) == 1]
    mesos_log = next((j for j in mesos if j.get("master/elected") == 1), {})
    agents = next((d["__verify_agents"]["json"] for d in m
                   if isinstance(d.get("__verify_agents"), dict) and "json" in d["__verify_agents"]), {"slaves": []})
    active = [re.sub(r"^[^@]*@", "", s.get("pid", "")) for s in (agents or {}).get("slaves", []) if s.get("active")]
    missing = [a for a in _unique("%s:%s" % (ip, context["agent_port"]) for ip in seen.get("agent_ips", []))
               if a not in active]
    marathon = _unique(_json_dict(d["__verify_marathon"]).get("leader", "none") for d in m if "__verify_marathon" in d)
    consul = [d for d in m if "__verify_consul" in d]
    consul_leaders = _unique(((d["__verify_consul"].get("results") or [{}])[0]).get("json", "") for d in consul)
    peers = (((consul[0]["__verify_consul"].get("results") or [{}, {}])[-1] if consul else {}) or {}).get("json", [])
    mysql = context.get("mysql_slave") is not None
    singletons = ["mesos-master-leader"] + (["mysql-vip"] if mysql else [])
    checks = (once.get("__verify_health") or {}).get("json", []) or []
    leader_ip = next((d["dcos_ip"] for d, j in zip(m, mesos) if j.get("master/elected", 0) == 1), "none")
    vip = context.get("vip") or "none"
    holders = [lb for lb, addresses in zip(context.get("lb", []), seen.get("lb_addresses", []))
               if re.search("inet " + re.escape(vip) + "/", addresses or "")]
    p = []
    quorum = len(masters) // 2 + 1
    if (modes.count("leader") != (1 if len(masters) > 1 else 0)
            or [x for x in modes if x not in ("leader", "follower", "standalone", "unasked")]):
        p.append("zookeeper: modes %s, expected one leader and the rest followers%s"
                 % (dict(zip(masters, modes)), note))
    if len(mesos_leaders) != 1:
        p.append("mesos: masters that lead %s, expected exactly one%s" % (mesos_leaders, note))
    if _int(mesos_log.get("registrar/log/recovered", 0)) != 1 or \
            _int(mesos_log.get("registrar/log/ensemble_size", 0)) < quorum:
        p.append("mesos: the leader's replicated log: recovered %s, %s replicas, expected recovered and at least %d"
                 % (mesos_log.get("registrar/log/recovered", "?"), mesos_log.get("registrar/log/ensemble_size", "?"),
                    quorum))
    if missing:
        p.append("mesos: agents not active on the leader: " + ", ".join(missing))
    if len(marathon) != 1 or "none" in marathon:
        p.append("marathon: leaders named %s, expected one named by every master%s" % (marathon, note))
    if len(consul_leaders) != 1 or consul_leaders[0] == "":
        p.append("consul: leaders named %s, expected one%s" % (consul_leaders, note))
    if len(peers or []) != len(masters):
        p.append("consul: %d raft peers, expected %d" % (len(peers or []), len(masters)))
    for c in checks:
        if c.get("ServiceID") not in singletons and c.get("Status") != "passing":
            p.append("consul: check %s on %s is %s" % (c.get("CheckID"), c.get("Node"), c.get("Status")))
    for s in singletons:
        n = len([c for c in checks if c.get("ServiceID") == s and c.get("Status") == "passing"])
        if n != 1:
            p.append("consul: %s passes on %d nodes, expected 1" % (s, n))
    if not checks:
        p.append("consul: no answer for the health of the checks")
    for r in (once.get("__verify_dns") or {}).get("results", []):
        want, got = sorted(set(r.get("want", []))), sorted(set(r.get("addresses", [])))
        if (len(want) <= 3 and got != want) or (len(want) > 3 and (not got or set(got) - set(want))):
            p.append("dns: %s resolves to %s, expected %s" % (r.get("resolve"), ",".join(got) or "nothing",
                                                              ",".join(want)))
    leader_dns = _first_ip((once.get("__verify_leader_dns") or {}).get("stdout_lines", []) or [])
    if leader_dns != [leader_ip]:
        p.append("dns: leader.mesos-master.service.%s resolves to %s, expected the leader %s"
                 % (context["domain"], ",".join(leader_dns) or "nothing", leader_ip))
    if context.get("lb") and len(holders) != 1:
        lb_unasked = seen.get("lb_unasked", [])
        p.append("vip: %s is held by %d lb hosts (%s)%s%s"
                 % (vip, len(holders), ", ".join(holders) or "none",
                    (" (not asked: " + ", ".join(lb_unasked) + ", failed above)") if lb_unasked else "",
                    ", split brain: see journalctl -u keepalived on them" if len(holders) > 1 else ""))
    if mysql:
        db = seen.get("mysql", {})
        replica = db.get("replica", "") or ""
        master_pos = ((db.get("master_gtid", "") or "").split("|") + [""])[0].strip()
        slave_pos = ((db.get("slave_gtid", "") or "").split("|") + ["", ""])[1].strip()
        if (not re.search(r"Slave_IO_Running. Yes", replica) or not re.search(r"Slave_SQL_Running. Yes", replica)
                or master_pos == "" or master_pos not in slave_pos.split(",")):
            said = re.findall(r"(?m)^\s*((?:Slave_\w+_Running|Last_\w*Error|Seconds_Behind_Master): .*)$", replica)
            p.append("mysql: replication on %s: master at '%s', slave at '%s'; %s"
                     % (context["mysql_slave"], master_pos, slave_pos, ", ".join(x.strip() for x in said)))
        mysql_vip = ((db.get("vip", "") or "").split() or ["nothing"])[0]
        if mysql_vip != db.get("master_ip"):
            p.append("dns: mysql-vip.service.%s resolves to %s, expected the master %s"
                     % (context["domain"], mysql_vip, db.get("master_ip")))
    summary = ("ZooKeeper leader %s; Mesos leader %s with %d agents; Marathon leader %s; Consul leader %s, %d checks; "
               "%d names resolve to their hosts"
               % ([n for n, x in zip(masters, modes) if x == "leader"], mesos_leaders, len(seen.get("agent_ips", [])),
                  marathon, consul_leaders, len(checks), len((once.get("__verify_dns") or {}).get("results", []))))
    return wrap_var({"problems": [str(x) for x in p], "summary": str(summary)})


class FilterModule(object):
    def filters(self):
        return {"verify_verdict": verdict}
