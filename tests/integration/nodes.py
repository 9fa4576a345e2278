"""Test-bed nodes for integration tests: systemd containers from the local base image on a
network of their own, reachable over SSH as the sudo user `dcos` with a key made per test
session. Everything is labelled dcos-testbed=1 and removed by name before it is created.
The container machinery is the demo cluster's (installer/demo.py)."""

from pathlib import Path

from installer.demo import IMAGE, Node, docker, remove_nodes, ssh_keypair, start_nodes

LABEL = "dcos-testbed=1"
__all__ = ["IMAGE", "LABEL", "Node", "docker", "remove", "ssh_keypair", "start"]


def remove(names: list[str], network: str) -> None:
    remove_nodes(names, network)


def start(nodes: dict[str, str], network: str, subnet: str, key: Path, internal: bool = False) -> list[Node]:
    """Start one container per name -> ip (container name = host name) on its own network."""
    started = [Node(name, name, ip) for name, ip in nodes.items()]
    start_nodes(started, network, subnet, key, LABEL, internal=internal)
    return started
