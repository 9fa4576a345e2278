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


REGISTRY = f"{INSTALLER}:5000"


def test_the_registry_answers_over_tls_and_holds_the_bundle_image(host):
    if _name(host) != "rr-installer":
        return
    assert host.service("docker-registry").is_running
    # Auth is on: an anonymous request is refused, the registry user lists the pushed image.
    fetch = ("python3 -c \"import base64,ssl,sys,urllib.request,urllib.error; r=urllib.request.Request(sys.argv[1]); "
             "a=sys.argv[2:]; a and r.add_header('Authorization','Basic '+base64.b64encode(a[0].encode()).decode()); "
             "c=ssl.create_default_context(cafile='/usr/local/share/ca-certificates/dcos-registry-ca.crt')\n"
             "try: print(urllib.request.urlopen(r, context=c).read().decode())\n"
             "except urllib.error.HTTPError as e: print(e.code)\" ")
    assert host.check_output(fetch + f"https://{REGISTRY}/v2/") == "401"
    tags = host.check_output(fetch + f"https://{REGISTRY}/v2/dcos-tiny/tags/list dcos:molecule-registry-pw")
    assert '"tags":["1"]' in tags.replace(" ", "")
    assert host.file("/etc/ansible/facts.d/dcos_registry.fact").contains('"mode": "server"')


def test_the_client_pulls_with_tls_verification_and_runs_the_image(host):
    if _name(host) != "rr-client":
        return
    config = host.file("/etc/docker/daemon.json").content_string
    assert "insecure" not in config
    assert host.run(f"docker pull {REGISTRY}/dcos-tiny:1").rc == 0
    out = host.check_output(f"docker run --rm {REGISTRY}/dcos-tiny:1 /bin/busybox echo pulled-and-ran")
    assert out == "pulled-and-ran"
    host.check_output(f"docker rmi {REGISTRY}/dcos-tiny:1")


# docker.service allows 3 starts in 60 s (StartLimitBurst): converge has just started it,
# and this test starts it twice more; reset the count so that the limit is not what fails.
RESTART_DOCKER = "systemctl reset-failed docker.service docker.socket; systemctl restart docker"


def test_a_client_without_the_ca_cannot_pull(host):
    if _name(host) != "rr-client":
        return
    certs = f"/etc/docker/certs.d/{REGISTRY}"
    store = "/usr/local/share/ca-certificates/dcos-registry-ca.crt"
    host.check_output(f"mv {certs} /tmp/certs.d-saved && mv {store} /tmp/ca-saved.crt && update-ca-certificates "
                      f"--fresh >/dev/null && {RESTART_DOCKER}")
    try:
        result = host.run(f"docker pull {REGISTRY}/dcos-tiny:1")
        assert result.rc != 0
        assert "x509" in result.stderr or "certificate" in result.stderr, result.stderr
    finally:
        host.check_output(f"mv /tmp/certs.d-saved {certs} && mv /tmp/ca-saved.crt {store} && update-ca-certificates "
                          f">/dev/null && {RESTART_DOCKER}")
