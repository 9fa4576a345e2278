"""What a host was installed as, against this run: the same cluster, masters in the same order,
the same MySQL pair and secrets pass; anything else is a FAIL naming what changed and what to
do, before any phase runs. A secret config.cfg gives is the operator's change and passes."""

from pathlib import Path

from installer.config import load_config
from installer.identity import differences, identity, secret_hash
from installer.precheck.checks.identity import cluster_identity
from installer.precheck.model import Context, HostObservation, Status
from installer.secrets import ensure_secrets

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"


def _cfg(tmp_path, text=None):
    path = tmp_path / "config.cfg"
    path.write_text(text or EXAMPLE.read_text())
    return load_config(path)


def _observe(cfg, recorded):
    host = cfg.find_host("master1")
    return HostObservation(host=host, groups=cfg.groups_of(host),
                           probe={"local_facts": {"dcos_cluster": recorded} if recorded is not None else {}})


def _check(cfg, recorded, secrets, given=frozenset()):
    ctx = Context(cfg=cfg, hosts={}, identity=identity(cfg, secrets), given_secrets=set(given))
    return cluster_identity(_observe(cfg, recorded), ctx)


def test_the_same_cluster_passes_and_a_new_host_too(tmp_path):
    cfg = _cfg(tmp_path)
    _, secrets = ensure_secrets(cfg, tmp_path / "runs")
    installed = identity(cfg, secrets)
    assert [r.status for r in _check(cfg, installed, secrets)] == [Status.PASS]
    assert _check(cfg, None, secrets)[0].message == "not installed yet"


def test_reordered_or_replaced_masters_are_refused(tmp_path):
    cfg = _cfg(tmp_path)
    _, secrets = ensure_secrets(cfg, tmp_path / "runs")
    installed = identity(cfg, secrets)
    text = EXAMPLE.read_text().replace("master1 = 10.0.0.11\nmaster2 = 10.0.0.12",
                                       "master2 = 10.0.0.12\nmaster1 = 10.0.0.11")
    reordered = _cfg(tmp_path, text)
    results = _check(reordered, installed, secrets)
    assert [r.status for r in results] == [Status.FAIL]
    assert results[0].message.startswith("masters: the masters were 10.0.0.11 (id 1), 10.0.0.12 (id 2)")
    assert "replace-master" in results[0].fix


def test_lost_secrets_are_refused_naming_them_never_showing_them(tmp_path):
    cfg = _cfg(tmp_path)
    _, secrets = ensure_secrets(cfg, tmp_path / "runs")
    installed = identity(cfg, secrets)
    _, regenerated = ensure_secrets(cfg, tmp_path / "other-runs")  # a lost runs/ folder
    results = _check(cfg, installed, regenerated)
    assert [r.status for r in results] == [Status.FAIL]
    assert "consul_gossip_key" in results[0].message and "mysql_root_password" in results[0].message
    assert all(value not in results[0].message + results[0].fix for value in regenerated.values())
    assert "restore runs/secrets" in results[0].fix


def test_a_secret_given_in_config_is_a_deliberate_change(tmp_path):
    cfg = _cfg(tmp_path)
    _, secrets = ensure_secrets(cfg, tmp_path / "runs")
    installed = identity(cfg, secrets)
    changed = {**secrets, "marathon_password": "New-Given-Password-1"}
    assert [r.status for r in _check(cfg, installed, changed, given={"marathon_password"})] == [Status.PASS]
    assert [r.status for r in _check(cfg, installed, changed)] == [Status.FAIL]


def test_another_cluster_and_a_moved_mysql_pair_are_refused(tmp_path):
    cfg = _cfg(tmp_path)
    _, secrets = ensure_secrets(cfg, tmp_path / "runs")
    installed = identity(cfg, secrets)
    other = dict(installed, cluster="prod")
    assert "belongs to cluster 'prod'" in _check(cfg, other, secrets)[0].message
    moved = _cfg(tmp_path, EXAMPLE.read_text().replace("master = agent1\nslave = agent2",
                                                       "master = agent2\nslave = agent1"))
    found = differences(installed, identity(moved, secrets), set())
    assert [what for what, _ in found] == ["mysql"]


def test_the_hash_is_salted_by_cluster_and_name_and_is_not_the_value():
    digest = secret_hash("demo", "mysql_root_password", "Some-Secret-Value-1")
    assert digest != secret_hash("prod", "mysql_root_password", "Some-Secret-Value-1")
    assert digest != secret_hash("demo", "other", "Some-Secret-Value-1")
    assert "Some-Secret" not in digest and len(digest) == 32


def test_a_moved_data_folder_is_refused(tmp_path):
    cfg = _cfg(tmp_path)
    _, secrets = ensure_secrets(cfg, tmp_path / "runs")
    installed = identity(cfg, secrets)
    moved = _cfg(tmp_path, EXAMPLE.read_text().replace("data_dir = /var/lib/mysql", "data_dir = /srv/mysql"))
    results = _check(moved, installed, secrets)
    assert [r.status for r in results] == [Status.FAIL]
    assert results[0].message == "data_dirs: data folders changed: mysql was /var/lib/mysql, now /srv/mysql"
