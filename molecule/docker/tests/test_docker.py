"""Docker as an operator checks it: the daemon answers with overlay2, daemon.json is what was
asked, a container runs from an image loaded locally, and a foreign Docker was left alone."""

import json

EXPECTED = {
    "log-driver": "json-file",
    "log-opts": {"max-size": "100m", "max-file": "5"},
    "storage-driver": "overlay2",
    "live-restore": True,
    "cgroup-parent": "/dcos-molecule-docker",
}


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def test_docker_answers_with_the_asked_configuration(host):
    if _name(host) != "docker-host":
        return
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["Driver"] == "overlay2"
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True
    assert json.loads(host.file("/etc/docker/daemon.json").content_string) == EXPECTED
    assert host.service("docker").is_enabled
    assert host.file("/etc/docker/certs.d/registry.dcos.test:5000/ca.crt").contains("BEGIN CERTIFICATE")
    assert host.file("/etc/ansible/facts.d/dcos_docker.fact").contains('"adopted": false')


def test_a_container_runs_from_an_image_loaded_into_the_host(host):
    if _name(host) != "docker-host":
        return
    # An image made on the host from busybox (nothing can be pulled here), saved and loaded back.
    host.check_output("apt-get install -y -q busybox-static >/dev/null 2>&1; rm -rf /tmp/img && mkdir -p /tmp/img/bin "
                      "&& cp /bin/busybox /tmp/img/bin/ && ln -sf busybox /tmp/img/bin/sh "
                      "&& tar -C /tmp/img -c . | docker import - dcos-tiny:1 >/dev/null "
                      "&& docker save dcos-tiny:1 -o /tmp/tiny.tar && docker rmi dcos-tiny:1 >/dev/null "
                      "&& docker load -i /tmp/tiny.tar >/dev/null")
    out = host.check_output("docker run --rm dcos-tiny:1 /bin/busybox echo hello-from-inner-container")
    assert out == "hello-from-inner-container"


def test_a_foreign_docker_was_left_alone(host):
    if _name(host) != "docker-foreign":
        return
    assert host.exists("dockerd")
    assert not host.file("/etc/ansible/facts.d/dcos_docker.fact").exists
    assert not host.file("/etc/docker/daemon.json").exists
