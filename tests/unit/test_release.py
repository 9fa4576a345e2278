"""The release archive (installer/release.py) without Docker or the network: the same inputs
give the same bytes, --verify names a changed, missing or added member and a broken
checksum, the code part is the installer without its tests."""

import io
import json
import tarfile
from pathlib import Path

import pytest

from installer import release
from installer.bundle import sha256

TOP = Path(__file__).resolve().parents[2]


def _members(tmp_path: Path) -> list[release.Member]:
    src = tmp_path / "src"
    (src / "wheelhouse").mkdir(parents=True)
    (src / "bundle" / "packages").mkdir(parents=True)
    files = {"install.sh": b"#!/bin/sh\necho hi\n", "wheelhouse/a-1-py3-none-any.whl": b"wheel",
             "bundle/packages/chrony_4.3_amd64.deb": b"deb" * 1000, "bundle/manifest.json": b"{}"}
    members = []
    for rel, body in files.items():
        (src / rel).write_bytes(body)
        members.append(release.Member(rel, src / rel, rel.endswith(".sh")))
    return sorted(members, key=lambda m: m.path)


def _build(tmp_path: Path, out: str, members: list[release.Member], mtime: int = 1700000000) -> Path:
    return release.write_archive(tmp_path / out, "dcos-installer-9.9-debian12", members,
                                 {"format": 1, "version": "9.9", "target": "debian12"}, mtime)


def _rewrite(archive: Path, change) -> None:
    """The archive again with change(name, data) -> (name, data) | None applied to each file,
    its .sha256 made to match (so only RELEASE.json can tell)."""
    with tarfile.open(archive, "r:gz") as tar:
        entries = [(info, tar.extractfile(info).read() if info.isfile() else b"") for info in tar]
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in entries:
            body = data
            if info.isfile():
                result = change(info.name, data)
                if result is None:
                    continue
                info.name, body = result
                info.size = len(body)
            tar.addfile(info, io.BytesIO(body) if info.isfile() else None)
    archive.with_name(archive.name + ".sha256").write_text(f"{sha256(archive)}  {archive.name}\n")


def test_same_inputs_give_the_same_archive_and_it_verifies(tmp_path):
    members = _members(tmp_path)
    first, second = _build(tmp_path, "a", members), _build(tmp_path, "b", members)
    assert first.read_bytes() == second.read_bytes()
    assert first.with_name(first.name + ".sha256").read_text() == f"{sha256(first)}  {first.name}\n"
    assert _build(tmp_path, "c", members, mtime=1700000001).read_bytes() != first.read_bytes()
    assert first.read_bytes()[4:8] == (1700000000).to_bytes(4, "little")  # gzip's own time: the given one

    report = release.verify_archive(first)
    assert report.ok, report.problems
    assert report.files == 4 and report.release["version"] == "9.9"
    with tarfile.open(first, "r:gz") as tar:
        infos = {i.name: i for i in tar}
    folder = "dcos-installer-9.9-debian12"
    assert infos[f"{folder}/install.sh"].mode == 0o755
    assert infos[f"{folder}/bundle/manifest.json"].mode == 0o644
    assert {(i.uid, i.gid, i.uname, i.mtime) for i in infos.values()} == {(0, 0, "root", 1700000000)}
    assert f"{folder}/bundle/packages" in infos and infos[f"{folder}/bundle/packages"].isdir()
    with tarfile.open(first, "r:gz") as tar:
        listed = json.loads(tar.extractfile(f"{folder}/RELEASE.json").read())
    assert {f["path"]: f["mode"] for f in listed["files"]}["install.sh"] == "0755"
    assert {f["path"]: f["part"] for f in listed["files"]} == {
        "bundle/manifest.json": "bundle", "bundle/packages/chrony_4.3_amd64.deb": "bundle",
        "install.sh": "code", "wheelhouse/a-1-py3-none-any.whl": "wheelhouse"}


