"""The release archive on an installer host with no network at all: `./install.sh release` on
this machine (twice: the same bytes), the archive copied into a container of the node image
on an `--internal` network (neither PyPI nor the Debian mirror reachable from it: asserted
first), unpacked and run there. The image has python3 but not python3-venv, as a minimal
Debian host: that comes from the archive's own apt source (through sudo: the archive is
unpacked and run by the sudo user `dcos`, as an operator would; the e2e alt module runs it as
root), the Python packages from its wheelhouse, and the host's apt sources and lists stay as
they were."""

import subprocess
import time
from pathlib import Path

import pytest

from installer.demo import reachable_from
from tests.integration.nodes import IMAGE, LABEL, docker

pytestmark = pytest.mark.integration

TOP = Path(__file__).resolve().parents[2]
NETWORK, SUBNET = "dcos-it-release", "172.29.21.0/24"
HOST = "dcos-it-release-installer"


def _install_sh(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOP / "install.sh"), *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def _on_host(script: str, timeout: int = 300, user: str = "root") -> subprocess.CompletedProcess[str]:
    return docker("exec", "-u", user, HOST, "bash", "-c", script, check=False, timeout=timeout)


def _clean() -> None:
    docker("rm", "-f", HOST, check=False)
    docker("network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """The release built twice from the same inputs (a bundle of the ntp component)."""
    folder = tmp_path_factory.mktemp("release")
    bundle = _install_sh("bundle", "--target", "debian12", "--out", str(folder / "bundle"), "--components", "ntp",
                         "--image", IMAGE)
    assert bundle.returncode == 0, bundle.stderr
    built = []
    for out in ("a", "b"):
        started = time.monotonic()
        proc = _install_sh("release", "--target", "debian12", "--bundle", str(folder / "bundle"),
                           "--out", str(folder / out), "--image", IMAGE)
        assert proc.returncode == 0, proc.stderr
        print(f"\nrelease {out}: built in {time.monotonic() - started:.1f} s: {proc.stdout.splitlines()[0]}")
        built.append(next((folder / out).glob("dcos-installer-*-debian12.tar.gz")))
    return built


@pytest.fixture(scope="module")
def host():
    _clean()
    docker("network", "create", "--internal", "--subnet", SUBNET, "--label", LABEL, NETWORK)
    docker("run", "-d", "--name", HOST, "--hostname", "installer", "--label", LABEL, "--network", NETWORK,
           IMAGE, "sleep", "infinity")
    yield HOST
    _clean()


def test_the_same_inputs_give_the_same_archive_and_it_verifies(archives):
    first, second = archives
    assert first.read_bytes() == second.read_bytes()
    assert first.with_name(first.name + ".sha256").read_text().split() == [
        subprocess.run(["sha256sum", str(first)], capture_output=True, text=True, check=True).stdout.split()[0],
        first.name]
    check = _install_sh("release", "--verify", str(first))
    assert check.returncode == 0, check.stderr
    assert "files" in check.stdout and "MB verified" in check.stdout
    print(f"\narchive: {first.stat().st_size / 1024**2:.0f} MB; {check.stdout.strip()}")


def test_the_installer_host_sets_itself_up_from_the_archive_alone(archives, host):
    archive = archives[0]
    assert reachable_from(host) == []  # neither the mirror nor PyPI
    before = _on_host("dpkg-query -W -f '${Status}' python3-venv 2>/dev/null; echo;"
                      " cat /etc/apt/sources.list; ls /var/lib/apt/lists").stdout
    assert not before.startswith("install ok installed")  # the image has no python3-venv: the archive brings it

    docker("cp", str(archive), f"{host}:/tmp/{archive.name}")
    folder = "/home/dcos/" + archive.name[:-len(".tar.gz")]
    started = time.monotonic()
    setup = _on_host(f"cd /home/dcos && tar xf /tmp/{archive.name} && cd {folder} && ./install.sh --version",
                     user="dcos")
    took = time.monotonic() - started
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert setup.stdout.strip().startswith("dcos-installer ")
    assert "installing python3-venv from the release (controller/debian12, no network used)" in setup.stderr
    assert "from the release's wheelhouse into .venv (no network used)" in setup.stderr
    print(f"\nfrom unpacking to the installer's first answer on the air-gapped host: {took:.1f} s")

    after = _on_host("dpkg-query -W -f '${Status}' python3-venv; echo; cat /etc/apt/sources.list;"
                     " ls /var/lib/apt/lists").stdout
    assert after.startswith("install ok installed")
    assert after.split("\n", 1)[1] == before.split("\n", 1)[1]  # no source added, no list left behind

    tools = _on_host(f"cd {folder} && .venv/bin/ansible-playbook --version | head -1 &&"
                     " .venv/bin/python -c 'import ansible_runner, pydantic, rich, yaml; print(\"imports ok\")'")
    assert tools.returncode == 0, tools.stderr
    assert "core 2.16." in tools.stdout and "imports ok" in tools.stdout

    # The archive's own bundle is the example config's default; a second start sets up nothing.
    valid = _on_host(f"cd {folder} && cp config.cfg.example config.cfg && ./install.sh config.cfg --validate",
                     user="dcos")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.strip() == "config.cfg: valid" and "[setup]" not in valid.stderr
    demo = _on_host(f"cd {folder} && ./install.sh --demo", user="dcos")
    assert demo.returncode == 2 and "not a release" in demo.stderr
