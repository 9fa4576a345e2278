"""A whole cluster in local containers: what `./install.sh --demo` installs into, what the
end-to-end test and the benchmarks use.

One installer host, three masters (the first two also the lb hosts), N agents: systemd
containers of the test-bed image (demo/node/build-image.sh) on an `--internal` Docker
network, so no host reaches a mirror and everything comes from the bundle, exactly as in an
air-gapped data center. Each runs sshd with the sudo user `dcos`; Ansible logs in with a key
made for the cluster. The bundle is made on this machine (which has a mirror) with the
stand-in Mesos and Marathon packages of demo/standins/, since the real ones cannot be
obtained here. The config.cfg is config.cfg.example with only the hosts, addresses, VIP and
SSH login changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from installer.bundle import TARGETS, verify_bundle
from installer.bundler import MIRROR_SH

TOP = Path(__file__).resolve().parent.parent
IMAGE = "dcos-testbed/node:bookworm"
# The node image of each OS release a test cluster may mix (demo/node/build-image.sh <suite>);
# the first is the installer host's and the top bundle's.
RELEASE_IMAGES = {"debian12": IMAGE, "debian11": "dcos-testbed/node:bullseye"}
SYSTEMD_OPTS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_PTRACE",
    "--stop-signal", "SIGRTMIN+3", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
    # Docker's data root on a volume, as on a real disk: overlay2 cannot stack on overlayfs.
    "-v", "/var/lib/docker",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
]
SSH_USER = "dcos"


class DemoError(Exception):
    pass


def docker(*args: str, check: bool = True, timeout: int = 120, stdin: str | None = None,
           ) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker") is None:
        raise DemoError("docker is not installed: demo/node/docker.sh installs and starts it")
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False,
                          input=stdin)
    if check and proc.returncode != 0:
        raise DemoError(f"docker {' '.join(args[:3])} failed: {proc.stderr.strip()}")
    return proc


@dataclass
class Node:
    container: str
    name: str
    ip: str
    image: str = IMAGE

    def sh(self, script: str, check: bool = True, timeout: int = 120) -> str:
        return docker("exec", self.container, "sh", "-c", script, check=check, timeout=timeout).stdout

    def python(self, code: str, stdin: str = "", timeout: int = 60) -> str:
        """Run Python code on the node (its own python3), stdin given; its stdout."""
        return docker("exec", "-i", self.container, "python3", "-c", code, stdin=stdin, timeout=timeout).stdout


def ssh_keypair(folder: Path) -> Path:
    key = folder / "id_ed25519"
    if not key.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcos-demo", "-f", str(key)],
                       check=True)
    key.chmod(0o600)
    return key


def start_nodes(nodes: list[Node], network: str, subnet: str, key: Path, label: str,
                internal: bool = False) -> None:
    """One systemd container per node on its own network; SSH as `dcos` with the key."""
    remove_nodes([n.container for n in nodes], network)
    docker("network", "create", "--label", label, "--subnet", subnet, *(["--internal"] if internal else []),
           network)
    add_nodes(nodes, network, key, label)


def add_nodes(nodes: list[Node], network: str, key: Path, label: str) -> None:
    """Containers for these nodes on an existing network (a cluster that grows)."""
    pub = key.with_suffix(".pub").read_text().strip()
    for node in nodes:
        docker("run", "-d", "--name", node.container, "--hostname", node.name, "--label", label,
               "--network", network, "--ip", node.ip, *SYSTEMD_OPTS, node.image)
    for node in nodes:
        node.sh("systemctl is-system-running --wait >/dev/null 2>&1 || true", timeout=180)
        node.sh(f"install -d -m 700 -o {SSH_USER} -g {SSH_USER} /home/{SSH_USER}/.ssh && echo '{pub}' "
                f"> /home/{SSH_USER}/.ssh/authorized_keys && chown {SSH_USER}:{SSH_USER} "
                f"/home/{SSH_USER}/.ssh/authorized_keys && chmod 600 /home/{SSH_USER}/.ssh/authorized_keys")
    for node in nodes:
        wait_for_ssh(node.ip)


def remove_nodes(containers: list[str], network: str) -> None:
    for name in containers:
        docker("rm", "-f", "-v", name, check=False)
    docker("network", "rm", network, check=False)


def wait_for_ssh(ip: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((ip, 22), timeout=2) as conn:
                if conn.recv(4).startswith(b"SSH"):
                    return
        except OSError:
            time.sleep(0.5)
    raise DemoError(f"SSH on {ip} did not answer within {timeout}s")


@dataclass
class DemoCluster:
    """The container cluster: names, addresses, and what it takes to make and remove it."""

    prefix: str = "dcos-demo"
    subnet: str = "172.29.50.0/24"
    agents: int = 2
    label: str = "dcos-demo=1"
    name: str = "demo"
    # Hosts of another OS release than the installer host's (debian12): name -> release.
    releases: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.agents <= 50:
            raise DemoError(f"--agents {self.agents}: give 1 to 50")
        net = ipaddress.ip_network(self.subnet)
        base = net.network_address
        names = [("installer", 10)] + [(f"master{i}", 10 + i) for i in (1, 2, 3)] + \
                [(f"agent{i}", 20 + i) for i in range(1, self.agents + 1)]
        unknown = {r for r in self.releases.values() if r not in RELEASE_IMAGES}
        if unknown or set(self.releases) - {n for n, _ in names}:
            raise DemoError(f"releases {self.releases}: name hosts of this cluster and releases of "
                            f"{', '.join(RELEASE_IMAGES)}")
        self.nodes = [Node(f"{self.prefix}-{n}", n, str(base + offset),
                           RELEASE_IMAGES[self.releases.get(n, "debian12")]) for n, offset in names]
        self.vip = str(base + 250)
        self.prefixlen = net.prefixlen

    @property
    def network(self) -> str:
        return f"{self.prefix}-net"

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def group(self, prefix: str) -> list[Node]:
        return [n for n in self.nodes if re.fullmatch(rf"{prefix}\d*", n.name)]

    def create(self, folder: Path) -> Path:
        """Start the containers; returns the SSH key Ansible logs in with."""
        key = ssh_keypair(folder)
        start_nodes(self.nodes, self.network, self.subnet, key, self.label, internal=True)
        return key

    def destroy(self) -> None:
        """Every container of the cluster, the agents added since (`--agents N`) included, then
        its network (which docker keeps while a container is attached)."""
        found = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{self.prefix}-",
                       "--filter", f"label={self.label}", check=False).stdout.split()
        remove_nodes(sorted({n.container for n in self.nodes} | set(found)), self.network)

    def running_names(self) -> set[str]:
        return set(docker("ps", "--format", "{{.Names}}", "--filter", f"name=^{self.prefix}-",
                          check=False).stdout.split())

    def running(self) -> bool:
        """Every container of the cluster runs (and no other agent count was asked)."""
        return self.running_names() == {n.container for n in self.nodes}

    def missing(self) -> list[Node] | None:
        """The nodes to add to a running cluster that grows (more agents asked than run), or None
        when it does not simply grow (nothing runs, or hosts would go)."""
        running = self.running_names()
        wanted = {n.container for n in self.nodes}
        if not running or not running < wanted:
            return None
        return [n for n in self.nodes if n.container not in running]

    def config_text(self, key: Path, bundle: Path) -> str:
        """config.cfg.example with only the hosts, addresses, VIP, SSH login and bundle changed."""
        return make_config((TOP / "config.cfg.example").read_text(), {
            "installer": [f"installer = {self.node('installer').ip}"],
            "masters": [f"{n.name} = {n.ip}" for n in self.group("master")],
            "agents": [f"{n.name} = {n.ip}" for n in self.group("agent")],
        }, {
            ("cluster", "name"): self.name,
            ("cluster", "ssh_user"): SSH_USER,
            ("cluster", "ssh_key_file"): str(key),
            ("keepalived", "vip"): f"{self.vip}/{self.prefixlen}",
            ("repo", "bundle"): str(bundle),
        })


def make_config(example: str, hosts: dict[str, list[str]], values: dict[tuple[str, str], str]) -> str:
    """Rewrite an example config: the host lines of the named sections, and single keys;
    every comment and every other line stays as it is."""
    out: list[str] = []
    section = ""
    replaced: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for line in example.splitlines():
        header = re.match(r"^\[(\w+)\]\s*$", line)
        if header:
            section = header.group(1)
            out.append(line)
            if section in hosts:
                out.extend(hosts[section])
                replaced.add(section)
            continue
        stripped = line.strip()
        if section in hosts and stripped and not stripped.startswith(("#", ";")):
            continue  # an example host line
        key = re.match(r"^(\w+)\s*=", line)
        if key and (section, key.group(1)) in values:
            out.append(f"{key.group(1)} = {values[(section, key.group(1))]}")
            seen.add((section, key.group(1)))
            continue
        out.append(line)
    missing = [f"[{s}]" for s in hosts if s not in replaced] + [f"[{s}] {k}" for s, k in values if (s, k) not in seen]
    if missing:
        raise DemoError(f"config.cfg.example has no {', '.join(missing)}")
    return "\n".join(out) + "\n"


def ensure_testbed() -> None:
    """Docker running and the node image built (the test bed's own scripts; root or sudo)."""
    for script in ("docker.sh", "build-image.sh"):
        proc = subprocess.run(["bash", str(TOP / "demo" / "node" / script)], check=False)
        if proc.returncode != 0:
            raise DemoError(f"demo/node/{script} failed (exit {proc.returncode})")


def bundle_inputs(standins: Path, image: str = IMAGE) -> str:
    """What the demo's bundle is made from: the component list, the bundler, the node image
    (its id: a rebuilt image may lack other packages) and the stand-in packages."""
    digest = hashlib.sha256(b"dcos-demo-bundle-1\0")
    for path in (TOP / "components.yml", TOP / "installer" / "bundler.py", TOP / "installer" / "bundle.py"):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    image_id = docker("image", "inspect", "--format", "{{.Id}}", image, check=False).stdout.strip()
    digest.update(b"image\0" + image_id.encode() + b"\0")
    for deb in sorted(standins.glob("*.deb")):
        digest.update(deb.name.encode() + b"\0" + hashlib.sha256(deb.read_bytes()).digest())
    return digest.hexdigest()


def build_bundle(out: Path, standins: Path, releases: tuple[str, ...] = ()) -> None:
    """The offline bundle of every component, with the stand-in Mesos and Marathon packages and
    their dependencies; resolved in the node image, so exactly what the hosts lack is in it.
    A bundle made from the same inputs (bundle_inputs, recorded beside it) that still verifies
    is used as it is: resolving again in a container costs a demo re-run about two minutes and
    would only pick up the mirror's newer versions. Otherwise only what is missing is
    downloaded again. releases: the other OS releases of the cluster's hosts, each a sub-bundle
    (targets/<release>/) resolved in that release's node image."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # One maker at a time (two test modules share a bundle folder): the second finds the
    # first's bundle made from the same inputs and uses it.
    with (out.parent / f".{out.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "demo.standins.build", str(standins)], cwd=TOP, check=True,
                       stdout=subprocess.DEVNULL)
        for release in ("debian12", *releases):
            folder = out if release == "debian12" else out / TARGETS / release
            marker = out.parent / (f".{out.name}.inputs" if folder == out else f".{out.name}.{release}.inputs")
            inputs = bundle_inputs(standins, RELEASE_IMAGES[release])
            # Each release's own files only: a sub-bundle is checked (and made) in its own turn.
            if marker.is_file() and marker.read_text().strip() == inputs and \
                    verify_bundle(folder, with_targets=False).ok:
                continue
            marker.unlink(missing_ok=True)
            proc = subprocess.run([str(TOP / "install.sh"), "bundle", "--target", release, "--out", str(folder),
                                   "--image", RELEASE_IMAGES[release], "--extra-packages", str(standins)],
                                  check=False, capture_output=True, text=True)
            if proc.returncode != 0:
                raise DemoError(f"making the {release} bundle failed:\n{proc.stderr[-3000:]}")
            marker.write_text(inputs + "\n")


def newer_bundle(bundle: Path, out: Path, revision: int = 2, updates: dict[str, tuple[str, ...]] | None = None) -> Path:
    """A copy of `bundle` whose stand-in Mesos and Marathon are newer (built with
    `--revision`), each release's manifest made again: what a vendor's next bundle would be to
    the upgrade. The other packages are hard links to the first bundle's (no download) but
    `updates` (release -> package names): those taken from the release's security suite where
    it has another version (real packages at two versions; the bundle is made from the
    release's main suite)."""
    import os

    from installer.bundler import write_manifest

    shutil.rmtree(out, ignore_errors=True)
    # Hard links (no copy of gigabytes): every file this changes is a new one (the manifests are
    # written aside and renamed by write_manifest; old packages unlinked, new ones added).
    shutil.copytree(bundle, out, copy_function=os.link)
    standins = out.parent / f".{out.name}.standins"
    shutil.rmtree(standins, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "demo.standins.build", str(standins), "--revision", str(revision)],
                   cwd=TOP, check=True, stdout=subprocess.DEVNULL)
    for manifest in sorted(out.rglob("manifest.json")):
        folder = manifest.parent
        for old in (folder / "packages").glob("*.deb"):
            if old.name.startswith(("mesos_", "marathon_")):
                old.unlink()
        for deb in standins.glob("*.deb"):
            shutil.copyfile(deb, folder / "packages" / deb.name)
        release = json.loads(manifest.read_text())["os"]
        if (updates or {}).get(release):
            security_updates(folder / "packages", RELEASE_IMAGES[release], updates[release])
        write_manifest(folder, release)
    shutil.rmtree(standins, ignore_errors=True)
    report = verify_bundle(out)
    if not report.ok:
        raise DemoError(f"the newer bundle {out} does not verify: {'; '.join(report.problems[:3])}")
    return out


SECURITY_SCRIPT = r"""
set -eu
. /etc/os-release
""" + MIRROR_SH.lstrip("\n") + r"""
echo "deb $mirror-security $VERSION_CODENAME-security main" > /etc/apt/sources.list.d/security.list
apt-get update -q >/dev/null 2>&1 || { echo "the security suite cannot be read: no update taken"; exit 0; }
cd /out
for p in "$@"; do
  apt-get download -q "$p/$VERSION_CODENAME-security" >/dev/null 2>&1 || echo "not in the security suite: $p"
done
"""


def security_updates(packages: Path, image: str, names: tuple[str, ...]) -> list[str]:
    """Each named package from the security suite of the image's release, in place of the
    folder's copy when its version differs; returns the file names put in."""
    with tempfile.TemporaryDirectory(prefix="dcos-security-") as tmp:
        subprocess.run(["docker", "run", "--rm", "--label", "dcos-bundle=1", "-v", f"{tmp}:/out",
                        "--entrypoint", "/bin/sh", image, "-c", SECURITY_SCRIPT, "sh", *names],
                       check=True, stdout=subprocess.DEVNULL, timeout=600)
        put = []
        for deb in sorted(Path(tmp).glob("*.deb")):
            name = deb.name.split("_", 1)[0]
            old = [p for p in packages.glob(f"{name}_*.deb") if p.name != deb.name]
            if old and not (packages / deb.name).exists():
                for path in old:
                    path.unlink()
                shutil.copyfile(deb, packages / deb.name)
                put.append(deb.name)
        return put


def forget_host_keys(cluster: DemoCluster, runs_dir: Path) -> None:
    """New containers have new SSH host keys: the cluster's known_hosts (trust on first use)
    would refuse them as changed keys."""
    (runs_dir / "state" / cluster.name / "known_hosts").unlink(missing_ok=True)


def prepare(cluster: DemoCluster, folder: Path, bundle: Path | None = None, reuse: bool = False,
            runs_dir: Path | None = None) -> Path:
    """Bundle, containers and config.cfg under folder; returns the config path. With reuse,
    running containers of the cluster are kept (a second --demo installs into them again).
    runs_dir: where the runs of this cluster are recorded (its known host keys are forgotten
    when new containers are made)."""
    folder.mkdir(parents=True, exist_ok=True)
    bundle = bundle or folder / "bundle"
    build_bundle(bundle, folder / "standins", tuple(sorted(set(cluster.releases.values()) - {"debian12"})))
    grow = cluster.missing() if reuse else None
    if reuse and cluster.running():
        key = ssh_keypair(folder)
    elif grow:
        # More agents than the running demo has: only the new ones are made; the install that
        # follows adds them and leaves the rest as it is.
        key = ssh_keypair(folder)
        add_nodes(grow, cluster.network, key, cluster.label)
    else:
        key = cluster.create(folder)
        if runs_dir is not None:
            forget_host_keys(cluster, runs_dir)
    assert_air_gapped(cluster)
    config = folder / "config.cfg"
    config.write_text(cluster.config_text(key, bundle))
    return config


# What an air-gapped host must not reach: the Debian mirror, the Python package index.
OUTSIDE = (("deb.debian.org", 80), ("pypi.org", 443), ("files.pythonhosted.org", 443))
_REACH = """
import json, socket, sys
reached = []
for host, port in json.load(sys.stdin):
    try:
        socket.create_connection((host, port), 3).close()
        reached.append(host)
    except OSError:
        pass
print(json.dumps(reached))
"""


def reachable_from(container: str, targets=OUTSIDE) -> list[str]:
    """The targets (host, port) a container connects to (its own python3 tries each, 3 s)."""
    out = docker("exec", "-i", container, "python3", "-c", _REACH, stdin=json.dumps(list(targets)), timeout=60,
                 check=False).stdout.strip()
    if not out.startswith("["):
        raise DemoError(f"cannot probe the network from {container}: {out[-300:]!r}")
    return json.loads(out)


def assert_air_gapped(cluster: DemoCluster) -> None:
    """No host may reach the Debian mirror: everything must come from the bundle. (Every
    container tries at once: each try that is refused costs its 3 s timeout.)"""
    with ThreadPoolExecutor(max_workers=max(1, len(cluster.nodes))) as pool:
        reached = list(pool.map(lambda node: reachable_from(node.container, OUTSIDE[:1]), cluster.nodes))
    for node, hosts in zip(cluster.nodes, reached, strict=True):
        if hosts:
            raise DemoError(f"{node.name} reaches deb.debian.org: the cluster network is not air-gapped")
