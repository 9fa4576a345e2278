"""The VIP as users meet it: a request to it reaches a backend; HAProxy dies on the MASTER
and the VIP moves to the BACKUP, requests succeed again within 5 s; a backend stops and
HAProxy stops sending to it within its check interval. HAProxy, Keepalived and Consul are
the real Debian programs."""

import base64
import csv
import http.client
import io
import os
import ssl
import time
import urllib.error
import urllib.request

VIP = "172.29.17.100"
LB = {"lb1": "172.29.17.11", "lb2": "172.29.17.12"}
TAKEOVER_LIMIT = 5.0
# HAProxy checks every 2 s and takes a server out after 2 misses; Consul's own check runs
# every 2 s as well. Allow one interval of slack for the request loop itself.
REMOVAL_LIMIT = 2 * 2 + 2


CA = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "pki", "ca.crt")


def _tls():
    """Verifies the VIP's certificate against the cluster CA, as a client that trusts it does."""
    return ssl.create_default_context(cafile=CA)


def ask_vip():
    """The backend that answered through the VIP over HTTPS, or None."""
    try:
        with urllib.request.urlopen(f"https://{VIP}/", timeout=1, context=_tls()) as response:
            return response.read().decode().strip()
    except (OSError, urllib.error.URLError):
        return None


def web_servers_up(lb_ip):
    """Addresses of the web backend's servers HAProxy on lb_ip has UP (its stats page)."""
    request = urllib.request.Request(f"https://{lb_ip}:9090/;csv")
    request.add_header("Authorization", "Basic " + base64.b64encode(b"admin:molecule-stats").decode())
    with urllib.request.urlopen(request, timeout=2, context=_tls()) as response:
        text = response.read().decode().lstrip("# ")
    rows = csv.DictReader(io.StringIO(text))
    return {row["addr"].split(":")[0] for row in rows
            if row["pxname"] == "web" and row["svname"] not in ("FRONTEND", "BACKEND") and row["status"] == "UP"}


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def _hosts(host):
    from testinfra import get_host

    inventory = host.backend.ansible_inventory
    return {name: get_host(f"ansible://{name}?ansible_inventory={inventory}") for name in ("lb1", "lb2", "be1", "be2")}


def _holder(hosts):
    held = [n for n in LB if hosts[n].run(f"ip -4 -o addr show to {VIP}/32").stdout.strip()]
    return held[0] if len(held) == 1 else None


def _until(what, probe, limit):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if probe():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {limit} s")


def test_config_is_ours_and_checked(host):
    if _name(host) not in LB:
        return
    conf = host.file("/etc/haproxy/haproxy.cfg").content_string
    assert "resolvers consul" in conf and "server-template web 5 _web._tcp.service.consul" in conf
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0
    assert "unicast_peer" in host.file("/etc/keepalived/keepalived.conf").content_string


def test_the_vip_serves_https_that_verifies_and_http_redirects_to_it(host):
    if _name(host) != "lb1":
        return
    with ssl.create_default_context(cafile=CA).wrap_socket(
            __import__("socket").create_connection((VIP, 443), 3), server_hostname=VIP) as conn:
        names = [value for kind, value in conn.getpeercert()["subjectAltName"] if kind == "IP Address"]
    assert VIP in names
    plain = http.client.HTTPConnection(VIP, 80, timeout=3)
    plain.request("GET", "/some/path?x=1", headers={"Host": VIP})
    answer = plain.getresponse()
    assert (answer.status, answer.getheader("Location")) == (301, f"https://{VIP}/some/path?x=1")
    # The stats page is read-only unless asked: no admin form.
    conf = host.file("/etc/haproxy/haproxy.cfg").content_string
    assert "stats admin" not in conf
    assert host.file("/etc/haproxy/certs/dcos.pem").mode == 0o600


def test_the_vip_reaches_both_backends(host):
    if _name(host) != "lb1":
        return
    hosts = _hosts(host)
    assert _holder(hosts) == "lb1"
    answers = {ask_vip() for _ in range(20)}
    assert answers == {"be1", "be2"}, answers


def test_vip_moves_when_haproxy_dies_and_comes_back(host):
    if _name(host) != "lb1":
        return
    hosts = _hosts(host)
    assert ask_vip() in ("be1", "be2")
    hosts["lb1"].check_output("systemctl stop haproxy")
    try:
        took = _until("requests through the VIP answered by lb2", lambda: ask_vip() in ("be1", "be2"), 15)
        print(f"VIP takeover after HAProxy stopped on lb1: requests answered again in {took:.1f} s")
        assert _holder(hosts) == "lb2"
        assert took <= TAKEOVER_LIMIT, f"{took:.1f} s"
    finally:
        hosts["lb1"].check_output("systemctl start haproxy")
    back = _until("the VIP back on lb1", lambda: _holder(hosts) == "lb1", 20)
    print(f"VIP back on lb1 {back:.1f} s after its HAProxy started again")
    _until("requests through the VIP again", lambda: ask_vip() in ("be1", "be2"), 10)


def test_a_stopped_backend_gets_no_more_requests(host):
    if _name(host) != "lb1":
        return
    hosts = _hosts(host)
    assert web_servers_up(LB["lb1"]) == {"172.29.17.21", "172.29.17.22"}
    hosts["be1"].check_output("systemctl stop web")
    try:
        took = _until("be1 out of rotation on lb1", lambda: web_servers_up(LB["lb1"]) == {"172.29.17.22"}, 30)
        print(f"stopped backend out of rotation after {took:.1f} s")
        assert took <= REMOVAL_LIMIT, f"{took:.1f} s"
        # and no request reaches it (HAProxy would also retry elsewhere, so this alone proves little)
        assert {ask_vip() for _ in range(10)} == {"be2"}
    finally:
        hosts["be1"].check_output("systemctl start web")
    _until("be1 back in rotation", lambda: "be1" in {ask_vip() for _ in range(10)}, 30)


def test_the_scenario_mixes_debian_11_and_12(host):
    """Some hosts of this scenario run Debian 11 (its image: molecule.yml), the others Debian 12:
    the same role, the releases' own packages."""
    name = host.ansible.get_variables()["inventory_hostname"]
    assert host.system_info.codename == ("bullseye" if name in ("lb2", "be2") else "bookworm")
