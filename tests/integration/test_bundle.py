"""./install.sh bundle on this machine: packages resolved in a clean container of the target,
a second run downloads nothing, extra packages are added, --verify names a corrupt file."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_aptrepo import make_deb

pytestmark = pytest.mark.integration

TOP = Path(__file__).resolve().parents[2]
IMAGE = "dcos-testbed/node:bookworm"


def _bundle(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOP / "install.sh"), "bundle", "--target", "debian12", "--out", str(out),
                           "--components", "ntp", "--image", IMAGE, *extra],
                          capture_output=True, text=True, timeout=600, check=False)


def test_bundle_downloads_once_adds_extras_and_verifies(tmp_path):
    out = tmp_path / "bundle"
    first = _bundle(out)
    assert first.returncode == 0, first.stderr
    debs = sorted(p.name for p in (out / "packages").glob("*.deb"))
    assert any(name.startswith("chrony_") for name in debs)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "packages").glob("*.deb")}

    vendor = tmp_path / "vendor"
    vendor.mkdir()
    make_deb(vendor, "mesos", "1.11.0")
    second = _bundle(out, "--extra-packages", str(vendor))
    assert second.returncode == 0, second.stderr
    # nothing downloaded again (apt lists the local extra package as a "Get:" of a file path)
    fetched = [line for line in (second.stdout + second.stderr).splitlines() if line.startswith("Get:")]
    assert all(" /extra/" in line for line in fetched), fetched
    assert {p.name: p.stat().st_mtime_ns for p in (out / "packages").glob("*.deb") if p.name in stamps} == stamps
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"chrony", "mesos"} <= {f["name"] for f in manifest["files"] if f["kind"] == "package"}

    check = subprocess.run([str(TOP / "install.sh"), "bundle", "--target", "debian12", "--out", str(out), "--verify"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0 and "files verified" in check.stdout
    chrony = next((out / "packages").glob("chrony_*.deb"))
    chrony.write_bytes(chrony.read_bytes()[:-10])
    check = subprocess.run([str(TOP / "install.sh"), "bundle", "--target", "debian12", "--out", str(out), "--verify"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 1
    assert f"packages/{chrony.name} is" in check.stderr and "truncated" in check.stderr
