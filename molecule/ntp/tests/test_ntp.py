"""What an operator checks by hand after the ntp role: chrony runs, the installer host
serves its clock to the clients, and every client has selected the installer host."""

INSTALLER_IP = "172.29.10.10"
CLIENT_IPS = ("172.29.10.11", "172.29.10.12")


def _is_installer(host):
    return "installer" in host.ansible.get_variables()["group_names"]


def test_chrony_is_running_and_enabled(host):
    service = host.service("chrony")
    assert service.is_running
    assert service.is_enabled


def test_chronyd_never_sets_the_clock_in_a_container(host):
    # Containers share the test machine's clock: chronyd must run with -x there.
    cmdline = host.check_output("tr '\\0' ' ' < /proc/$(pidof -s chronyd)/cmdline")
    assert " -x" in f"{cmdline} "
    assert host.file("/etc/ansible/facts.d/dcos_ntp.fact").contains('"installed_by": "dcos-installer"')


def test_installer_serves_and_clients_follow_it(host):
    conf = host.file("/etc/chrony/chrony.conf").content_string
    if _is_installer(host):
        tracking = host.check_output("chronyc -n -c tracking").split(",")
        assert tracking[-1] == "Normal", tracking  # leap status: synchronised to its local clock
        assert "local stratum 10" in conf
        assert host.socket("udp://0.0.0.0:123").is_listening
        served = host.check_output("chronyc -n -c clients")
        for ip in CLIENT_IPS:
            assert ip in served, served
    else:
        sources = [line.split(",") for line in host.check_output("chronyc -n -c sources").splitlines()]
        selected = [fields[2] for fields in sources if fields[1] == "*"]
        assert selected == [INSTALLER_IP], sources
        assert f"server {INSTALLER_IP} iburst" in conf
        assert "allow" not in conf  # a client serves nobody
        assert not host.socket("udp://0.0.0.0:123").is_listening


def test_the_scenario_mixes_debian_11_and_12(host):
    """Some hosts of this scenario run Debian 11 (its image: molecule.yml), the others Debian 12:
    the same role, the releases' own packages."""
    name = host.ansible.get_variables()["inventory_hostname"]
    assert host.system_info.codename == ("bullseye" if name == "ntp-client2" else "bookworm")
