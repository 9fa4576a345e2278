"""The run directory handed to ansible-runner: inventory groups and host vars, extravars
without secrets, env, project link, runs/latest; secrets generated once and kept private."""

import base64
import stat
from pathlib import Path

import yaml

from installer.config import load_config
from installer.phases import PHASE_NAMES, select
from installer.rundir import create_run_dir
from installer.secrets import ensure_secrets

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"


def _run(tmp_path: Path):
    cfg = load_config(EXAMPLE)
    secrets_file, values = ensure_secrets(cfg, tmp_path)
    return cfg, create_run_dir(cfg, tmp_path, secrets_file), values


def test_inventory_has_the_design_groups_with_addresses(tmp_path):
    _, run, _ = _run(tmp_path)
    inv = yaml.safe_load((run.path / "inventory" / "hosts.yml").read_text())["all"]
    groups = {name: sorted(g["hosts"]) for name, g in inv["children"].items()}
    assert groups["installer"] == ["installer"]
    assert groups["masters"] == ["master1", "master2", "master3"]
    assert groups["agents"] == ["agent1", "agent2"]
    assert groups["lb"] == ["master1", "master2"]
    assert groups["cluster"] == ["agent1", "agent2", "master1", "master2", "master3"]
    assert groups["mysql_master"] == ["agent1"] and groups["mysql_slave"] == ["agent2"]
    assert inv["hosts"]["master2"]["ansible_host"] == "10.0.0.12"
    assert [inv["hosts"][m]["zookeeper_myid"] for m in ("master1", "master2", "master3")] == [1, 2, 3]
    assert inv["vars"]["ansible_user"] == "root" and inv["vars"]["ansible_become"] is True


def test_extravars_carry_the_config_but_no_secret(tmp_path):
    _, run, values = _run(tmp_path)
    text = (run.path / "env" / "extravars").read_text()
    extravars = yaml.safe_load(text)
    assert extravars["dcos"]["keepalived"]["vip_address"] == "10.0.0.100"
    assert extravars["dcos"]["keepalived"]["vip_prefix"] == 24
    assert extravars["dcos"]["zookeeper"]["client_port"] == 2181
    assert "root_password" not in extravars["dcos"]["mysql"]
    assert extravars["dcos_secrets_file"].endswith("secrets/demo.yml")
    everything = "".join(p.read_text() for p in run.path.rglob("*") if p.is_file())
    for value in values.values():
        assert value not in everything


def test_env_project_link_config_copy_and_latest(tmp_path):
    _, run, _ = _run(tmp_path)
    envvars = yaml.safe_load((run.path / "env" / "envvars").read_text())
    assert envvars["ANSIBLE_CONFIG"] == str(TOP / "ansible.cfg")
    assert envvars["ANSIBLE_ROLES_PATH"] == str(TOP / "roles")
    assert (run.path / "project").resolve() == TOP / "playbooks"
    assert (run.path / "config.cfg").read_text() == EXAMPLE.read_text()
    assert (tmp_path / "latest").resolve() == run.path
    _, second, _ = _run(tmp_path)
    assert second.path != run.path
    assert (tmp_path / "latest").resolve() == second.path


def test_secrets_are_generated_once_kept_private_and_reused(tmp_path):
    cfg = load_config(EXAMPLE)
    path, first = ensure_secrets(cfg, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(first["consul_gossip_key"])) == 32
    assert len(first["keepalived_auth_pass"]) == 8
    assert {"mysql_root_password", "mysql_replication_password", "haproxy_stats_password"} <= set(first)
    _, second = ensure_secrets(cfg, tmp_path)
    assert second == first


def test_a_secret_given_in_the_config_wins_and_is_not_stored(tmp_path):
    text = EXAMPLE.read_text().replace("root_password =", "root_password = from-config")
    config = tmp_path / "config.cfg"
    config.write_text(text)
    path, values = ensure_secrets(load_config(config), tmp_path)
    assert values["mysql_root_password"] == "from-config"
    assert "from-config" not in path.read_text()


def test_phase_selection_keeps_install_order():
    assert [p.name for p in select()] == list(PHASE_NAMES)
    assert [p.name for p in select(["mesos", "repo"])] == ["repo", "mesos"]
    assert [p.name for p in select(skip=["lb", "mysql"], start="consul")] == ["consul", "verify"]


def test_ansible_connects_to_the_ssh_address_when_given(tmp_path):
    config = tmp_path / "config.cfg"
    config.write_text(EXAMPLE.read_text().replace("agent2 = 10.0.0.22", "agent2 = 10.0.0.22 ssh=192.168.9.22"))
    cfg = load_config(config)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    run = create_run_dir(cfg, tmp_path, secrets_file)
    hosts = yaml.safe_load((run.path / "inventory" / "hosts.yml").read_text())["all"]["hosts"]
    assert hosts["agent2"]["ansible_host"] == "192.168.9.22" and hosts["agent2"]["dcos_ip"] == "10.0.0.22"


def test_each_host_carries_the_ports_its_components_need(tmp_path):
    _, run, _ = _run(tmp_path)
    hosts = yaml.safe_load((run.path / "inventory" / "hosts.yml").read_text())["all"]["hosts"]
    installer_ports = {(p["port"], p["proto"]) for p in hosts["installer"]["dcos_ports"]}
    assert installer_ports == {(8081, "tcp"), (5000, "tcp"), (123, "udp")}
    master1 = {(p["port"], p["proto"]) for p in hosts["master1"]["dcos_ports"]}
    assert {(2181, "tcp"), (5050, "tcp"), (8080, "tcp"), (80, "tcp"), (9090, "tcp")} <= master1
    assert (5051, "tcp") not in master1
