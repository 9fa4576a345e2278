"""The bundle command's own logic: which packages a target needs, extra packages, the manifest."""

import json
import shutil
from pathlib import Path

import pytest

from installer.bundle import verify_bundle
from installer.bundler import BundleError, add_extra_packages, load_components, packages_for, write_manifest
from tests.unit.test_aptrepo import make_deb


def test_every_target_lists_its_components_and_mesos_comes_from_the_vendor():
    spec = load_components()
    assert {"debian12", "el8"} <= set(spec["targets"])
    default = packages_for(spec["targets"]["debian12"], None)
    assert "chrony" in default and "docker.io" in default and "consul/bullseye" in default
    assert "mesos" not in default  # vendor packages arrive with --extra-packages


def test_an_unknown_component_is_named():
    with pytest.raises(BundleError, match=r"unknown component.*zookeper"):
        packages_for(load_components()["targets"]["debian12"], ["zookeper"])


def test_extra_packages_and_images_land_in_a_manifest_that_verifies(tmp_path: Path):
    out, extra = tmp_path / "bundle", tmp_path / "vendor"
    (out / "packages").mkdir(parents=True)
    extra.mkdir()
    make_deb(extra, "mesos", "1.11.0")
    assert add_extra_packages(extra, out) == 1
    assert add_extra_packages(extra, out) == 1  # a second run copies nothing new, counts the same
    (out / "images").mkdir()
    (out / "images" / "tiny_1.tar").write_bytes(b"image bytes")
    (out / "images" / "tiny_1.tar.name").write_text("tiny:1\n")
    manifest = write_manifest(out, "debian12")
    kinds = {(f["kind"], f["name"], f.get("version")) for f in manifest["files"]}
    assert ("package", "mesos", "1.11.0") in kinds and ("image", "tiny:1", None) in kinds
    assert json.loads((out / "manifest.json").read_text())["os"] == "debian12"
    assert verify_bundle(out).ok
    (out / "images" / "tiny_1.tar").write_bytes(b"image bytez")
    assert verify_bundle(out).problems == ["images/tiny_1.tar does not match its sha256 (corrupt or changed)"]


def test_artifacts_are_fetched_once_checked_and_listed(tmp_path: Path):
    from installer.bundle import sha256
    from installer.bundler import fetch_files

    source = tmp_path / "apache-zookeeper-3.8.4-bin.tar.gz"
    source.write_bytes(b"tarball bytes")
    item = {"name": "apache-zookeeper", "version": "3.8.4", "url": source.as_uri(), "sha256": sha256(source)}
    out = tmp_path / "bundle"
    assert fetch_files([item], out) == 1
    assert fetch_files([item], out) == 0  # already there: nothing fetched again
    manifest = write_manifest(out, "el8")
    (entry,) = manifest["files"]
    assert (entry["kind"], entry["name"], entry["version"]) == ("file", "apache-zookeeper", "3.8.4")
    with pytest.raises(BundleError, match="does not match the sha256"):
        fetch_files([{**item, "sha256": "0" * 64}], out)
    with pytest.raises(BundleError, match="cannot fetch consul"):
        fetch_files([{"name": "consul", "url": (tmp_path / "missing.zip").as_uri()}], out)


def test_a_sub_bundle_of_another_release_is_verified_with_the_top_one(tmp_path: Path):
    """bundle/targets/debian11/ serves the Debian 11 hosts: its own manifest, left out of the
    top one's; a corrupt file there or a sub-bundle in the wrong folder makes the whole unusable."""
    top, sub = tmp_path / "bundle", tmp_path / "bundle" / "targets" / "debian11"
    for folder, version in ((top, "4.3-2"), (sub, "4.0-8")):
        (folder / "packages").mkdir(parents=True)
        make_deb(folder / "packages", "chrony", version)
    write_manifest(sub, "debian11")
    manifest = write_manifest(top, "debian12")
    assert [f["path"] for f in manifest["files"]] == ["packages/chrony_4.3-2_all.deb"]
    report = verify_bundle(top)
    assert report.ok, report.problems
    assert set(report.releases) == {"debian12", "debian11"}
    assert (report.versions["chrony"], report.targets["debian11"].versions["chrony"]) == ("4.3-2", "4.0-8")
    assert report.files == 2
    (sub / "packages" / "chrony_4.0-8_all.deb").write_bytes(b"changed")
    assert verify_bundle(top).problems == [
        "targets/debian11: packages/chrony_4.0-8_all.deb is 7 bytes, the manifest says "
        f"{(json.loads((sub / 'manifest.json').read_text())['files'][0]['size'])} (corrupt or truncated)"]
    (sub / "packages" / "chrony_4.0-8_all.deb").unlink()
    write_manifest(sub, "debian11")
    (sub.parent / "debian10").mkdir()
    (sub / "manifest.json").rename(sub.parent / "debian10" / "manifest.json")
    shutil.rmtree(sub)
    assert verify_bundle(top).problems == ["targets/debian10 holds a bundle of debian11, not debian10"]


def test_the_bundle_command_refuses_a_sub_bundle_in_the_wrong_folder_or_with_images(tmp_path: Path, capsys):
    from installer.bundler import main

    out = tmp_path / "bundle" / "targets" / "debian10"
    assert main(["--target", "debian11", "--out", str(out)]) == 1
    assert "a sub-bundle of debian11 goes in targets/debian11" in capsys.readouterr().err
    out = tmp_path / "bundle" / "targets" / "debian11"
    assert main(["--target", "debian11", "--out", str(out), "--docker-image", "x:1"]) == 1
    assert "images go in the top bundle" in capsys.readouterr().err
    assert not out.exists()


def test_the_debian11_target_takes_zookeeper_from_bookworm_and_the_rest_from_bullseye():
    """One ensemble runs one ZooKeeper line, and the configuration is 3.5+: bullseye has
    3.4.13. Consul and cAdvisor are bullseye's own there (Debian 12 pins them from it)."""
    target = load_components()["targets"]["debian11"]
    packages = packages_for(target, None)
    assert target["extra_suites"] == ["bookworm"] and target["image"] == "debian:11"
    assert {"zookeeper/bookworm", "libzookeeper-java/bookworm", "consul", "cadvisor"} <= set(packages)
    assert [p for p in packages if "/" in p] == ["zookeeper/bookworm", "libzookeeper-java/bookworm"]
    assert set(target["components"]) == set(load_components()["targets"]["debian12"]["components"])
