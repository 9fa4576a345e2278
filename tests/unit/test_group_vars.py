"""playbooks/group_vars/all.yml, evaluated by Ansible itself for the example config: the
role inputs of the zookeeper, mesos and marathon phases are what config.cfg says, and the
units they give pass only flags the real programs know."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from installer.config import load_config
from installer.rundir import create_run_dir
from installer.secrets import ensure_secrets
from tests.unit.test_role_flags import (
    AGENT_FLAGS,
    MASTER_FLAGS,
    exec_start,
    mesos_flags,
    render_unit,
    unknown_marathon,
    unknown_mesos,
)

TOP = Path(__file__).resolve().parents[2]
INPUTS = [
    "mesos_master_zk", "mesos_master_ip", "mesos_master_port", "mesos_master_hostname", "mesos_master_cluster",
    "mesos_master_work_dir", "mesos_master_expected_agents", "mesos_master_adopt",
    "mesos_agent_master", "mesos_agent_ip", "mesos_agent_port", "mesos_agent_containerizers",
    "mesos_agent_attributes", "mesos_agent_resources", "mesos_agent_executor_registration_timeout",
    "mesos_agent_docker_registry", "mesos_agent_work_dir",
    "marathon_master", "marathon_zk", "marathon_http_port", "marathon_hostname", "marathon_heap_mb",
    "marathon_username", "marathon_password", "zookeeper_servers",
    "haproxy_bind_address", "haproxy_frontends", "haproxy_stats_port", "haproxy_stats_password",
    "keepalived_vip", "keepalived_vip_prefix", "keepalived_address", "keepalived_peers", "keepalived_auth_pass",
    "keepalived_router_id", "keepalived_unicast", "haproxy_extra_frontends",
    "consul_server", "consul_servers", "consul_bind_address", "consul_client_address", "consul_gossip_key",
    "consul_acl_management_token", "consul_services", "consul_datacenter",
    "mysql_role", "mysql_master_host", "mysql_port", "mysql_server_address", "mysql_root_password",
    "mysql_replication_password", "cadvisor_port", "zookeeper_tarball", "consul_zip", "cadvisor_binary",
]
PLAYBOOK = """
- hosts: all
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out }}/{{ inventory_hostname }}.json"
        content: "{{ dict(names | zip(query('vars', *names))) | to_json }}"
      delegate_to: localhost
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("group-vars")
    text = (TOP / "config.cfg.example").read_text()
    marathon_user = "# HTTP basic auth user. Default: empty (no auth).\nusername ="
    assert marathon_user in text
    text = text.replace(marathon_user, marathon_user + " ops")
    text = text.replace("attributes =\n", "attributes = rack:r1;zone:a\n", 1)
    text = text.replace("extra_frontends =\n", "extra_frontends = grafana:3000:grafana:/api/health\n", 1)
    (tmp / "config.cfg").write_text(text)
    cfg = load_config(tmp / "config.cfg")
    secrets_file, secrets = ensure_secrets(cfg, tmp / "runs")
    run = create_run_dir(cfg, tmp / "runs", secrets_file)
    (tmp / "play").mkdir()
    (tmp / "play" / "group_vars").symlink_to(TOP / "playbooks" / "group_vars")
    (tmp / "play" / "probe.yml").write_text(PLAYBOOK)
    out = tmp / "out"
    out.mkdir()
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp / "facts"))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(run.path / "inventory" / "hosts.yml"),
         "-e", f"@{run.path / 'env' / 'extravars'}", "-e", json.dumps({"out": str(out), "names": INPUTS}),
         str(tmp / "play" / "probe.yml")],
        env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    values = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return values, secrets


ZK = "10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181"


def test_mesos_and_marathon_inputs_follow_the_config(inputs):
    values, secrets = inputs
    master = values["master2"]
    assert master["mesos_master_zk"] == f"zk://{ZK}/mesos"
    assert master["mesos_master_ip"] == "10.0.0.12" and master["mesos_master_hostname"] == "master2"
    assert master["mesos_master_cluster"] == "demo"
    assert master["mesos_master_expected_agents"] == ["10.0.0.21:5051", "10.0.0.22:5051"]
    assert master["marathon_master"] == f"zk://{ZK}/mesos" and master["marathon_zk"] == f"zk://{ZK}/marathon"
    assert (master["marathon_username"], master["marathon_password"]) == ("ops", secrets["marathon_password"])
    agent = values["agent1"]
    assert agent["mesos_agent_master"] == f"zk://{ZK}/mesos"
    assert agent["mesos_agent_ip"] == "10.0.0.21"
    assert agent["mesos_agent_containerizers"] == ["docker", "mesos"]
    assert agent["mesos_agent_attributes"] == "rack:r1;zone:a"
    assert agent["mesos_agent_docker_registry"] == "https://10.0.0.5:5000"
    assert [(s["id"], s["ip"]) for s in master["zookeeper_servers"]] == [
        (1, "10.0.0.11"), (2, "10.0.0.12"), (3, "10.0.0.13")]


