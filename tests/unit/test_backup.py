"""./install.sh config.cfg backup: the archive the controller writes from the hosts' parts and
its own files (layout, manifest, SHA256SUMS, mode, no secret outside secrets/), no archive when
a part is missing, the plan and the refusals. The run on a real cluster (a ZooKeeper follower
stopped for the copy, the dump from the MySQL slave) is in the e2e cluster test."""

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from installer.backup import SLAVE_LAG_MAX, assemble, plan, wanted
from installer.cli import main
from installer.config import load_config
from installer.secrets import ensure_secrets

TOP = Path(__file__).resolve().parents[2]


def make_site(tmp_path):
    """The example config (with one secret given in it, Given-Secret-77x) and a runs/ folder."""
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(TOP / "config.cfg.example", folder / "config.cfg")
    text = (folder / "config.cfg").read_text().replace("stats_password =", "stats_password = Given-Secret-77x", 1)
    (folder / "config.cfg").write_text(text)
    return load_config(folder / "config.cfg"), tmp_path / "runs"


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path)


def _run(cfg, runs, out=None):
    run_dir = runs / f"20261201-100000-{cfg.cluster.name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(cfg=cfg, run_dir=SimpleNamespace(path=run_dir),
                           options=SimpleNamespace(runs_dir=runs, archive_out=out))


def _fetched(tmp_path, cfg, parts=None):
    fetched = tmp_path / "fetched"
    (fetched / "records").mkdir(parents=True)
    zk = io.BytesIO()
    with tarfile.open(fileobj=zk, mode="w:gz") as tar:
        data = b"snapshot bytes"
        info = tarfile.TarInfo("version-2/snapshot.100000000")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    files = {"zookeeper.tar.gz": zk.getvalue(), "mysql.sql.gz": gzip.compress(b"INSERT INTO `t` VALUES (1);\n"),
             "mysql-accounts.sql.gz": gzip.compress(b"CREATE USER IF NOT EXISTS `app`@`%`;\n"),
             "source-zookeeper": b"master2\n",
             "source-mysql": b"agent2\nthe slave, replicating (0 s behind the master)\n"}
    for name, data in files.items():
        if parts is None or name in parts:
            (fetched / name).write_bytes(data)
    for host in cfg.all_hosts():
        (fetched / "records" / f"{host.id}.json").write_text(json.dumps(
            {"records": {"dcos_docker": {"installed_by": "dcos-installer"}}, "packages": {"docker.io": "20.10"}}))
    return fetched


