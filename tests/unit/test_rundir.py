"""The run directory handed to ansible-runner: inventory groups and host vars, extravars
without secrets, env, project link, runs/latest; secrets generated once and kept private."""

import base64
import stat
from pathlib import Path

import yaml

from installer.config import load_config
from installer.phases import PHASE_NAMES, select
from installer.rundir import create_run_dir, read_yaml
from installer.secrets import ensure_secrets

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"


def _run(tmp_path: Path):
    cfg = load_config(EXAMPLE)
    secrets_file, values = ensure_secrets(cfg, tmp_path)
    return cfg, create_run_dir(cfg, tmp_path, secrets_file), values


def test_inventory_has_the_design_groups_with_addresses(tmp_path):
    _, run, _ = _run(tmp_path)
    inv = read_yaml(run.path / "inventory" / "hosts.yml")["all"]
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
    extravars = read_yaml(run.path / "env" / "extravars")
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


def test_a_secret_given_in_the_config_wins_and_is_kept_for_the_playbooks(tmp_path):
    text = EXAMPLE.read_text().replace("root_password =", "root_password = From-Config-1234")
    config = tmp_path / "config.cfg"
    config.write_text(text)
    path, values = ensure_secrets(load_config(config), tmp_path)
    assert values["mysql_root_password"] == "From-Config-1234"
    # The playbooks read this file: the given value must be there, not a generated one.
    assert yaml.safe_load(path.read_text())["mysql_root_password"] == "From-Config-1234"
    # Taken out of config.cfg later: the cluster keeps the secret it runs with.
    config.write_text(EXAMPLE.read_text())
    assert ensure_secrets(load_config(config), tmp_path)[1]["mysql_root_password"] == "From-Config-1234"


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
    hosts = read_yaml(run.path / "inventory" / "hosts.yml")["all"]["hosts"]
    assert hosts["agent2"]["ansible_host"] == "192.168.9.22" and hosts["agent2"]["dcos_ip"] == "10.0.0.22"


def test_each_host_carries_the_ports_its_components_need(tmp_path):
    _, run, _ = _run(tmp_path)
    hosts = read_yaml(run.path / "inventory" / "hosts.yml")["all"]["hosts"]
    installer_ports = {(p["port"], p["proto"]) for p in hosts["installer"]["dcos_ports"]}
    # The installer host runs a Consul agent too: its gossip port is open to the cluster.
    assert installer_ports == {(8081, "tcp"), (5000, "tcp"), (123, "udp"), (8301, "tcp"), (8301, "udp"),
                               (8500, "tcp")}
    master1 = {(p["port"], p["proto"]) for p in hosts["master1"]["dcos_ports"]}
    assert {(2181, "tcp"), (5050, "tcp"), (8080, "tcp"), (443, "tcp"), (80, "tcp"), (9090, "tcp")} <= master1
    assert (5051, "tcp") not in master1
    assert (8600, "udp") not in master1  # Consul DNS listens on loopback: nothing to open


def test_the_firewall_opens_each_port_to_its_audience_only(tmp_path):
    _, run, _ = _run(tmp_path)
    hosts = read_yaml(run.path / "inventory" / "hosts.yml")["all"]["hosts"]
    cluster = ["10.0.0.5", "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.21", "10.0.0.22", "10.0.0.100"]
    rules = {(r["proto"], r["audience"]): r for r in hosts["master1"]["dcos_firewall"]}
    assert set(rules) == {("tcp", "masters"), ("tcp", "cluster"), ("udp", "cluster"), ("tcp", "admin")}
    assert rules[("tcp", "masters")]["ports"] == [2888, 3888]
    assert {2181, 5050, 8080, 8300, 8301, 8500, 4194} <= set(rules[("tcp", "cluster")]["ports"])
    # The VIP's frontends: the cluster and the admin networks (default: the VIP's own network).
    assert rules[("tcp", "admin")]["ports"] == [80, 443, 8050, 8550, 9090]
    # Who each audience is: one list for every host (role membership), never in a host's rules,
    # so that a host added changes no host's rules.
    assert all(set(r) == {"proto", "audience", "ports"} for h in hosts.values() for r in h["dcos_firewall"])
    sources = read_yaml(run.path / "inventory" / "hosts.yml")["all"]["vars"]["dcos_firewall_sources"]
    assert sources == {"masters": ["10.0.0.11", "10.0.0.12", "10.0.0.13"], "cluster": cluster,
                       "admin": [*cluster, "10.0.0.0/24"]}
    installer = {(r["proto"], r["audience"]): r["ports"] for r in hosts["installer"]["dcos_firewall"]}
    assert installer == {("tcp", "admin"): [5000], ("tcp", "cluster"): [8081, 8301, 8500],
                         ("udp", "cluster"): [123, 8301]}


def test_admin_networks_given_replace_the_default(tmp_path):
    config = tmp_path / "config.cfg"
    config.write_text(EXAMPLE.read_text().replace("admin_networks =", "admin_networks = 192.168.7.0/24, 10.9.9.9"))
    cfg = load_config(config)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    run = create_run_dir(cfg, tmp_path, secrets_file)
    sources = read_yaml(run.path / "inventory" / "hosts.yml")["all"]["vars"]["dcos_firewall_sources"]
    assert sources["admin"][-2:] == ["192.168.7.0/24", "10.9.9.9/32"]


def test_a_config_value_is_data_for_ansible_never_a_template(tmp_path):
    """Every string of the inventory and extravars is !unsafe: Ansible never evaluates it."""
    _, run, _ = _run(tmp_path)
    for name in ("inventory/hosts.yml", "env/extravars"):
        text = (run.path / name).read_text()
        quoted = [line for line in text.splitlines() if "'" in line]
        assert len(quoted) > 20 and all("!unsafe '" in line for line in quoted), name


def test_the_run_folder_is_private_and_its_config_copy_holds_no_secret(tmp_path):
    text = EXAMPLE.read_text().replace("root_password =", "root_password = Given-Secret-1234").replace(
        "[cluster]\n", "[cluster]\n", 1)
    config = tmp_path / "config.cfg"
    config.write_text(text)
    cfg = load_config(config)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    run = create_run_dir(cfg, tmp_path, secrets_file)
    copy = (run.path / "config.cfg").read_text()
    assert "Given-Secret-1234" not in copy and "root_password = (redacted)" in copy
    assert copy.count("\n") == text.count("\n")  # every other line as written
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    for path in [run.path, *run.path.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_latest_points_at_the_newest_run_left(tmp_path):
    from installer.rundir import point_latest

    for name in ("20260101-000000-demo", "20260102-000000-demo"):
        (tmp_path / name).mkdir()
    (tmp_path / "secrets").mkdir()
    point_latest(tmp_path)
    assert (tmp_path / "latest").resolve() == tmp_path / "20260102-000000-demo"
    (tmp_path / "20260102-000000-demo").rmdir()
    point_latest(tmp_path)
    assert (tmp_path / "latest").resolve() == tmp_path / "20260101-000000-demo"
