"""What an operator checks by hand on an initialised host."""

import socket
import time

NAMES = {"common-a": ("node-a", "172.29.11.11"), "common-b": ("node-b", "172.29.11.12")}


def _me(host):
    return NAMES[host.ansible.get_variables()["inventory_hostname"]]


def test_hostname_is_set(host):
    name, _ = _me(host)
    assert host.check_output("hostname") == name


def test_every_cluster_host_resolves_through_the_system_resolver(host):
    for name, ip in NAMES.values():
        assert host.check_output(f"getent ahostsv4 {name}").split()[0] == ip
        assert host.check_output(f"getent ahostsv4 {name}.dcos.test").split()[0] == ip


def test_hosts_file_keeps_other_lines_and_drops_the_loopback_name(host):
    hosts = host.file("/etc/hosts").content_string
    assert "# BEGIN DCOS installer: cluster hosts" in hosts and "# END DCOS installer: cluster hosts" in hosts
    assert "127.0.0.1\tlocalhost" in hosts or "127.0.0.1 localhost" in hosts  # docker's own lines stay
    assert "127.0.1.1 node-a" not in hosts
    assert "172.29.11.12 node-b.dcos.test node-b" in hosts


def test_kernel_settings_and_modules_are_persisted(host):
    conf = host.file("/etc/sysctl.d/90-dcos.conf").content_string
    assert "net.ipv4.ip_forward = 1" in conf and "vm.max_map_count = 262144" in conf
    assert host.file("/etc/modules-load.d/dcos.conf").content_string.split()[-2:] == ["overlay", "br_netfilter"]
    # A container does not own the kernel's settings: the live values the container can see.
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert host.file("/sys/module/overlay").exists
    assert host.file("/proc/sys/net/bridge/bridge-nf-call-iptables").exists


def test_service_limits_are_raised(host):
    assert host.check_output("systemctl show --property DefaultLimitNOFILE") == "DefaultLimitNOFILE=1048576"


def test_operations_tools_are_installed(host):
    for tool in ("netstat", "dig", "tcpdump", "lsof", "curl", "nc", "telnet", "iostat"):
        assert host.exists(tool), tool


def test_timezone_and_local_fact(host):
    assert host.file("/etc/timezone").content_string.strip() == "UTC" or \
        host.file("/etc/localtime").linked_to.endswith("UTC")
    assert host.file("/etc/ansible/facts.d/dcos_common.fact").contains('"installed_by": "dcos-installer"')


def test_an_active_firewall_gets_the_needed_ports_and_keeps_its_rules(host):
    if host.ansible.get_variables()["inventory_hostname"] != "common-b":
        assert not host.exists("ufw") or "inactive" in host.check_output("ufw status")
        return
    status = host.check_output("ufw status")
    assert "Status: active" in status
    assert "2181/tcp" in status and "ALLOW" in status
    assert "2222/tcp" in status  # the operator's own rule stays


def _listen(host, *ports):
    for port in ports:
        host.run(f"systemctl stop t{port} 2>/dev/null; systemctl reset-failed t{port} 2>/dev/null")
        host.check_output(f"systemd-run --unit t{port} python3 -m http.server {port}")
    probe = "python3 -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", {}), 2)'"
    for port in ports:
        for _ in range(20):
            if host.run(probe.format(port)).rc == 0:
                break
            time.sleep(0.2)


def _reaches(ip, port):
    """From the test machine: a connection, or None when it is dropped (timeout) or refused."""
    try:
        socket.create_connection((ip, port), 2).close()
        return True
    except OSError:
        return False


def _reaches_from(host, ip, port):
    return host.run(f"python3 -c 'import socket; socket.create_connection((\"{ip}\", {port}), 2)'").rc == 0


def test_the_installers_firewall_lets_only_each_ports_audience_in(host):
    """2181 is open to both hosts, 7777 to common-a only; the test machine is neither. Other
    ports of the host are not the installer's business and stay as they were."""
    if host.ansible.get_variables()["inventory_hostname"] != "common-a":
        return
    from testinfra import get_host

    other = get_host(f"ansible://common-b?ansible_inventory={host.backend.ansible_inventory}")
    assert host.service("dcos-firewall").is_enabled
    assert "table inet dcos_installer" in host.check_output("nft list table inet dcos_installer")
    _listen(host, 2181, 7777, 8888)
    assert not _reaches("172.29.11.11", 2181) and not _reaches("172.29.11.11", 7777)
    assert _reaches("172.29.11.11", 8888)  # not a port of the cluster: left alone
    assert _reaches_from(other, "172.29.11.11", 2181)
    assert not _reaches_from(other, "172.29.11.11", 7777)
    assert _reaches_from(host, "172.29.11.11", 7777)  # the host itself
    # An operator who restarts nftables (its ruleset flushes every table) keeps the table.
    # systemctl waits for nftables' own job only: the table's unit (PartOf, After nftables)
    # starts right after it, so the table is asked for a few seconds, not at once.
    host.check_output("systemctl restart nftables")
    deadline = time.monotonic() + 15
    while "dcos_installer" not in host.check_output("nft list tables") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "dcos_installer" in host.check_output("nft list tables")
    assert host.service("dcos-firewall").is_running
    assert not _reaches("172.29.11.11", 2181)
    for port in (2181, 7777, 8888):
        host.run(f"systemctl stop t{port}")


def test_the_scenario_mixes_debian_11_and_12(host):
    """Some hosts of this scenario run Debian 11 (its image: molecule.yml), the others Debian 12:
    the same role, the releases' own packages."""
    name = host.ansible.get_variables()["inventory_hostname"]
    assert host.system_info.codename == ("bullseye" if name == "common-b" else "bookworm")
