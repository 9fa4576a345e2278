"""playbooks/group_vars/all.yml, evaluated by Ansible itself for the example config: the
role inputs of the zookeeper, mesos and marathon phases are what config.cfg says, and the
units they give pass only flags the real programs know."""

import base64
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
    "mesos_master_work_dir", "dcos_mesos_expected_agents", "mesos_master_adopt",
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
    "mesos_master_quorum", "mesos_master_zk_credentials", "mesos_master_credentials", "mesos_master_http_credentials",
    "mesos_agent_zk_credentials", "mesos_agent_credential", "mesos_agent_http_credentials", "mesos_agent_docker_config",
    "marathon_zk_credentials", "marathon_mesos_principal", "marathon_mesos_secret", "marathon_http_address",
    "zookeeper_client_address", "zookeeper_acl_username", "zookeeper_acl_password", "zookeeper_acl_nodes",
    "consul_bootstrap_expect", "registry_username", "registry_password", "registry_bind_address",
    "haproxy_tls_generate", "haproxy_tls_cert_file", "haproxy_tls_key_file", "haproxy_tls_names",
    "haproxy_http_redirect_port", "haproxy_stats_admin", "common_firewall_rules", "mysql_bind_address",
    "cadvisor_listen_address", "repo_bind_address", "membership_hosts_entries", "membership_firewall_sources",
    "membership_firewall",
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
    marathon_user = "# User of the API and UI (HTTP basic auth, always on). Default: admin.\nusername = admin"
    assert marathon_user in text
    text = text.replace(marathon_user, marathon_user.replace("= admin", "= ops"))
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
    values["_tmp"] = tmp
    return values, secrets


ZK = "10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181"


def test_mesos_and_marathon_inputs_follow_the_config(inputs):
    values, secrets = inputs
    master = values["master2"]
    assert master["mesos_master_zk"] == f"zk://{ZK}/mesos"
    assert master["mesos_master_ip"] == "10.0.0.12" and master["mesos_master_hostname"] == "master2"
    assert master["mesos_master_cluster"] == "demo"
    assert master["dcos_mesos_expected_agents"] == ["10.0.0.21:5051", "10.0.0.22:5051"]
    assert master["marathon_master"] == f"zk://{ZK}/mesos" and master["marathon_zk"] == f"zk://{ZK}/marathon"
    assert (master["marathon_username"], master["marathon_password"]) == ("ops", secrets["marathon_password"])
    # Counted from config.cfg's masters: --limit cannot shrink it.
    assert int(master["mesos_master_quorum"]) == 2 and int(values["master1"]["consul_bootstrap_expect"]) == 3
    # Secure by default: ZooKeeper digest, framework and agent principals, HTTP users.
    zk_auth = f"dcos:{secrets['zookeeper_password']}"
    assert master["mesos_master_zk_credentials"] == zk_auth == master["marathon_zk_credentials"]
    assert master["mesos_master_credentials"] == [
        {"principal": "dcos-agent", "secret": secrets["mesos_agent_secret"]},
        {"principal": "marathon", "secret": secrets["mesos_marathon_secret"]}]
    assert master["mesos_master_http_credentials"] == [{"principal": "admin", "secret": secrets["mesos_password"]}]
    assert (master["marathon_mesos_principal"], master["marathon_mesos_secret"]) == (
        "marathon", secrets["mesos_marathon_secret"])
    assert master["zookeeper_client_address"] == "10.0.0.12" and master["marathon_http_address"] == "10.0.0.12"
    assert master["zookeeper_acl_username"] == "dcos"
    assert master["zookeeper_acl_password"] == secrets["zookeeper_password"]
    assert {n["path"]: n["world"] for n in master["zookeeper_acl_nodes"]} == {"/": "r", "/mesos": "r", "/marathon": ""}
    agent = values["agent1"]
    assert agent["mesos_agent_master"] == f"zk://{ZK}/mesos"
    assert agent["mesos_agent_zk_credentials"] == zk_auth
    assert agent["mesos_agent_credential"] == {"principal": "dcos-agent", "secret": secrets["mesos_agent_secret"]}
    docker_config = json.loads(agent["mesos_agent_docker_config"])
    assert base64.b64decode(docker_config["auths"]["10.0.0.5:5000"]["auth"]).decode() == \
        f"dcos:{secrets['registry_password']}"
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
    assert ports == {"marathon": 443, "mesos": 8050, "consul": 8550}
    assert int(lb["haproxy_http_redirect_port"]) == 80 and lb["haproxy_stats_admin"] is False
    # HTTPS on the VIP by default, with a certificate the cluster CA issues for the VIP.
    assert lb["haproxy_tls_generate"] is True and lb["haproxy_tls_cert_file"].endswith("registry-pki/vip.crt")
    assert lb["haproxy_tls_names"] == ["10.0.0.100", "10.0.0.11", "10.0.0.12"]
    # Marathon asks for credentials on /ping too: HAProxy's check sends them.
    marathon = next(fe for fe in lb["haproxy_frontends"] if fe["name"] == "marathon")
    assert marathon["check_headers"]["Authorization"] == "Basic " + base64.b64encode(
        f"ops:{secrets['marathon_password']}".encode()).decode()
    assert lb["haproxy_extra_frontends"] == [{"name": "grafana", "port": 3000, "service": "grafana",
                                              "check": "/api/health"}]


