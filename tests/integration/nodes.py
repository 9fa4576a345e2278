"""Test-bed nodes for integration tests: systemd containers from the local base image on a
network of their own, reachable over SSH as the sudo user `dcos` with a key made per test
session. Everything is labelled dcos-testbed=1 and removed by name before it is created."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

IMAGE = "dcos-testbed/node:bookworm"
LABEL = "dcos-testbed=1"
SYSTEMD_OPTS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_PTRACE",
    "--stop-signal", "SIGRTMIN+3", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
    # Docker's data root on a volume, as on a real disk: overlay2 cannot stack on overlayfs.
    "-v", "/var/lib/docker",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
]


def docker(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


@dataclass
class Node:
    name: str
    ip: str

    def sh(self, script: str, check: bool = True, timeout: int = 120) -> str:
        return docker("exec", self.name, "sh", "-c", script, check=check, timeout=timeout).stdout


def ssh_keypair(folder: Path) -> Path:
    key = folder / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcos-tests", "-f", str(key)],
                       check=True)
    key.chmod(0o600)
    return key


def remove(names: list[str], network: str) -> None:
    for name in names:
        docker("rm", "-f", "-v", name, check=False)
    docker("network", "rm", network, check=False)


def start(nodes: dict[str, str], network: str, subnet: str, key: Path, internal: bool = False) -> list[Node]:
    """Start one container per name -> ip on its own network; wait for systemd and SSH."""
    if shutil.which("docker") is None:
        raise RuntimeError("docker is not installed: run ./test.sh, which sets up the test bed")
    remove(list(nodes), network)
    docker("network", "create", "--label", LABEL, "--subnet", subnet, *(["--internal"] if internal else []), network)
    started = []
    pub = key.with_suffix(".pub").read_text()
    for name, ip in nodes.items():
        docker("run", "-d", "--name", name, "--hostname", name, "--label", LABEL, "--network", network,
               "--ip", ip, *SYSTEMD_OPTS, IMAGE)
        started.append(Node(name, ip))
    for node in started:
        node.sh("systemctl is-system-running --wait >/dev/null 2>&1 || true", timeout=120)
        node.sh(f"install -d -m 700 -o dcos -g dcos /home/dcos/.ssh && echo '{pub.strip()}' "
                "> /home/dcos/.ssh/authorized_keys && chown dcos:dcos /home/dcos/.ssh/authorized_keys "
                "&& chmod 600 /home/dcos/.ssh/authorized_keys")
    for node in started:
        _wait_for_ssh(node.ip)
    return started


def _wait_for_ssh(ip: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((ip, 22), timeout=2) as conn:
                if conn.recv(4).startswith(b"SSH"):
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"SSH on {ip} did not answer within {timeout}s")
