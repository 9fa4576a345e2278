"""The offline bundle: one folder copied to the installer host as is, described by
manifest.json (name, version, size and sha256 of every file). Verified before use: a
missing or corrupt file is named.

The bundle at the top is the installer host's OS release (its `os`: packages, images and
files). A cluster whose hosts run other releases of the same family carries their packages
in sub-bundles, `targets/<os>/` (`./install.sh bundle --target debian11 --out
bundle/targets/debian11`), each with its own manifest; the repo phase serves each at
`/<os>/` beside the top one's `/debian/` (or `/el/`), and each host uses its own release's.

    {"format": 1, "os": "debian12",
     "files": [{"path": "packages/chrony_4.3-2_amd64.deb", "kind": "package", "name": "chrony",
                "version": "4.3-2", "size": 123, "sha256": "..."}, ...]}
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = 1
TARGETS = "targets"  # sub-bundles of other OS releases: targets/<os>/manifest.json


@dataclass
class BundleReport:
    path: Path
    problems: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    os: str = ""  # the target the manifest names (debian12, debian11, el8)
    versions: dict[str, str] = field(default_factory=dict)  # package name: version
    targets: dict[str, "BundleReport"] = field(default_factory=dict)  # the sub-bundles, by os

    @property
    def releases(self) -> dict[str, "BundleReport"]:
        """Every OS release the bundle serves: the top one and its sub-bundles."""
        return {self.os: self, **self.targets} if self.os else dict(self.targets)

    @property
    def ok(self) -> bool:
        return not self.problems


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def os_target(facts: dict) -> str:
    """The bundle target a host's Ansible facts name: debian12, debian11, el8, ubuntu2204."""
    family, name = facts.get("os_family", ""), str(facts.get("distribution", "")).lower()
    major = str(facts.get("distribution_major_version", ""))
    if family == "RedHat":
        return f"el{major}"
    if name == "ubuntu":
        return "ubuntu" + str(facts.get("distribution_version", "")).replace(".", "")
    return f"{name}{major}"


def verify_bundle(path: Path, with_targets: bool = True) -> BundleReport:
    """The top bundle and (with_targets) every sub-bundle under targets/, their problems
    prefixed with it."""
    report = _verify_one(path)
    subs = path / TARGETS
    if with_targets and report.ok and subs.is_dir():
        for folder in sorted(p for p in subs.iterdir() if p.is_dir()):
            sub = _verify_one(folder)
            rel = f"{TARGETS}/{folder.name}"
            report.problems += [f"{rel}: {problem}" for problem in sub.problems]
            if sub.ok and sub.os != folder.name:
                report.problems.append(f"{rel} holds a bundle of {sub.os or 'no named OS'}, not {folder.name}")
            elif sub.ok and sub.os == report.os:
                report.problems.append(f"{rel} is a second bundle of {report.os}, the top bundle's own OS")
            elif sub.ok:
                report.targets[sub.os] = sub
                report.files += sub.files
                report.bytes += sub.bytes
    return report


def _verify_one(path: Path) -> BundleReport:
    report = BundleReport(path=path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        report.problems.append(f"no bundle folder at {path}")
        return report
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        report.problems.append(f"{manifest_path} is missing")
        return report
    except (OSError, ValueError) as exc:
        report.problems.append(f"{manifest_path} cannot be read: {exc}")
        return report
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), list):
        report.problems.append(f"{manifest_path} is not a bundle manifest of format {FORMAT}")
        return report
    report.os = str(manifest.get("os") or "")
    root = path.resolve()
    for entry in manifest["files"]:
        rel = str(entry.get("path", ""))
        target = (path / rel).resolve()
        if not rel or root not in target.parents:
            report.problems.append(f"manifest entry {rel!r} points outside the bundle")
            continue
        if not target.is_file():
            report.problems.append(f"{rel} is missing")
            continue
        size = target.stat().st_size
        if size != entry.get("size"):
            report.problems.append(f"{rel} is {size} bytes, the manifest says {entry.get('size')} (corrupt or "
                                   "truncated)")
            continue
        if sha256(target) != entry.get("sha256"):
            report.problems.append(f"{rel} does not match its sha256 (corrupt or changed)")
            continue
        report.files += 1
        report.bytes += size
        if entry.get("kind") == "package":
            report.packages.append(str(entry.get("name")))
            report.versions[str(entry.get("name"))] = str(entry.get("version", ""))
        elif entry.get("kind") == "image":
            report.images.append(str(entry.get("name")))
    return report
