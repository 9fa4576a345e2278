"""The signed flat apt repository built from a folder of .deb files."""

import gzip
import json
import os
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
    repo_differs,
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


def test_a_sealed_repository_is_trusted_only_while_nothing_it_was_built_from_changed(debs, tmp_path):
    """The fast path: a repository built from this bundle (its manifest) is left as it is
    without reading a package; a changed manifest, a package added or touched in the bundle, a
    pool file or an index file changed, or the seal gone: the full build runs and puts it right.
    Without trust_seal (--full) the packages are compared as always."""
    from ansible_collections.dcos.installer.plugins.module_utils import aptrepo

    dest, home, manifest = tmp_path / "repo", tmp_path / "gpg", tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"packages": {"alpha": "1.0", "beta": "2.0"}}))
    args = (str(debs), str(dest), str(home), "test", str(manifest))
    assert build_repo(*args, trust_seal=True)[0]
    seal = Path(str(dest) + ".built.json")
    assert seal.exists() and not (dest / seal.name).exists()  # beside the repository: never served

    read = []
    real = aptrepo._digests
    aptrepo._digests = lambda path: read.append(path) or real(path)
    try:
        assert build_repo(*args, trust_seal=True) == (False, build_repo(*args)[1]) and read  # --full reads them
        read.clear()
        assert not build_repo(*args, trust_seal=True)[0] and read == []  # the seal: not one package read
        assert not repo_differs(str(debs), str(dest), str(home), str(manifest), True) and read == []
    finally:
        aptrepo._digests = real

    def rebuilt_after(change) -> bool:
        change()
        planned = repo_differs(str(debs), str(dest), str(home), str(manifest), True)  # the dry run agrees
        built = build_repo(*args, trust_seal=True)[0]
        assert planned == built
        return built

    def touch_deb():  # same content, a new mtime: read in full, nothing to change
        os.utime(debs / "beta_2.0_all.deb", ns=(1, 1))

    # A pool file damaged in place (same size, mtime kept): the seal cannot see it, --full can.
    pool_file = dest / "pool" / "alpha_1.0_all.deb"
    st = pool_file.stat()
    data = bytearray(pool_file.read_bytes())
    data[-1] ^= 0xFF
    pool_file.write_bytes(bytes(data))
    os.utime(pool_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not build_repo(*args, trust_seal=True)[0]
    assert build_repo(*args)[0]  # --full: put right

    assert not rebuilt_after(touch_deb)  # read again, found equal, sealed again
    assert not build_repo(*args, trust_seal=True)[0]
    assert rebuilt_after(lambda: make_deb(debs, "gamma", "3.0"))
    assert rebuilt_after(lambda: (dest / "pool" / "gamma_3.0_all.deb").unlink())
    assert rebuilt_after(lambda: (dest / "Packages").write_text("broken"))
    assert not rebuilt_after(lambda: manifest.write_text("{}"))  # a new manifest, the same packages
    assert not rebuilt_after(lambda: seal.unlink()) and seal.exists()
    assert "Package: gamma" in (dest / "Packages").read_text()
