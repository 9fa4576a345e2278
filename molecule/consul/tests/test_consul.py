"""The Consul cluster as an operator checks it: one leader, all four agents alive, gossip
encrypted with the given key, anonymous writes refused, and the client's web service found
through Consul's DNS and through the host's own resolver, leaving DNS when its check fails
and coming back when it passes again; other names resolve as before."""

import json
import time

TOKEN = "c9de8aa3-4fbd-4c2a-9cbf-901bfacbfdaa"
GOSSIP_KEY = "i8CKHVJDZ+zET+q0Es5+i6SrcCrdRbr2DsR+nXF0EfY="
SERVERS = {"cs1": "172.29.16.11", "cs2": "172.29.16.12", "cs3": "172.29.16.13"}
CLIENT = "172.29.16.21"
CHECK_INTERVAL = 2  # the web service's check interval in converge.yml
WITH_TOKEN = f"CONSUL_HTTP_TOKEN={TOKEN} "


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def _get(name, host):
    from testinfra import get_host

    return get_host(f"ansible://{name}?ansible_inventory={host.backend.ansible_inventory}")


def _dig(host, name, server="@127.0.0.1 -p 8600"):
    return host.run(f"dig +short +time=2 +tries=1 {server} {name}").stdout.split()


def test_the_unit_is_ours_and_runs_as_consul(host):
    service = host.service("consul")
    assert service.is_running and service.is_enabled
    assert "/etc/systemd/system/consul.service" in host.check_output("systemctl show -p FragmentPath consul")
    assert host.process.get(comm="consul").user == "consul"
    config = host.file("/etc/consul.d/consul.json")
    assert (config.user, config.group, config.mode) == ("root", "consul", 0o640)
    fact = json.loads(host.file("/etc/ansible/facts.d/dcos_consul.fact").content_string)
    assert fact["installed_by"] == "dcos-installer" and "version" in fact


def test_servers_and_client_have_their_roles(host):
    config = json.loads(host.check_output("cat /etc/consul.d/consul.json"))
    if _name(host) in SERVERS:
        assert config["server"] is True and config["bootstrap_expect"] == 3
        assert config["acl"]["tokens"]["master"] == TOKEN
    else:
        assert config["server"] is False and "bootstrap_expect" not in config
        assert "master" not in config["acl"]["tokens"]
    assert sorted(config["retry_join"]) == sorted(SERVERS.values())
    assert {"agent", "default"} <= set(config["acl"]["tokens"])


def test_one_leader_four_live_members_encrypted_gossip(host):
    if _name(host) != "cs1":
        return  # cluster-wide checks, run once
    leader = json.loads(host.check_output("curl -fsS http://127.0.0.1:8500/v1/status/leader"))
    assert leader.split(":")[0] in SERVERS.values()
    peers = host.check_output(WITH_TOKEN + "consul operator raft list-peers")
    assert sum(line.split()[3] == "leader" for line in peers.splitlines()[1:]) == 1, peers
    members = {
        fields[0]: (fields[1].split(":")[0], fields[2], fields[3])
        for fields in (line.split() for line in host.check_output(WITH_TOKEN + "consul members").splitlines()[1:])
    }
    assert members == {
        **{name: (ip, "alive", "server") for name, ip in SERVERS.items()},
        "cc1": (CLIENT, "alive", "client"),
    }
    keyring = host.check_output(WITH_TOKEN + "consul keyring -list")
    assert f"{GOSSIP_KEY} [4/4]" in keyring, keyring
    # Without a token an agent answers reads with its default token (dcos-dns: node and
    # service read, for DNS), and nothing more.
    assert host.run("consul acl policy list").rc != 0
    policies = host.check_output(WITH_TOKEN + "consul acl policy list")
    assert all(f"dcos-host-{name}" in policies for name in (*SERVERS, "cc1")), policies


def test_a_hosts_token_registers_its_own_services_only(host):
    """The client's own token (in its services file) may register 'web', its service, and
    not a service of another host, such as a master's 'zookeeper'."""
    if _name(host) != "cc1":
        return
    token = json.loads(host.check_output("cat /etc/consul.d/services.json"))["services"][0]["token"]
    assert token and token != TOKEN
    register = ("curl -s -o /dev/null -w '%{{http_code}}' -X PUT -H 'X-Consul-Token: " + token + "' "
                "--data '{{\"Name\": \"{}\", \"ID\": \"{}-intruder\", \"Port\": 1}}' "
                "http://127.0.0.1:8500/v1/agent/service/register")
    assert host.check_output(register.format("zookeeper", "zookeeper")) == "403"
    assert host.check_output(register.format("web", "web")) == "200"
    host.check_output(f"curl -fsS -X PUT -H 'X-Consul-Token: {token}' "
                      "http://127.0.0.1:8500/v1/agent/service/deregister/web-intruder")


def test_acl_refuses_an_anonymous_write_and_allows_the_management_token(host):
    put = "curl -s -o /dev/null -w '%{{http_code}}' -X PUT --data v {} http://127.0.0.1:8500/v1/kv/dcos-molecule"
    assert host.check_output(put.format("")) == "403"
    assert host.check_output(put.format(f"-H 'X-Consul-Token: {TOKEN}'")) == "200"


def test_web_service_resolves_through_consul_and_the_host_resolver(host):
    if _name(host) != "cc1":
        return
    assert _dig(host, "web.service.consul") == [CLIENT]
    assert host.check_output("getent hosts web.service.consul").split()[0] == CLIENT
    assert _dig(host, "web.service.consul", server="") == [CLIENT]  # the system's resolv.conf
    # Other names: /etc/hosts first, the old nameserver for the rest.
    assert host.check_output("getent hosts localhost").split()[0] in ("127.0.0.1", "::1")
    resolv = host.file("/etc/resolv.conf").content_string.splitlines()
    assert resolv[0] == "nameserver 127.0.0.1"
    assert "nameserver 127.0.0.11" in resolv  # Docker's resolver, kept after ours
    assert _dig(host, "deb.debian.org", server="")  # a name only the old nameserver knows


def test_servers_resolve_the_web_service_too(host):
    if _name(host) not in SERVERS:
        return
    assert host.check_output("getent hosts web.service.consul").split()[0] == CLIENT


def test_a_failing_check_takes_the_service_out_of_dns(host):
    if _name(host) != "cc1":
        return
    host.check_output("systemctl stop web")
    try:
        deadline = time.time() + CHECK_INTERVAL + 8
        while time.time() < deadline and _dig(host, "web.service.consul"):
            time.sleep(0.5)
        assert _dig(host, "web.service.consul") == []
        assert host.run("getent hosts web.service.consul").rc != 0
    finally:
        host.check_output("systemctl start web")
    deadline = time.time() + CHECK_INTERVAL + 8
    while time.time() < deadline and not _dig(host, "web.service.consul"):
        time.sleep(0.5)
    assert _dig(host, "web.service.consul") == [CLIENT]
    # and from a server, through the catalog
    assert _dig(_get("cs2", host), "web.service.consul") == [CLIENT]


def test_the_scenario_mixes_debian_11_and_12(host):
    """cs3 runs Debian 11 (its image: molecule.yml), the others Debian 12: the same role, the
    releases' own packages."""
    assert host.system_info.codename == ("bullseye" if _name(host) == "cs3" else "bookworm")
