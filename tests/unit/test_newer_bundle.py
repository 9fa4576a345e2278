"""installer.demo.newer_bundle: the next bundle made beside the first leaves the first as it was
(its manifest was once written through a hard link: the first bundle then named packages it
did not have, and the e2e cluster's uninstall precheck failed on it)."""

import contextlib
import subprocess
import sys
from pathlib import Path

from installer.bundler import write_manifest
from installer.demo import DemoError, newer_bundle

TOP = Path(__file__).resolve().parents[2]


def test_the_newer_bundle_leaves_the_first_untouched(tmp_path):
    first = tmp_path / "bundle"
    (first / "packages").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "demo.standins.build", str(first / "packages")], cwd=TOP, check=True,
                   stdout=subprocess.DEVNULL)
    write_manifest(first, "debian12")
    before = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    # (a bundle of the stand-ins alone may not verify whole: the first must be as it was regardless)
    with contextlib.suppress(DemoError):
        newer_bundle(first, tmp_path / "bundle-2")
    after = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    assert after == before
    made = (tmp_path / "bundle-2" / "manifest.json").read_text()
    assert "+upgrade2" in made and "+upgrade2" not in (first / "manifest.json").read_text()

