"""restore --rehearse, the parts that need no container: the archive's config moved to the
rehearsal's network (every host's address, wherever it is written; the site's keys and
nothing else), the hosts named as the archive names them, and the refusals before anything
is made. The rehearsal itself runs in tests/e2e/test_cluster.py on the e2e cluster's backup."""

import ipaddress
from pathlib import Path

import pytest

from installer.cli import main
from installer.config import load_config
from installer.rehearse import (
    HARDWARE,
    Rehearsal,
    RehearsalError,
    defined_hosts,
    plan_hosts,
    rewrite_config,
    site_values,
)
from tests.unit.test_restore import made  # noqa: F401 - the fixture

TOP = Path(__file__).resolve().parents[2]

# A config an operator wrote by hand: bare addresses, an ssh= management address, the MySQL
# master named by its address, inline comments, a key of the site the example lacks.
HAND_WRITTEN = """\
[cluster]
name = prod
ssh_user = ops   # the operators' account
ssh_key_file = /home/ops/.ssh/id_ed25519
admin_networks = 192.168.7.0/24
[installer]
10.1.0.5
[masters]
zk-a = 10.1.0.11 ssh=mgmt-a.example
zk-b = 10.1.0.12
zk-c = 10.1.0.13
[agents]
10.1.0.21
w2 = 10.1.0.22
[lb]
zk-a
zk-b
[keepalived]
vip = 10.1.0.100/24
interface = ens192
[mysql]
master = 10.1.0.21
slave = w2
[repo]
bundle = /srv/dcos/bundle
[ntp]
upstream = 10.1.0.1, ntp.example
[haproxy]
extra_frontends = grafana:3000:10.1.0.22:3000
"""


def _rehearsal(text: str, subnet: str = "172.29.60.0/24") -> Rehearsal:
    rehearsal = Rehearsal(backup=None, subnet=subnet)
    plan_hosts(rehearsal, text)
    return rehearsal


def test_every_defined_host_once_in_the_order_written():
    assert defined_hosts(HAND_WRITTEN) == [
        (None, "10.1.0.5"), ("zk-a", "10.1.0.11"), ("zk-b", "10.1.0.12"), ("zk-c", "10.1.0.13"),
        (None, "10.1.0.21"), ("w2", "10.1.0.22")]
    rehearsal = _rehearsal(HAND_WRITTEN)
    assert rehearsal.hosts[0] == ("host-10-1-0-5", "10.1.0.5") and rehearsal.hosts[1] == ("zk-a", "10.1.0.11")
    assert rehearsal.addresses["10.1.0.5"] == "172.29.60.10" and rehearsal.addresses["10.1.0.22"] == "172.29.60.15"
    assert rehearsal.vip == "172.29.60.250/24"


def test_the_config_moves_every_address_and_sets_only_the_sites_keys(tmp_path):
    rehearsal = _rehearsal(HAND_WRITTEN)
    values = site_values(rehearsal, tmp_path / "key", tmp_path / "bundle", has_vip=True)
    text = rewrite_config(HAND_WRITTEN, rehearsal.addresses, values)
    assert not any(old in text for old in rehearsal.addresses), text  # no address of the site is left
    assert "zk-a = 172.29.60.11\n" in text and "ssh=" not in text  # Ansible logs in to the container
    assert "\n172.29.60.10\n" in text and "master = 172.29.60.14\n" in text and "slave = w2\n" in text
    assert "extra_frontends = grafana:3000:172.29.60.15:3000\n" in text
    assert "ssh_user = dcos\n" in text and f"ssh_key_file = {tmp_path / 'key'}\n" in text
    assert "admin_networks = 172.29.60.0/24\n" in text and "vip = 172.29.60.250/24\n" in text
    assert "interface = \n" in text and f"bundle = {tmp_path / 'bundle'}\n" in text
    assert "[precheck]\nmaster_min_cpus = 1\n" in text  # a missing section is added with the keys
    assert "[cluster]\nname = prod\n" in text and "slave = w2" in text  # the rest as written


def test_an_address_that_is_no_host_of_the_cluster_stays():
    rehearsal = _rehearsal(HAND_WRITTEN)
    text = rewrite_config(HAND_WRITTEN, rehearsal.addresses, {})
    assert "upstream = 10.1.0.1, ntp.example\n" in text  # the site's NTP server, not a cluster host


