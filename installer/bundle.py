"""The offline bundle: one folder copied to the installer host as is, described by
manifest.json (name, version, size and sha256 of every file). Verified before use: a
missing or corrupt file is named.

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


@dataclass
class BundleReport:
    path: Path
    problems: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_bundle(path: Path) -> BundleReport:
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
        elif entry.get("kind") == "image":
            report.images.append(str(entry.get("name")))
    return report
