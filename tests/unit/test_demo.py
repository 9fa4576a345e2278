"""The demo cluster's config.cfg (also the end-to-end test's): config.cfg.example with only
hosts, addresses, VIP, SSH login and bundle changed, and valid; the URLs a run prints."""

from pathlib import Path

import pytest

from installer.config import load_config
from installer.demo import DemoCluster, DemoError, make_config
from installer.endpoints import endpoints


def _config(tmp_path, agents=2):
    cluster = DemoCluster(agents=agents)
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o600)
    (tmp_path / "bundle").mkdir()
    path = tmp_path / "config.cfg"
    path.write_text(cluster.config_text(key, tmp_path / "bundle"))
    return cluster, path


def test_the_demo_config_is_the_example_with_only_hosts_vip_and_login_changed(tmp_path):
    from installer.demo import TOP

    _, path = _config(tmp_path)
    cfg = load_config(path)
    assert [(h.name, str(h.ip)) for h in cfg.group("masters")] == [
        ("master1", "172.29.50.11"), ("master2", "172.29.50.12"), ("master3", "172.29.50.13")]
    assert [h.name for h in cfg.group("agents")] == ["agent1", "agent2"]
    assert [h.name for h in cfg.group("lb")] == ["master1", "master2"]
    assert str(cfg.keepalived.vip) == "172.29.50.250/24" and cfg.cluster.ssh_user == "dcos"
    assert (cfg.mysql_master.name, cfg.mysql_slave.name) == ("agent1", "agent2")
    example = (TOP / "config.cfg.example").read_text().splitlines()
    written = path.read_text().splitlines()
    # every comment of the example is still there, in order
    assert [line for line in written if line.startswith("#")] == [line for line in example if line.startswith("#")]
    changed = set(written) - set(example)
    assert all(line.split(" =")[0] in {"name", "ssh_user", "ssh_key_file", "vip", "bundle", "installer"}
               or line.startswith(("master", "agent")) for line in changed), changed


def test_more_agents_get_their_own_addresses(tmp_path):
    _, path = _config(tmp_path, agents=8)
    cfg = load_config(path)
    assert [str(h.ip) for h in cfg.group("agents")][-1] == "172.29.50.28"
    with pytest.raises(DemoError):
        DemoCluster(agents=0)


def test_a_key_the_example_lacks_is_an_error():
    with pytest.raises(DemoError, match=r"\[cluster\] nope"):
        make_config("[cluster]\nname = x\n", {}, {("cluster", "nope"): "1"})


def test_the_urls_go_through_the_vip_or_the_first_master(tmp_path):
    _, path = _config(tmp_path)
    links = {e.name: e.url for e in endpoints(load_config(path))}
    assert links["Marathon"] == "https://172.29.50.250/"
    assert links["Mesos"] == "https://172.29.50.250:8050/"
    assert links["Consul"] == "https://172.29.50.250:8550/ui/"
    assert links["HAProxy stats"] == "https://172.29.50.250:9090/"
    assert links["Cluster CA"].endswith("runs/state/demo/registry-pki/ca.crt")
    assert links["Docker registry"] == "https://172.29.50.10:5000/v2/"
    assert links["MySQL"] == "mysql-vip.service.consul:3306"
    bare = tmp_path / "bare.cfg"
    bare.write_text("[cluster]\nname = x\n[installer]\ni = 10.0.0.5\n[masters]\nm = 10.0.0.11\n[agents]\nm\n")
    links = {e.name: e.url for e in endpoints(load_config(bare))}
    assert links["Marathon"] == "http://10.0.0.11:8080/" and links["Mesos"] == "http://10.0.0.11:5050/"
    assert "MySQL" not in links and "HAProxy stats" not in links