def test_the_example_config_moved_to_the_rehearsal_validates(tmp_path):
    example = (TOP / "config.cfg.example").read_text()
    rehearsal = _rehearsal(example, "10.250.0.0/22")
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")
    key.chmod(0o600)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    path = tmp_path / "config.cfg"
    path.write_text(rewrite_config(example, rehearsal.addresses, site_values(rehearsal, key, bundle, True)))
    cfg = load_config(path)
    net = ipaddress.ip_network("10.250.0.0/22")
    assert all(h.ip in net for h in cfg.all_hosts())
    assert [h.id for h in cfg.group("masters")] == ["master1", "master2", "master3"]
    assert cfg.mysql_master.id == "agent1" and cfg.keepalived.vip.ip in net
    assert cfg.precheck.master_min_cpus == int(HARDWARE[("precheck", "master_min_cpus")])


def test_a_cluster_larger_than_the_network_is_refused():
    text = "[installer]\n10.0.0.5\n[masters]\n" + "".join(f"m{i} = 10.0.1.{i}\n" for i in range(1, 250))
    with pytest.raises(RehearsalError, match="do not fit"):
        _rehearsal(text)


@pytest.mark.parametrize(("args", "message"), [
    (["restore", "ARCHIVE"], "restore needs the cluster's config.cfg"),
    (["restore", "--rehearse"], "give the backup archive"),
    (["restore", "ARCHIVE", "--rehearse", "--limit", "master1"], "--limit: not with restore --rehearse"),
    (["restore", "ARCHIVE", "--rehearse", "--subnet", "10.0.0.0/28"], "give a /24 or larger"),
    (["restore", "ARCHIVE", "--rehearse", "--subnet", "no-net"], "--subnet no-net"),
    (["restore", "missing.tar.gz", "--rehearse"], "no such file"),
])
def test_a_rehearsal_refuses_before_anything_is_made(made, capsys, args, message):  # noqa: F811
    _, runs, path = made
    before = sorted(p.name for p in runs.iterdir())
    assert main([str(path) if a == "ARCHIVE" else a for a in args] + ["--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == before


@pytest.mark.parametrize(("args", "message"), [
    (["CONFIG", "--keep"], "--keep and --subnet go with restore ARCHIVE --rehearse"),
    (["CONFIG", "backup", "--rehearse"], "--rehearse goes with restore"),
])
def test_the_rehearsals_options_go_with_it_only(made, capsys, args, message):  # noqa: F811
    cfg, runs, _ = made
    assert main([str(cfg.path) if a == "CONFIG" else a for a in args] + ["--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err


def test_a_config_of_another_cluster_is_refused(made, capsys, tmp_path):  # noqa: F811
    cfg, runs, path = made
    other = tmp_path / "other.cfg"
    other.write_text(cfg.path.read_text().replace("name = demo", "name = other", 1))
    assert main([str(other), "restore", str(path), "--rehearse", "--runs-dir", str(runs)]) == 2
    assert "the archive is of cluster 'demo'" in capsys.readouterr().err


def test_the_archives_bundle_is_used_when_it_verifies_here(tmp_path, monkeypatch):
    """The config's bundle, absolute or relative to where the rehearsal starts, when it is a
    Debian 12 bundle that verifies; the demo's otherwise (made from the checkout)."""
    from installer import rehearse
    from installer.bundle import BundleReport

    built = []
    monkeypatch.setattr("installer.demo.build_bundle", lambda out, standins: built.append(out))
    monkeypatch.setattr("installer.bundle.verify_bundle",
                        lambda path: BundleReport(path=path, os="debian12" if path.name == "good" else "el8"))
    (tmp_path / "good").mkdir()
    (tmp_path / "el").mkdir()
    monkeypatch.chdir(tmp_path)
    assert rehearse.choose_bundle("[repo]\nbundle = good\n", tmp_path / "r")[0] == tmp_path / "good"
    assert rehearse.choose_bundle(f"[repo]\nbundle = {tmp_path / 'good'}\n", tmp_path / "r")[0] == tmp_path / "good"
    assert built == []
    for text in ("[repo]\nbundle = el\n", "[repo]\nbundle = missing\n", "[cluster]\nname = x\n"):
        path, why = rehearse.choose_bundle(text, tmp_path / "r")
        assert path == tmp_path / "r" / "bundle" and "the demo's" in why
    assert len(built) == 3
