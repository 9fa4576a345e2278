"""The bundle command's own logic: which packages a target needs, extra packages, the manifest."""

import json
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