def test_lb_inputs_follow_the_config(inputs):
    values, secrets = inputs
    lb = values["master2"]
    assert lb["haproxy_bind_address"] == lb["keepalived_vip"] == "10.0.0.100"
    assert int(lb["keepalived_vip_prefix"]) == 24
    assert lb["keepalived_address"] == "10.0.0.12"
    assert lb["keepalived_peers"] == ["10.0.0.11", "10.0.0.12"]
    assert (int(lb["keepalived_router_id"]), lb["keepalived_unicast"]) == (51, True)
    assert lb["keepalived_auth_pass"] == secrets["keepalived_auth_pass"]
    assert lb["haproxy_stats_password"] == secrets["haproxy_stats_password"]
    ports = {fe["name"]: int(fe["port"]) for fe in lb["haproxy_frontends"]}
    assert ports == {"marathon": 80, "mesos": 8050, "consul": 8550}
    assert lb["haproxy_extra_frontends"] == [{"name": "grafana", "port": 3000, "service": "grafana",
                                              "check": "/api/health"}]


def test_consul_inputs_follow_the_config(inputs):
    values, secrets = inputs
    assert [h for h, v in sorted(values.items()) if v["consul_server"]] == ["master1", "master2", "master3"]
    master, agent, installer = values["master1"], values["agent1"], values["installer"]
    assert master["consul_servers"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert master["consul_client_address"] == "127.0.0.1 10.0.0.11" and agent["consul_client_address"] == "127.0.0.1"
    assert master["consul_gossip_key"] == secrets["consul_gossip_key"]
    assert master["consul_acl_management_token"] == secrets["consul_management_token"]
    services = {h: {s.get("id", s["name"]): s for s in v["consul_services"]} for h, v in values.items()}
    assert set(services["master1"]) == {"zookeeper", "mesos-master", "mesos-master-leader", "marathon", "consul-http",
                                        "cadvisor"}
    leader = services["master1"]["mesos-master-leader"]
    assert (leader["name"], leader["tags"]) == ("mesos-master", ["leader"])  # leader.mesos-master.service.consul
    # exit 2 (critical) on a follower: a script check's exit 1 is only a warning, which Consul's
    # DNS still answers with
    assert leader["check"]["args"][-1] == \
        "curl -sf http://10.0.0.11:5050/metrics/snapshot | grep -q master/elected.:1 || exit 2"
    assert set(services["agent1"]) == {"mesos-agent", "mysql-master", "mysql-vip", "cadvisor"}
    assert set(services["agent2"]) == {"mesos-agent", "mysql-slave", "mysql-vip", "cadvisor"}
    assert services["agent2"]["mysql-vip"]["check"]["args"] == ["/usr/local/bin/dcos-mysql-vip-check"]
    assert set(services["installer"]) == {"registry", "repo"}
    assert services["master1"]["marathon"]["check"]["http"] == "http://10.0.0.11:8080/ping"
    assert services["agent1"]["mesos-agent"]["port"] == 5051
    assert installer["consul_datacenter"] == "dc1"


def test_mysql_inputs_follow_the_config(inputs):
    values, secrets = inputs
    master, slave = values["agent1"], values["agent2"]
    assert (master["mysql_role"], slave["mysql_role"]) == ("master", "slave")
    assert slave["mysql_master_host"] == "10.0.0.21"
    assert slave["mysql_server_address"] == "10.0.0.22"
    assert master["mysql_root_password"] == secrets["mysql_root_password"]
    assert slave["mysql_replication_password"] == secrets["mysql_replication_password"]


def test_the_units_the_phases_write_pass_only_known_flags(inputs):
    values, _ = inputs
    master = {k: v for k, v in values["master1"].items() if k.startswith("mesos_master_")}
    words = exec_start(render_unit("mesos_master", "dcos-mesos-master.service.j2", **master))
    assert unknown_mesos(mesos_flags(words), MASTER_FLAGS) == []
    agent = {k: v for k, v in values["agent1"].items() if k.startswith("mesos_agent_")}
    words = exec_start(render_unit("mesos_agent", "dcos-mesos-agent.service.j2", **agent))
    assert unknown_mesos(mesos_flags(words), AGENT_FLAGS) == []
    marathon = {k: v for k, v in values["master1"].items() if k.startswith("marathon_")}
    words = exec_start(render_unit("marathon", "dcos-marathon.service.j2", **marathon))
    assert unknown_marathon(words) == []
    assert "--hostname=master1" in words