@pytest.mark.parametrize("change, problem", [
    (lambda n, d: (n, d + b"x") if n.endswith(".deb") else (n, d),
     "bundle/packages/chrony_4.3_amd64.deb does not match its size, mode and sha256"),
    (lambda n, d: None if n.endswith(".whl") else (n, d), "wheelhouse/a-1-py3-none-any.whl is missing"),
    (lambda n, d: (n.replace("manifest.json", "evil.sh"), d) if n.endswith("manifest.json") else (n, d),
     "bundle/evil.sh is not listed in RELEASE.json (added)"),
    (lambda n, d: (n.replace("dcos-installer-9.9-debian12/install.sh", "../install.sh"), d),
     "'../install.sh': not inside the archive's folder"),
    (lambda n, d: (n, d) if not n.endswith("install.sh") else (".", d), "'.': not inside the archive's folder"),
    (lambda n, d: (n.replace("manifest.json", "chrony_4.3_amd64.deb").replace("bundle/", "bundle/packages/"), d)
     if n.endswith("manifest.json") else (n, d), "bundle/packages/chrony_4.3_amd64.deb is in the archive twice"),
    (lambda n, d: (n, d.replace(b'"size"', b'"bytes"')) if n.endswith("RELEASE.json") else (n, d),
     "RELEASE.json is not a release's list of files"),
])
def test_verify_names_what_was_changed(tmp_path, change, problem):
    archive = _build(tmp_path, "a", _members(tmp_path))
    _rewrite(archive, change)
    report = release.verify_archive(archive)
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_verify_refuses_a_link_and_a_broken_checksum(tmp_path):
    archive = _build(tmp_path, "a", _members(tmp_path))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken = tmp_path / "broken" / archive.name
    broken.parent.mkdir()
    broken.write_bytes(bytes(data))
    (broken.parent / (archive.name + ".sha256")).write_bytes(archive.with_name(archive.name + ".sha256").read_bytes())
    problems = release.verify_archive(broken).problems
    assert problems == [f"{archive.name} does not match {archive.name}.sha256 (corrupt, truncated or changed)"]

    with tarfile.open(archive, "r:gz") as tar:
        entries = [(i, tar.extractfile(i).read() if i.isfile() else None) for i in tar]
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
        link = tarfile.TarInfo("dcos-installer-9.9-debian12/bundle/shadow")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    archive.with_name(archive.name + ".sha256").unlink()
    problems = release.verify_archive(archive).problems
    assert "dcos-installer-9.9-debian12/bundle/shadow: a link or special file" in problems
    assert f"{archive.name}.sha256 is missing: the archive's own checksum cannot be checked" in problems


def test_verify_refuses_a_setuid_file(tmp_path):
    archive = _build(tmp_path, "a", _members(tmp_path))
    with tarfile.open(archive, "r:gz") as tar:
        entries = [(i, tar.extractfile(i).read() if i.isfile() else None) for i in tar]
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in entries:
            if info.name.endswith("install.sh"):
                info.mode = 0o4755
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    archive.with_name(archive.name + ".sha256").write_text(f"{sha256(archive)}  {archive.name}\n")
    assert "install.sh does not match its size, mode and sha256 in RELEASE.json" in release.verify_archive(
        archive).problems


def test_the_code_part_is_the_installer_without_its_tests():
    files = release.code_files()
    names = list(files)
    assert files["install.sh"] and files["installer/bin/ansible-playbook"] and not files["README.md"]
    for needed in ("install.sh", "scripts/venv.sh", "installer/release.py", "installer/bin/ansible-playbook",
                   "requirements.txt", "constraints.txt", "config.cfg.example", "ansible.cfg", "components.yml"):
        assert needed in names
    assert any(n.startswith("roles/zookeeper/") for n in names)
    assert any(n.startswith("collections/ansible_collections/dcos/installer/plugins/modules/") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "molecule/", "demo/", ".ci/")) or n == "test.sh"]


def test_wheels_are_for_the_targets_glibc_and_machine():
    tags = release.manylinux_platforms("x86_64")
    assert tags[0] == "manylinux_2_36_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux_2_37_x86_64" not in tags  # newer than Debian 12's glibc 2.36
    assert all(t.endswith("_x86_64") for t in tags)


@pytest.mark.parametrize("target, message", [
    ("el8", "el8 cannot be an installer host"),
    ("solaris", "unknown target 'solaris'"),
])
def test_a_target_that_cannot_carry_the_installer_is_refused_before_any_download(tmp_path, monkeypatch, target,
                                                                                message):
    def no(*args, **kwargs):
        raise AssertionError("nothing may be checked or downloaded for a refused target")

    for name in ("verify_bundle", "build_wheelhouse", "build_controller_packages", "write_archive"):
        monkeypatch.setattr(release, name, no)
    with pytest.raises(release.ReleaseError, match=message):
        release.build(target, tmp_path / "bundle", tmp_path / "out", None, "x86_64")


def test_a_bundle_without_the_installer_hosts_release_is_refused(tmp_path, monkeypatch):
    """A release for debian12 carries the packages the installer host itself installs from."""
    from installer.bundle import BundleReport

    monkeypatch.setattr(release, "verify_bundle", lambda path: BundleReport(path=path, os="debian11"))
    def no(*args, **kwargs):
        raise AssertionError("nothing may be downloaded or written for a bundle without the host's release")

    for name in ("build_wheelhouse", "build_controller_packages", "write_archive"):
        monkeypatch.setattr(release, name, no)
    with pytest.raises(release.ReleaseError, match="has no packages of debian12, the installer host's release "
                                                   r"\(it serves debian11\)"):
        release.build("debian12", tmp_path / "bundle", tmp_path / "out", None, "x86_64")