def test_the_demo_bundle_is_made_again_only_when_its_inputs_change_or_it_breaks(tmp_path, monkeypatch):
    """A demo re-run does not resolve the bundle in a container again when nothing it is made
    from changed and it still verifies; a new node image, or a damaged bundle, makes it again."""
    import hashlib
    import json
    import subprocess

    from installer import demo

    made = []
    real_run = subprocess.run

    def run(cmd, *args, **kwargs):
        if str(cmd[0]).endswith("install.sh"):  # the bundle's resolution in a container: made up here
            made.append(cmd)
            out = tmp_path / "bundle"
            out.mkdir(exist_ok=True)
            (out / "a.deb").write_bytes(b"package")
            entry = {"path": "a.deb", "size": 7, "sha256": hashlib.sha256(b"package").hexdigest(), "kind": "package",
                     "name": "a"}
            (out / "manifest.json").write_text(json.dumps({"format": 1, "files": [entry]}))
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return real_run(cmd, *args, **kwargs)

    image = {"id": "sha256:one"}
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(demo, "docker", lambda *a, **k: subprocess.CompletedProcess(a, 0, image["id"] + "\n", ""))
    standins = tmp_path / "standins"
    demo.build_bundle(tmp_path / "bundle", standins)
    assert len(made) == 1 and sorted(p.name for p in standins.glob("*.deb"))  # the stand-ins were built for real
    demo.build_bundle(tmp_path / "bundle", standins)
    assert len(made) == 1  # same inputs, the bundle verifies: used as it is
    image["id"] = "sha256:two"
    demo.build_bundle(tmp_path / "bundle", standins)
    assert len(made) == 2  # a rebuilt node image
    (tmp_path / "bundle" / "a.deb").write_bytes(b"pack")
    demo.build_bundle(tmp_path / "bundle", standins)
    assert len(made) == 3  # a truncated package


def test_hosts_of_another_release_get_its_image_and_its_sub_bundle(tmp_path, monkeypatch):
    """A cluster that mixes Debian 11 into Debian 12 (the e2e cluster's master3): that host's
    container is of the bullseye node image, and the bundle gets targets/debian11/, resolved in
    that image, made again only when its own inputs change."""
    import hashlib
    import json
    import subprocess

    from installer import demo

    cluster = DemoCluster(prefix="x", releases={"master3": "debian11"})
    others = {n.name: n.image for n in cluster.nodes if n.image != demo.IMAGE}
    assert others == {"master3": "dcos-testbed/node:bullseye"}
    with pytest.raises(DemoError, match="releases"):
        DemoCluster(releases={"master9": "debian11"})
    with pytest.raises(DemoError, match="releases"):
        DemoCluster(releases={"master3": "debian10"})

    made = []
    real_run = subprocess.run

    def run(cmd, *args, **kwargs):
        if str(cmd[0]).endswith("install.sh"):
            made.append((cmd[cmd.index("--target") + 1], cmd[cmd.index("--image") + 1]))
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "a.deb").write_bytes(b"package")
            entry = {"path": "a.deb", "size": 7, "sha256": hashlib.sha256(b"package").hexdigest(), "kind": "package",
                     "name": "a"}
            release = cmd[cmd.index("--target") + 1]
            (out / "manifest.json").write_text(json.dumps({"format": 1, "os": release, "files": [entry]}))
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return real_run(cmd, *args, **kwargs)

    ids = {"dcos-testbed/node:bookworm": "sha256:12", "dcos-testbed/node:bullseye": "sha256:11"}
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(demo, "docker", lambda *a, **k: subprocess.CompletedProcess(a, 0, ids[a[-1]] + "\n", ""))
    bundle, standins = tmp_path / "bundle", tmp_path / "standins"
    demo.build_bundle(bundle, standins, ("debian11",))
    assert made == [("debian12", "dcos-testbed/node:bookworm"), ("debian11", "dcos-testbed/node:bullseye")]
    assert set(demo.verify_bundle(bundle).releases) == {"debian12", "debian11"}
    demo.build_bundle(bundle, standins, ("debian11",))
    assert len(made) == 2
    ids["dcos-testbed/node:bullseye"] = "sha256:11b"
    demo.build_bundle(bundle, standins, ("debian11",))
    assert made[2:] == [("debian11", "dcos-testbed/node:bullseye")]  # only the release whose image changed


def test_destroy_removes_the_agents_added_since_and_then_the_network(monkeypatch):
    """`--demo --destroy` (two agents by default) after `--demo --agents 3`: agent3 goes too,
    before the network (docker keeps a network a container is attached to)."""
    import subprocess

    from installer import demo

    calls = []

    def docker(*args, **kwargs):
        calls.append(args)
        out = "dcos-demo-agent3\ndcos-demo-master1\n" if args[:2] == ("ps", "-a") else ""
        return subprocess.CompletedProcess(args, 0, out, "")

    monkeypatch.setattr(demo, "docker", docker)
    cluster = DemoCluster()
    cluster.destroy()
    listed = next(a for a in calls if a[:2] == ("ps", "-a"))
    assert "name=^dcos-demo-" in listed and f"label={cluster.label}" in listed  # its own containers only
    removed = [a[3] for a in calls if a[:3] == ("rm", "-f", "-v")]
    assert set(removed) == {n.container for n in cluster.nodes} | {"dcos-demo-agent3"}
    assert calls[-1] == ("network", "rm", cluster.network)