def test_the_archive_holds_every_part_with_checksums_and_secrets_only_in_secrets(site, tmp_path):
    cfg, runs = site
    _, values = ensure_secrets(cfg, runs)
    (runs / "secrets" / f"{cfg.cluster.name}-gpg").mkdir()
    (runs / "secrets" / f"{cfg.cluster.name}-gpg" / "pubring.kbx").write_bytes(b"keyring")
    pki = runs / "state" / cfg.cluster.name / "registry-pki"
    pki.mkdir(parents=True)
    (pki / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\nCAKEY\n")
    path, manifest = assemble(_run(cfg, runs), _fetched(tmp_path, cfg))
    assert path is not None and path.stat().st_mode & 0o077 == 0
    with tarfile.open(path) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar}
    top = {"manifest.json", "SHA256SUMS", "config.cfg", "zookeeper/data.tar.gz", "mysql/databases.sql.gz",
           "secrets/mysql-accounts.sql.gz", "secrets/secrets.yml", "secrets/config.cfg", "secrets/gpg/pubring.kbx",
           "secrets/registry-pki/ca.key"}
    assert top <= set(members), sorted(members)
    assert {f"records/{h.id}.json" for h in cfg.all_hosts()} <= set(members)
    for line in members["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(members[name]).hexdigest() == digest, name
    manifest = json.loads(members["manifest.json"])
    assert manifest["complete"] and manifest["parts"]["zookeeper"]["from"] == "master2"
    assert manifest["parts"]["mysql"]["from"] == "agent2"
    assert manifest["parts"]["mysql"]["why"] == "the slave, replicating (0 s behind the master)"
    assert manifest["parts"]["mysql"]["accounts"] == "secrets/mysql-accounts.sql.gz"  # password hashes: secrets
    assert manifest["versions"][cfg.all_hosts()[0].id] == {"docker.io": "20.10"}
    secrets = [v for v in values.values() if len(v) >= 8] + ["Given-Secret-77x", "CAKEY"]
    leaks = [(name, s) for name, data in members.items() if not name.startswith("secrets/")
             for s in secrets if s.encode() in data]
    assert leaks == []
    assert b"Given-Secret-77x" in members["secrets/config.cfg"]  # the config as written, in the secrets part


def test_no_archive_when_a_host_or_the_run_failed(site, tmp_path):
    cfg, runs = site
    ensure_secrets(cfg, runs)
    fetched = _fetched(tmp_path, cfg)
    gone = cfg.all_hosts()[-1].id
    (fetched / "records" / f"{gone}.json").unlink()
    path, manifest = assemble(_run(cfg, runs), fetched)
    assert path is None and f"not fetched from {gone}" in manifest["missing"]["records"]
    run = _run(cfg, runs)
    run.results = [SimpleNamespace(phase="backup", status="failed")]
    path, manifest = assemble(run, _fetched(tmp_path / "again", cfg))
    assert path is None and "did not succeed" in manifest["missing"]["run"]


def test_no_archive_when_a_part_is_missing(site, tmp_path):
    cfg, runs = site
    ensure_secrets(cfg, runs)
    path, manifest = assemble(_run(cfg, runs), _fetched(tmp_path, cfg, parts={"zookeeper.tar.gz"}))
    if "mysql.sql.gz" in wanted(cfg):
        assert path is None and not manifest["complete"] and "mysql.sql.gz" in manifest["missing"]
        assert not list((runs / f"20261201-100000-{cfg.cluster.name}").glob("*.tar.gz"))


def test_the_plan_says_what_stops(site):
    cfg, _ = site
    text = plan(cfg)
    assert "ZooKeeper: the data of one follower, stopped for the copy" in text
    assert "secrets/: the cluster's secrets" in text


@pytest.mark.parametrize(("args", "message"), [
    (["backup", "--hosts", "master1"], "--hosts: not with backup"),
    (["backup", "--check"], "--check: not with backup"),
    (["backup", "--since", "1h"], "--since: not with backup"),
    (["backup"], "pass --yes"),
])
def test_backup_refuses_before_any_host(site, capsys, args, message):
    cfg, runs = site
    assert main([str(cfg.path), *args, "--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err
    assert not runs.exists()


SLAVE_OK = """*************************** 1. row ***************************
                Slave_IO_State: Waiting for master to send event
                   Master_Host: 172.29.40.21
                   Master_User: repl
              Slave_IO_Running: Yes
             Slave_SQL_Running: Yes
                    Last_Error:
         Seconds_Behind_Master: 0
"""


def _dump_source(stdout: str, rc: int = 0, stderr: str = "") -> dict:
    """Where playbooks/backup.yml takes the MySQL dump, for the slave's SHOW SLAVE STATUS\\G,
    as Ansible templates its decision (the task's own Jinja, not a copy of it)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    plays = yaml.safe_load((Path(__file__).resolve().parents[2] / "playbooks" / "backup.yml").read_text())
    play = next(p for p in plays if p["name"].startswith("Dump MySQL"))
    task = next(t for t in play["tasks"] if t["name"] == "Choose where the dump is taken")
    variables = {**task["vars"], "dcos_backup_slave_lag_max": SLAVE_LAG_MAX,
                 "groups": {"mysql_slave": ["agent2"], "mysql_master": ["agent1"]},
                 "hostvars": {"agent2": {"__backup_slave_status": {
                     "rc": rc, "stdout_lines": stdout.splitlines(), "stderr": stderr}}}}
    templar = Templar(loader=DataLoader(), variables=variables)
    return {name: templar.template(value) for name, value in task["ansible.builtin.set_fact"].items()}


@pytest.mark.parametrize(("stdout", "rc", "source", "why"), [
    (SLAVE_OK, 0, "agent2", "the slave, replicating (0 s behind the master)"),
    (SLAVE_OK.replace("Seconds_Behind_Master: 0", "Seconds_Behind_Master: 60"), 0, "agent2", "60 s behind"),
    (SLAVE_OK.replace("Seconds_Behind_Master: 0", "Seconds_Behind_Master: 61"), 0, "agent1",
     "the master: the slave agent2 is 61 s behind the master (more than 60)"),
    (SLAVE_OK.replace("Slave_SQL_Running: Yes", "Slave_SQL_Running: No").replace(
        "Seconds_Behind_Master: 0", "Seconds_Behind_Master: NULL"), 0, "agent1",
     "the master: the slave agent2 does not replicate (Slave_IO_Running: Yes, Slave_SQL_Running: No)"),
    (SLAVE_OK.replace("Slave_IO_Running: Yes", "Slave_IO_Running: Connecting"), 0, "agent1", "Connecting"),
    ("", 0, "agent1", "the master: the slave agent2 is not set up as a slave (SHOW SLAVE STATUS is empty)"),
    ("", 1, "agent1", "the master: the slave agent2 does not answer (ERROR 2002 (HY000): Can't connect)"),
], ids=["replicating", "60-s-behind", "61-s-behind", "sql-thread-stopped", "io-connecting", "not-a-slave", "down"])
def test_the_dump_is_taken_on_the_master_when_the_slave_does_not_replicate(stdout, rc, source, why):
    chosen = _dump_source(stdout, rc, "ERROR 2002 (HY000): Can't connect\n" if rc else "")
    assert chosen["__backup_mysql_from"] == source
    assert why in chosen["__backup_mysql_why"], chosen
