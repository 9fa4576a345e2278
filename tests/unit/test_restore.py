"""./install.sh config.cfg restore ARCHIVE, before any host is contacted: the archive checked
whole (sums, layout, manifest, ZooKeeper's part), against this cluster (its name, its
secrets), the secrets put back on a controller that has none, and the refusals. The restore on
a real cluster (an app and a row deleted, then back) is in the e2e cluster test."""

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from installer.backup import assemble
from installer.cli import main
from installer.restore import (
    ACCOUNTS,
    MYSQL,
    ZOOKEEPER,
    BadArchive,
    check_against,
    open_backup,
    plan,
    run_options,
    secrets_state,
)
from installer.secrets import ensure_secrets
from tests.unit.test_backup import _fetched, _run, make_site

TOP = Path(__file__).resolve().parents[2]


@pytest.fixture
def made(tmp_path):
    """A cluster's config, its runs/ with secrets and a CA, and a backup archive of it."""
    cfg, runs = make_site(tmp_path)
    ensure_secrets(cfg, runs)
    pki = runs / "state" / cfg.cluster.name / "registry-pki"
    pki.mkdir(parents=True)
    (pki / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\nCAKEY\n")
    fetched = _fetched(tmp_path, cfg)
    (fetched / "mysql-databases").write_text("shop\n")
    path, manifest = assemble(_run(cfg, runs), fetched)
    assert path is not None, manifest
    return cfg, runs, path


def _members(path: Path) -> tuple[str, dict[str, bytes]]:
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    top = next(iter(files)).split("/", 1)[0]
    return top, {name.split("/", 1)[1]: data for name, data in files.items()}


def _repack(path: Path, members: dict[str, bytes], top: str, *, sums: bool = True, extra=()) -> Path:
    """The archive written again with these members (and SHA256SUMS made for them when sums)."""
    if sums:
        members = {**members, "SHA256SUMS": "".join(
            f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(members.items())
            if n not in ("SHA256SUMS", "manifest.json")).encode()}
        manifest = json.loads(members["manifest.json"])
        manifest["files"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
                             for n, d in members.items() if n not in ("SHA256SUMS", "manifest.json")}
        members["manifest.json"] = json.dumps(manifest).encode()
    out = path.with_name("changed.tar.gz")
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return out


def test_a_whole_archive_opens_into_a_private_folder_and_gives_the_plan(made):
    cfg, runs, path = made
    backup = open_backup(path)
    try:
        assert backup.cluster == cfg.cluster.name and backup.databases == ["shop"]
        assert backup.folder.stat().st_mode & 0o077 == 0
        assert all(p.stat().st_mode & 0o077 == 0 for p in backup.files.values())
        assert check_against(cfg, backup) == []
        assert secrets_state(cfg, backup, runs).state == "same"
        text = plan(cfg, backup, path.stat().st_size)
        assert "DOWN" in text and "version-2.pre-restore" in text
        if cfg.mysql is not None:
            assert "shop each dropped and loaded" in text
        parts = run_options(backup).extravars["dcos_restore"]
        assert Path(parts["zookeeper"]).read_bytes() == backup.files[ZOOKEEPER].read_bytes()
        assert "mysql" in parts and Path(parts["mysql"]) == backup.files[MYSQL]
        assert Path(parts["mysql_accounts"]) == backup.files[ACCOUNTS]
    finally:
        backup.close()
    assert not backup.folder.exists()


@pytest.mark.parametrize(("change", "message"), [
    ("byte", "changed: config.cfg"),
    ("added", "not in SHA256SUMS: extra.txt"),
    ("missing", "missing: config.cfg"),
    ("incomplete", "not complete"),
    ("escape", "is not a file inside the backup's folder"),
    ("link", "is not a file inside the backup's folder"),
    ("zk-outside", "is not in version-2/"),
    ("no-snapshot", "no snapshot in it"),
    ("no-zookeeper", "zookeeper/data.tar.gz is not in it"),
    ("truncated", "not whole"),
    ("no-accounts", "needs both"),
    ("not-tar", "not a backup archive"),
])
def test_a_damaged_or_foreign_archive_is_refused_before_any_host(made, change, message):
    _, _, path = made
    top, members = _members(path)
    if change == "byte":
        members["config.cfg"] += b"#"
        path = _repack(path, members, top, sums=False)
    elif change == "added":
        path = _repack(path, {**members, "extra.txt": b"x"}, top, sums=False)
    elif change == "no-accounts":
        del members[ACCOUNTS]
        path = _repack(path, members, top)
    elif change == "missing":
        del members["config.cfg"]
        path = _repack(path, members, top, sums=False)
    elif change == "incomplete":
        manifest = json.loads(members["manifest.json"])
        manifest["complete"] = False
        path = _repack(path, {**members, "manifest.json": json.dumps(manifest).encode()}, top, sums=False)
    elif change == "escape":
        info = tarfile.TarInfo(f"{top}/../evil")
        path = _repack(path, members, top, sums=False, extra=[info])
    elif change == "link":
        info = tarfile.TarInfo(f"{top}/secrets/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        path = _repack(path, members, top, sums=False, extra=[info])
    elif change in ("zk-outside", "no-snapshot"):
        zk = io.BytesIO()
        with tarfile.open(fileobj=zk, mode="w:gz") as tar:
            name = "etc/passwd" if change == "zk-outside" else "version-2/log.1"
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        path = _repack(path, {**members, ZOOKEEPER: zk.getvalue()}, top)
    elif change == "no-zookeeper":
        del members[ZOOKEEPER]
        path = _repack(path, members, top)
    elif change == "truncated":
        data = path.read_bytes()
        path = path.with_name("cut.tar.gz")
        path.write_bytes(data[: len(data) // 2])
    elif change == "not-tar":
        path = path.with_name("plain.tar.gz")
        path.write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(BadArchive, match=message.replace("(", r"\(")):
        open_backup(path)


def test_an_archive_of_another_cluster_is_refused(made):
    cfg, _, path = made
    top, members = _members(path)
    manifest = json.loads(members["manifest.json"])
    manifest["cluster"] = "elsewhere"
    backup = open_backup(_repack(path, {**members, "manifest.json": json.dumps(manifest).encode()}, top))
    try:
        assert "of cluster 'elsewhere'" in check_against(cfg, backup)[0]
    finally:
        backup.close()


def _cli(cfg, runs, path, *more):
    return main([str(cfg.path), "restore", str(path), "--runs-dir", str(runs), *more])


def test_a_controller_without_secrets_gets_the_archives_back_and_is_told_to_install(made, capsys):
    cfg, runs, path = made
    original = (runs / "secrets" / f"{cfg.cluster.name}.yml").read_bytes()
    path = Path(shutil.copy(path, path.parents[2] / path.name))  # the archive kept off the lost controller
    shutil.rmtree(runs)
    assert _cli(cfg, runs, path, "--yes") == 0
    out = capsys.readouterr().out
    assert "Install the cluster with them, then restore its data" in out and "restore " in out
    secrets = runs / "secrets" / f"{cfg.cluster.name}.yml"
    assert secrets.read_bytes() == original and secrets.stat().st_mode & 0o077 == 0
    assert (runs / "state" / cfg.cluster.name / "registry-pki" / "ca.key").read_text().startswith("-----BEGIN")
    assert not [p for p in runs.iterdir() if p.name not in ("secrets", "state")], "no run was started"
    backup = open_backup(path)
    try:
        assert secrets_state(cfg, backup, runs).state == "same"  # the next restore runs
    finally:
        backup.close()


def test_different_secrets_are_refused_naming_the_keys_only(made, capsys):
    cfg, runs, path = made
    secrets = runs / "secrets" / f"{cfg.cluster.name}.yml"
    values = yaml.safe_load(secrets.read_text())
    values["zookeeper_password"] = "Another-Value-123"
    secrets.write_text(yaml.safe_dump(values))
    before = sorted(p.name for p in runs.iterdir())
    assert _cli(cfg, runs, path, "--yes") == 2
    err = capsys.readouterr().err
    assert "differs from the archive's (zookeeper_password)" in err and "Another-Value-123" not in err
    assert sorted(p.name for p in runs.iterdir()) == before


@pytest.mark.parametrize(("args", "message"), [
    (["restore"], "give the backup archive"),
    (["restore", "ARCHIVE", "--limit", "master1"], "--limit: not with restore"),
    (["restore", "ARCHIVE", "--hosts", "master1"], "--hosts: not with restore"),
    (["restore", "ARCHIVE"], "pass --yes"),
    (["backup", "ARCHIVE", "--yes"], "an archive goes with restore only"),
    (["restore", "missing.tar.gz", "--yes"], "no such file"),
])
def test_restore_refuses_before_any_host(made, capsys, args, message):
    cfg, runs, path = made
    args = [str(path) if a == "ARCHIVE" else a for a in args]
    before = sorted(p.name for p in runs.iterdir())
    assert main([str(cfg.path), *args, "--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == before


def test_a_controller_that_kept_its_ca_is_told_so(made, capsys):
    cfg, runs, path = made
    (runs / "secrets" / f"{cfg.cluster.name}.yml").unlink()  # moved aside, the new install's CA stays
    ca = runs / "state" / cfg.cluster.name / "registry-pki" / "ca.key"
    ca.write_text("-----BEGIN PRIVATE KEY-----\nTHE NEW INSTALL'S\n")
    assert _cli(cfg, runs, path, "--yes") == 0
    out = capsys.readouterr().out
    assert "Put back from the archive" in out and "Kept this controller's" in out and "registry-pki" in out
    assert "THE NEW INSTALL'S" in ca.read_text()


def _crafted(tmp_path, members) -> Path:
    """A tar.gz of (TarInfo, data) members under one top folder."""
    out = tmp_path / "crafted.tar.gz"
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def test_a_crafted_archive_is_refused_before_it_fills_the_disk(tmp_path, monkeypatch):
    from installer import restore

    # A sparse member: a few bytes of archive, its holes written out in full.
    bomb = tmp_path / "sparse.tar"
    with tarfile.open(bomb, "w", format=tarfile.GNU_FORMAT) as tar:
        sparse = tarfile.TarInfo("b/big")
        sparse.type, sparse.size = tarfile.GNUTYPE_SPARSE, 0
        sparse.sparse = [(0, 0)]
        tar.addfile(sparse)
    gz = tmp_path / "sparse.tar.gz"
    gz.write_bytes(gzip.compress(bomb.read_bytes()))
    with pytest.raises(BadArchive, match="sparse file"):
        open_backup(gz, workdir=tmp_path)
    # Too many files.
    monkeypatch.setattr(restore, "MAX_MEMBERS", 50)
    many = []
    for n in range(60):
        member = tarfile.TarInfo(f"b/records/{n}.json")
        member.size = 1
        many.append((member, b"x"))
    with pytest.raises(BadArchive, match="more than 50 files"):
        open_backup(_crafted(tmp_path, many), workdir=tmp_path)
    monkeypatch.setattr(restore, "MAX_MEMBERS", 20_000)
    # More than the filesystem has room for (a gzip bomb: the sizes are counted before writing).
    monkeypatch.setattr(restore, "SPARE_BYTES", shutil.disk_usage(tmp_path).free - (1 << 20))
    big = tarfile.TarInfo("b/zookeeper/data.tar.gz")
    big.size = 2 << 20
    with pytest.raises(BadArchive, match="would not fit"):
        open_backup(_crafted(tmp_path, [(big, bytes(big.size))]), workdir=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("dcos-restore-")] == []  # removed


def test_a_manifest_of_the_wrong_shape_is_refused_not_a_traceback(made):
    _, _, path = made
    top, members = _members(path)
    for bad in ({"files": ["x"]}, {"parts": {"mysql": "x"}}, {"parts": {"mysql": {"databases": "shop"}}}):
        manifest = {**json.loads(members["manifest.json"]), **bad}
        changed = _repack(path, {**members, "manifest.json": json.dumps(manifest).encode()}, top, sums=False)
        with pytest.raises(BadArchive, match="not a backup manifest"):
            open_backup(changed)


def test_the_zookeeper_part_is_sized_for_the_members(made):
    _, _, path = made
    backup = open_backup(path)
    try:
        assert backup.zookeeper_bytes == len(b"snapshot bytes")
        assert run_options(backup).extravars["dcos_restore"]["zookeeper_bytes"] == backup.zookeeper_bytes
    finally:
        backup.close()


def test_a_restore_keeps_the_two_newest_asides_of_a_member(tmp_path):
    """The task of playbooks/restore.yml, as Ansible renders it, run on a data folder holding
    four asides: the two oldest go, the two newest and version-2 stay; run again, nothing goes."""
    import subprocess

    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    plays = yaml.safe_load((Path(__file__).resolve().parents[2] / "playbooks" / "restore.yml").read_text())
    task = next(t for p in plays for t in p.get("tasks", [])
                if t.get("name") == "Remove this member's asides older than the two newest")
    script = Templar(loader=DataLoader(), variables={"zookeeper_data_dir": str(tmp_path)}).template(
        task["ansible.builtin.shell"]["cmd"])
    stamps = ["20261130-235959", "20261201-100000", "20261203-090000", "20261203-100000"]
    for stamp in stamps:
        (tmp_path / f"version-2.pre-restore-{stamp}").mkdir()
        (tmp_path / f"version-2.pre-restore-{stamp}" / "snapshot.1").write_text("data")
    (tmp_path / "version-2").mkdir()
    first = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert first.stdout.split() == [f"version-2.pre-restore-{s}" for s in stamps[:2]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["version-2"] + [f"version-2.pre-restore-{s}"
                                                                         for s in stamps[2:]]
    again = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert again.stdout.strip() == ""


@pytest.mark.parametrize(("marked", "expected"), [((), []), (("m2",), ["m2"]), (("m1", "m3"), ["m1", "m3"])])
def test_every_zookeeper_member_refuses_when_one_holds_a_cut_restore(marked, expected):
    """The zookeeper role's refusal, as Ansible renders it: the members whose data folder holds
    restore-in-progress, named on every member (one host whose stat did not run counts as not
    marked: it failed already)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    tasks = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles" / "zookeeper" / "tasks" / "main.yml")
                           .read_text())
    task = next(t for t in tasks if t.get("name") == "Refuse to start ZooKeeper on the data of a restore cut short")
    hostvars = {h: {"inventory_hostname": h, "__zookeeper_restore_cut": {"stat": {"exists": h in marked}}}
                for h in ("m1", "m2", "m3")}
    hostvars["m4"] = {"inventory_hostname": "m4"}
    templar = Templar(loader=DataLoader(), variables={**task["vars"], "hostvars": hostvars,
                                                      "ansible_play_hosts": ["m1", "m2", "m3", "m4"]})
    assert templar.template("{{ __zookeeper_cut_members }}") == expected
    assert templar.template("{{ " + task["ansible.builtin.assert"]["that"] + " }}") == (not expected)


@pytest.mark.parametrize(("mark", "stamp"), [
    (None, "20261203-120000"),  # no mark: this run's stamp
    ("restore of backup-x.tar.gz started 20261201-080000\n", "20261201-080000"),  # a cut restore's
    ("something else\n", "20261203-120000"),
])
def test_a_chain_of_cut_restores_sets_the_members_data_aside_once(mark, stamp):
    """The aside of playbooks/restore.yml is named after the first restore of a chain cut short
    (its mark is kept): the move aside, guarded by `creates`, then happens once per chain, and the
    archive's data a cut run left in place is never set aside as if it were the member's."""
    import base64

    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    plays = yaml.safe_load((Path(__file__).resolve().parents[2] / "playbooks" / "restore.yml").read_text())
    play = next(p for p in plays if p["name"] == "Put the archive's ZooKeeper data in place on every member")
    registered = {"failed": True, "msg": "file not found"} if mark is None else {
        "content": base64.b64encode(mark.encode()).decode(), "encoding": "base64"}
    templar = Templar(loader=DataLoader(), variables={
        **play["vars"], "__restore_mark": registered, "zookeeper_data_dir": "/var/lib/zookeeper",
        "dcos_restore": {"stamp": "20261203-120000"}})
    assert templar.template("{{ __restore_aside }}") == f"/var/lib/zookeeper/version-2.pre-restore-{stamp}"
    mark_task = next(t for p in plays for t in p.get("tasks", [])
                     if t.get("name") == "Mark the member as being restored")
    assert mark_task["ansible.builtin.copy"]["force"] is False  # a cut restore's mark is kept
