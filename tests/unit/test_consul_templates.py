"""The Consul agent configuration rendered by Ansible's own templating (role defaults + vars,
like a play) for a server and a client: gossip key, ACLs and tokens, retry_join, ports, and
bootstrap_expect only on servers; the services file; the DNS forwarding files."""

import json

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from tests.unit.roles import ROLES, role_vars

KEY = "i8CKHVJDZ+zET+q0Es5+i6SrcCrdRbr2DsR+nXF0EfY="
TOKEN = "c9de8aa3-4fbd-4c2a-9cbf-901bfacbfdaa"
SERVERS = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
HOSTVARS = {"m1": {"consul_server": True}, "m2": {"consul_server": True}, "m3": {"consul_server": "True"},
            "a1": {"consul_server": False}, "a2": {}}


def render(template: str, family: str = "Debian", **overrides) -> str:
    play = {"ansible_play_hosts_all": list(HOSTVARS), "hostvars": HOSTVARS, "inventory_hostname": "m1",
            "ansible_facts": {"os_family": family}, "consul_gossip_key": KEY,
            "consul_acl_management_token": TOKEN, "consul_servers": SERVERS, "consul_bind_address": "10.0.0.11"}
    values = role_vars("consul", family, **{**play, **overrides})
    templar = Templar(loader=DataLoader(), variables=values)
    return templar.template((ROLES / "consul" / "templates" / template).read_text(), escape_backslashes=False)


def config(**overrides) -> dict:
    text = render("consul.json.j2", **overrides)
    assert text.startswith("{"), text[:80]  # JSON has no comment: the header stays in the template
    return json.loads(text)


@pytest.mark.parametrize("family", ["Debian", "RedHat"])
def test_server_config(family):
    conf = config(family=family, consul_server=True)
    assert conf["server"] is True
    assert conf["bootstrap_expect"] == 3  # m1, m2, m3 say consul_server, a1 and a2 not
    assert conf["encrypt"] == KEY
    assert conf["encrypt_verify_incoming"] is True and conf["encrypt_verify_outgoing"] is True
    assert conf["retry_join"] == SERVERS
    assert conf["retry_interval"] == "5s"  # servers started together find each other quickly
    # WAN gossip off (one datacenter; a port nobody needs is no port at all); DNS on loopback only.
    assert conf["ports"] == {"server": 8300, "serf_lan": 8301, "http": 8500, "dns": 8600, "serf_wan": -1}
    assert conf["addresses"] == {"dns": "127.0.0.1"}
    assert (conf["bind_addr"], conf["advertise_addr"]) == ("10.0.0.11", "10.0.0.11")
    assert conf["data_dir"] == "/var/lib/consul"
    assert conf["acl"]["enabled"] is True and conf["acl"]["default_policy"] == "deny"
    assert conf["acl"]["tokens"] == {"master": TOKEN}  # agent tokens are created on the first run
    assert conf["primary_datacenter"] == conf["datacenter"] == "dc1"
    assert conf["disable_update_check"] is True  # air-gapped
    assert conf["ui"] is True


def test_client_config_has_no_server_keys_and_no_management_token():
    conf = config(consul_server=False, consul_bind_address="10.0.0.21", inventory_hostname="a1")
    assert conf["server"] is False
    assert "bootstrap_expect" not in conf and "ui" not in conf
    assert TOKEN not in json.dumps(conf)
    assert conf["acl"]["tokens"] == {}
    assert conf["retry_join"] == SERVERS
    assert conf["encrypt"] == KEY
    assert conf["leave_on_terminate"] is True


def test_known_tokens_go_to_agent_and_default():
    tokens = {"dcos-agent a1": "agent-secret", "dcos-agent m1": "other", "dcos-dns": "dns-secret"}
    conf = config(inventory_hostname="a1", __consul_tokens=tokens)
    assert conf["acl"]["tokens"] == {"agent": "agent-secret", "default": "dns-secret"}


def test_bootstrap_expect_given_and_ports_and_advertise_overrides():
    conf = config(consul_server=True, consul_bootstrap_expect=5, consul_http_port="8501",
                  consul_advertise_address="192.0.2.1", consul_extra_config={"ports": {"grpc": 8502}})
    assert conf["bootstrap_expect"] == 5
    assert conf["ports"] == {"server": 8300, "serf_lan": 8301, "http": 8501, "dns": 8600, "grpc": 8502,
                             "serf_wan": -1}
    assert conf["advertise_addr"] == "192.0.2.1"


def test_without_acl_and_with_tls():
    conf = config(consul_acl=False, consul_tls=True)
    assert "acl" not in conf
    assert conf["verify_incoming_rpc"] is True and conf["verify_outgoing"] is True
    assert conf["ca_file"] == "/etc/consul.d/tls/ca.pem"
    assert "tls" not in json.dumps(config())  # off by default


def test_script_checks_only_when_a_service_needs_them():
    assert config()["enable_local_script_checks"] is False
    services = [{"name": "mesos-master", "port": 5050, "check": {"args": ["/bin/true"], "interval": "10s"}}]
    assert config(consul_services=services)["enable_local_script_checks"] is True


def test_services_carry_their_checks_and_the_hosts_own_token():
    services = [{"name": "web", "port": 8088, "tags": ["a"], "check": {"http": "http://127.0.0.1:8088/",
                                                                        "interval": "2s"}},
                {"name": "zookeeper", "port": 2181, "check": {"tcp": "127.0.0.1:2181", "interval": "10s"}}]
    without = json.loads(render("services.json.j2", consul_services=services))
    assert without == {"services": services}
    with_token = json.loads(render("services.json.j2", consul_services=services,
                                   __consul_tokens={"dcos-agent m1": "svc-secret", "dcos-agent a1": "other"}))
    assert [s["token"] for s in with_token["services"]] == ["svc-secret", "svc-secret"]
    assert with_token["services"][0]["check"]["http"] == "http://127.0.0.1:8088/"
    assert json.loads(render("services.json.j2")) == {"services": []}


def test_dns_forwarding_files():
    dnsmasq = render("dnsmasq-consul.conf.j2")
    assert "server=/consul/127.0.0.1#8600\n" in dnsmasq
    assert "listen-address=127.0.0.1\n" in dnsmasq
    assert "resolv-file=/etc/dnsmasq-dcos-upstream.conf" in dnsmasq
    resolved = render("resolved-consul.conf.j2", consul_domain="dc.example", consul_dns_port=8653)
    assert "DNS=127.0.0.1:8653\n" in resolved and "Domains=~dc.example\n" in resolved


def test_unit_runs_our_binary_as_consul():
    unit = render("consul.service.j2", family="RedHat")
    assert "ExecStart=/usr/local/bin/consul agent -config-dir=/etc/consul.d\n" in unit
    assert "User=consul\n" in unit and "Restart=on-failure\n" in unit