def test_consul_inputs_follow_the_config(inputs):
    values, secrets = inputs
    assert [h for h, v in sorted(values.items()) if h != "_tmp" and v["consul_server"]] == [
        "master1", "master2", "master3"]
    master, agent, installer = values["master1"], values["agent1"], values["installer"]
    assert master["consul_servers"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert master["consul_client_address"] == "127.0.0.1 10.0.0.11" and agent["consul_client_address"] == "127.0.0.1"
    assert master["consul_gossip_key"] == secrets["consul_gossip_key"]
    assert master["consul_acl_management_token"] == secrets["consul_management_token"]
    services = {h: {s.get("id", s["name"]): s for s in v["consul_services"]} for h, v in values.items() if h != "_tmp"}
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
    assert services["master1"]["marathon"]["check"]["header"]["Authorization"][0].startswith("Basic ")
    # Consul gets no key of the catalogue's own, and no other check the Marathon credentials.
    assert all("auth" not in s for v in services.values() for s in v.values())
    assert [n for n, s in services["master1"].items() if "header" in s["check"]] == ["marathon"]
    assert services["master1"]["zookeeper"]["check"]["tcp"] == "10.0.0.11:2181"
    assert services["agent1"]["mesos-agent"]["port"] == 5051
    assert installer["consul_datacenter"] == "dc1"


def test_every_host_is_told_the_same_cluster_hosts_and_firewall_sets(inputs):
    """Role membership's inputs: every host named in config.cfg for /etc/hosts, and who each
    audience of the firewall is; the same on every host, and no host's rules name an address
    (common's input does not change when a host is added)."""
    values, _ = inputs
    hosts = {name: v for name, v in values.items() if not name.startswith("_")}
    entries = hosts["master1"]["membership_hosts_entries"]
    assert {e["name"] for e in entries} == set(hosts) and all(e["ip"].startswith("10.0.0.") for e in entries)
    assert hosts["master1"]["membership_firewall_sources"]["masters"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    for name, value in hosts.items():
        assert value["membership_hosts_entries"] == entries, name
        assert value["membership_firewall_sources"] == hosts["master1"]["membership_firewall_sources"], name
        assert value["membership_firewall"] == "open-ports"
        assert all("sources" not in rule for rule in value["common_firewall_rules"]), name


def test_mysql_inputs_follow_the_config(inputs):
    values, secrets = inputs
    master, slave = values["agent1"], values["agent2"]
    assert (master["mysql_role"], slave["mysql_role"]) == ("master", "slave")
    assert slave["mysql_master_host"] == "10.0.0.21"
    assert slave["mysql_server_address"] == "10.0.0.22"
    assert master["mysql_root_password"] == secrets["mysql_root_password"]
    assert slave["mysql_replication_password"] == secrets["mysql_replication_password"]


def test_the_units_the_phases_write_pass_only_known_flags(inputs):
    values, secrets = inputs
    master = {k: v for k, v in values["master1"].items() if k.startswith("mesos_master_")}
    master_words = exec_start(render_unit("mesos_master", "dcos-mesos-master.service.j2", **master))
    assert unknown_mesos(mesos_flags(master_words), MASTER_FLAGS) == []
    agent = {k: v for k, v in values["agent1"].items() if k.startswith("mesos_agent_")}
    agent_words = exec_start(render_unit("mesos_agent", "dcos-mesos-agent.service.j2", **agent))
    assert unknown_mesos(mesos_flags(agent_words), AGENT_FLAGS) == []
    marathon = {k: v for k, v in values["master1"].items() if k.startswith("marathon_")}
    marathon_words = exec_start(render_unit("marathon", "dcos-marathon.service.j2", **marathon))
    assert unknown_marathon(marathon_words) == []
    assert "--hostname=master1" in marathon_words
    # Authentication on, with every credential in a root-only file: none on a command line
    # (ps, /master/flags and Marathon's /v2/info would show it).
    assert {"--authenticate_frameworks=true", "--authenticate_agents=true", "--authenticate_http_readwrite=true",
            "--credentials=/etc/dcos/mesos-master/credentials.json",
            "--zk=file:///etc/dcos/mesos-master/zk"} <= set(master_words)
    assert {"--credential=/etc/dcos/mesos-agent/credential.json", "--authenticate_http_readwrite=true",
            "--master=file:///etc/dcos/mesos-agent/master"} <= set(agent_words)
    assert {"--mesos_authentication", "--mesos_authentication_principal=marathon",
            "--mesos_authentication_secret_file=/etc/marathon/mesos-secret"} <= set(marathon_words)
    assert not [w for w in marathon_words if w.startswith(("--zk", "--master"))]  # in the environment file
    units = " ".join(master_words + agent_words + marathon_words)
    assert [name for name, value in secrets.items() if value in units] == []


def test_limit_to_one_master_gives_it_the_values_of_a_full_run(inputs, tmp_path):
    """--limit master2 must not shrink what is counted over the cluster (quorum,
    bootstrap_expect, the ZooKeeper ensemble, retry_join, the MySQL pair, NTP allow lists,
    /etc/hosts): every variable of group_vars/all.yml is the same as in a full run."""
    import yaml

    values, _ = inputs
    run_dir = next(p for p in (values["_tmp"] / "runs").iterdir() if p.is_dir() and (p / "inventory").is_dir())
    names = sorted(yaml.safe_load((TOP / "playbooks" / "group_vars" / "all.yml").read_text()))
    out = {}
    for limit in (None, "master2"):
        folder = tmp_path / (limit or "all")
        folder.mkdir()
        env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "facts"))
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(run_dir / "inventory" / "hosts.yml"),
             "-e", f"@{run_dir / 'env' / 'extravars'}", "-e", json.dumps({"out": str(folder), "names": names}),
             *(["--limit", limit] if limit else []), str(values["_tmp"] / "play" / "probe.yml")],
            env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        out[limit] = json.loads((folder / "master2.json").read_text())
    differing = [name for name in names if out[None][name] != out["master2"][name]]
    assert differing == []
    assert int(out["master2"]["mesos_master_quorum"]) == 2 and int(out["master2"]["consul_bootstrap_expect"]) == 3
