"""Offline installs from the local repository, with signatures checked, on a network with no
route to any mirror."""

INSTALLER = "172.29.13.10"
UPDATE = "apt-get update -q -o APT::Update::Error-Mode=any"


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def test_the_public_mirror_is_out_of_reach(host):
    if _name(host) != "rr-client":
        return
    # The host's own sources were disabled, not deleted: use them once, explicitly.
    assert host.file("/etc/apt/sources.list.dcos-disabled").exists, "the host's own sources are kept, renamed"
    host.check_output("cp /etc/apt/sources.list.dcos-disabled /tmp/mirror.list")
    result = host.run(f"timeout 15 {UPDATE} -o Dir::Etc::sourcelist=/tmp/mirror.list -o Dir::Etc::sourceparts=-")
    assert result.rc != 0, result.stdout


def test_a_package_installs_from_the_local_repo_with_signatures_checked(host):
    if _name(host) != "rr-client":
        return
    client = host
    assert client.run(UPDATE).rc == 0
    policy = client.check_output("apt-cache policy tcpdump")
    assert f"http://{INSTALLER}:8081/debian ./ Packages" in policy, policy
    assert client.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q tcpdump").rc == 0
    assert client.run("tcpdump --version").rc == 0


def test_a_wrongly_signed_repo_is_refused(host):
    if _name(host) != "rr-client":
        return
    client = host
    client.check_output("rm -rf /tmp/wrongkey && mkdir -m 700 /tmp/wrongkey && gpg --homedir /tmp/wrongkey --batch "
                        "--passphrase '' --quick-gen-key wrong@example.invalid rsa2048 sign never 2>/dev/null && "
                        "gpg --homedir /tmp/wrongkey --export > /tmp/wrong.gpg")
    client.check_output(f"echo 'deb [signed-by=/tmp/wrong.gpg] http://{INSTALLER}:8081/debian ./' > /tmp/wrong.list")
    result = client.run(f"{UPDATE} -o Dir::Etc::sourcelist=/tmp/wrong.list -o Dir::Etc::sourceparts=-")
    assert result.rc != 0
    assert "NO_PUBKEY" in result.stdout + result.stderr or "not signed" in result.stdout + result.stderr


def test_the_installer_serves_the_signed_repository(host):
    if _name(host) != "rr-installer":
        return
    assert host.service("nginx").is_running
    assert host.socket("tcp://0.0.0.0:8081").is_listening
    assert host.file("/srv/dcos/repo/debian/InRelease").contains("BEGIN PGP SIGNED MESSAGE")
    assert host.file("/etc/ansible/facts.d/dcos_repo.fact").contains('"mode": "server"')
