"""cAdvisor on the consul scenario's client, as an operator checks it: our unit runs it,
/healthz answers, /metrics carries a container of the host's Docker, and Consul sees the
service healthy. cAdvisor, Docker and Consul are the real programs."""

import json
import shlex
import time

import pytest

CLIENT = "172.29.16.21"
TOKEN = "c9de8aa3-4fbd-4c2a-9cbf-901bfacbfdaa"

PROBE_IMAGE = """set -e
if ! docker image inspect dcos-probe:1 >/dev/null 2>&1; then
  work=$(mktemp -d) && cd "$work"
  apt-get download busybox-static >/dev/null 2>&1
  dpkg-deb -x busybox-static_*.deb x && mkdir -p root/bin && cp x/bin/busybox root/bin/ && ln -s busybox root/bin/sh
  tar -C root -c . | docker import - dcos-probe:1 >/dev/null
fi
docker rm -f dcos-probe >/dev/null 2>&1 || true
docker run -d --name dcos-probe dcos-probe:1 /bin/sh -c 'sleep 100000' >/dev/null
"""


@pytest.fixture(autouse=True)
def _on_the_client_only(host):
    """The checks below are the client's (converge.yml puts Docker and cAdvisor on the agents);
    on a server, what is checked is that neither is there."""
    variables = host.ansible.get_variables()
    assert variables["groups"]["agents"] == ["cc1"], variables["groups"]
    if variables["inventory_hostname"] != "cc1":
        assert not host.service("dcos-cadvisor").is_running and not host.exists("dockerd")
        pytest.skip("cAdvisor runs on the client; checked absent here")


def test_our_unit_runs_it_and_the_package_unit_is_masked(host):
    assert host.service("dcos-cadvisor").is_running and host.service("dcos-cadvisor").is_enabled
    assert "--port=4194" in host.check_output("systemctl show -p ExecStart dcos-cadvisor")
    assert host.run("systemctl is-enabled cadvisor").stdout.strip() == "masked"
    assert host.check_output("curl -sf http://127.0.0.1:4194/healthz") == "ok"


def test_metrics_carry_the_containers_of_the_hosts_docker(host):
    host.check_output(f"bash -c {shlex.quote(PROBE_IMAGE)}")
    try:
        deadline = time.time() + 60
        metrics = ""
        while time.time() < deadline:
            metrics = host.check_output("curl -sf http://127.0.0.1:4194/metrics")
            if 'name="dcos-probe"' in metrics:
                break
            time.sleep(2)
        lines = [line for line in metrics.splitlines() if 'name="dcos-probe"' in line]
        assert any(line.startswith("container_cpu_usage_seconds_total") for line in lines), metrics[-2000:]
        assert any(line.startswith("container_memory_usage_bytes") for line in lines)
    finally:
        host.run("docker rm -f dcos-probe")


def test_consul_sees_it_healthy(host):
    deadline = time.time() + 30
    checks = []
    while time.time() < deadline:
        out = host.check_output(f"curl -sf -H 'X-Consul-Token: {TOKEN}' http://127.0.0.1:8500/v1/health/checks/cadvisor")
        checks = json.loads(out)
        if checks and all(c["Status"] == "passing" for c in checks):
            break
        time.sleep(1)
    assert checks and all(c["Status"] == "passing" for c in checks), checks
    assert host.check_output("dig +short cadvisor.service.consul") == CLIENT
