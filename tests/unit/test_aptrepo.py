"""The signed flat apt repository built from a folder of .deb files."""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "collections"))
from ansible_collections.dcos.installer.plugins.module_utils.aptrepo import (  # noqa: E402
    build_repo,
    deb_control,
)


def make_deb(folder: Path, name: str, version: str, depends: str = "") -> Path:
    root = folder / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    control = f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.invalid>\n"
    if depends:
        control += f"Depends: {depends}\n"
    control += "Description: test package\n a longer line\n"
    (root / "DEBIAN" / "control").write_text(control)
    (root / "usr" / "share" / name).mkdir(parents=True)
    (root / "usr" / "share" / name / "file").write_text(name)
    out = folder / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(out)], check=True,
                   capture_output=True)
    shutil.rmtree(root)
    return out


@pytest.fixture
def debs(tmp_path):
    folder = tmp_path / "packages"
    folder.mkdir()
    make_deb(folder, "alpha", "1.0", depends="beta (>= 2)")
    make_deb(folder, "beta", "2.0")
    return folder


def test_control_is_read_from_a_deb(debs):
    control = deb_control(debs / "alpha_1.0_all.deb")
    assert "Package: alpha" in control and "Depends: beta (>= 2)" in control


def test_repo_is_indexed_signed_and_verifiable(debs, tmp_path):
    dest, home = tmp_path / "repo", tmp_path / "gpg"
    changed, fingerprint = build_repo(str(debs), str(dest), str(home), "test")
    assert changed and len(fingerprint) == 40
    packages = (dest / "Packages").read_text()
    assert packages.index("Package: alpha") < packages.index("Package: beta")
    assert "Filename: pool/alpha_1.0_all.deb" in packages and "SHA256: " in packages
    assert gzip.decompress((dest / "Packages.gz").read_bytes()).decode() == packages
    release = (dest / "Release").read_text()
    assert "Label: test" in release and " Packages.gz" in release
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes((dest / "dcos-repo.gpg").read_bytes())
    for args in (["InRelease"], ["Release.gpg", "Release"]):
        proc = subprocess.run(["gpgv", "--keyring", str(keyring), *[str(dest / a) for a in args]],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
    assert oct((home).stat().st_mode & 0o777) == "0o700"


def test_a_second_build_changes_nothing_and_a_new_package_is_picked_up(debs, tmp_path):
    dest, home = tmp_path / "repo", tmp_path / "gpg"
    _, first_key = build_repo(str(debs), str(dest), str(home), "test")
    before = {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()}
    changed, key = build_repo(str(debs), str(dest), str(home), "test")
    assert not changed and key == first_key  # the key is never made again
    assert {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()} == before
    make_deb(debs, "gamma", "3.0")
    changed, _ = build_repo(str(debs), str(dest), str(home), "test")
    assert changed and "Package: gamma" in (dest / "Packages").read_text()
    assert (dest / "InRelease").read_bytes() != before["InRelease"]


def test_a_dry_run_tells_what_a_build_would_change_and_writes_nothing(debs, tmp_path):
    from ansible_collections.dcos.installer.plugins.module_utils.aptrepo import repo_differs

    dest, home = tmp_path / "repo", tmp_path / "gpg"
    assert repo_differs(str(debs), str(dest), str(home)) and not dest.exists()  # a first build: all of it
    build_repo(str(debs), str(dest), str(home), "test")
    assert not repo_differs(str(debs), str(dest), str(home))
    make_deb(debs, "gamma", "3.0")
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    assert repo_differs(str(debs), str(dest), str(home))
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == before


def test_a_file_that_is_no_deb_is_refused_by_name(debs, tmp_path):
    (debs / "broken_1.0_all.deb").write_bytes(b"garbage")
    with pytest.raises(Exception, match=r"broken_1\.0_all\.deb: not a Debian package"):
        build_repo(str(debs), str(tmp_path / "repo"), str(tmp_path / "gpg"), "test")
