"""./install.sh release: one archive that sets up and runs the installer on a host with no
network at all (the installer host of an air-gapped data center).

    ./install.sh release --target debian12 --bundle DIR --out DIR [--image IMG]
    ./install.sh release --verify ARCHIVE

The archive (dcos-installer-<version>-<target>.tar.gz, with a .sha256 file beside it) holds
one folder:

    install.sh, installer/, roles/, playbooks/, ...   this installer's code at its version
    wheelhouse/              a wheel of every Python package install.sh needs (requirements.txt,
                             pinned by constraints.txt) for the target's Python and machine
    controller/<target>/     the OS packages the installer itself needs (python3, python3-venv,
                             the SSH client, gpg) with every dependency, as a local apt source
    bundle/                  the offline bundle (./install.sh bundle): packages, images, files
    RELEASE.json             version, commit, target, and the size and sha256 of every file

On the installer host: `tar xf <archive> && cd <folder> && ./install.sh config.cfg` (the
config's default `bundle = bundle` is the archive's own). install.sh then installs what is
missing of the controller's OS packages from controller/<target>/ and the Python packages
with `pip --no-index` from wheelhouse/: no index or mirror is ever contacted.

Reproducible: the same code, wheels, packages and bundle give the same archive, byte for byte
(names sorted, owner root, one timestamp: SOURCE_DATE_EPOCH or the commit's time, gzip
without a name or time). `--verify` checks the .sha256 file and every member against
RELEASE.json: a changed, missing or added file is named."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from installer import __version__
from installer.bundle import sha256, verify_bundle
from installer.bundler import BundleError, load_components

TOP = Path(__file__).resolve().parent.parent
CACHE = TOP / ".cache" / "release"
RELEASE = "RELEASE.json"
FORMAT = 1

# What the installer runs on its own host: Python with venv (install.sh), the SSH client
# (Ansible's connection), gpg (signs the package repository). Coreutils, tar, find and bash
# are essential packages, on every Debian host.
CONTROLLER_PACKAGES = {"debian": ["python3", "python3-venv", "openssh-client", "gnupg"]}
# The Python each target's own python3 is, for the wheels (ansible-core 2.16 needs 3.10+ on
# the controller: Debian 11's 3.9 cannot be an installer host, it can be a cluster host).
TARGET_PYTHON = {"debian12": "3.11"}
# What only develops and tests the installer is marked export-ignore in .gitattributes (as
# for `git archive`) and left out.

# Resolved with an empty dpkg status, so apt downloads the whole dependency closure (what a
# minimal host may lack, whatever the image used here has), then indexed as a flat source.
CONTROLLER_APT_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q -o Acquire::Languages=none >/dev/null
apt-get install -y -q --no-install-recommends apt-utils >/dev/null 2>&1
: > /tmp/empty-status
apt-get -q -o Dir::State::status=/tmp/empty-status -o Dir::Cache::archives=/out -o Debug::NoLocking=1 \
  install -y --download-only --no-install-recommends @PACKAGES@ >/dev/null
cd /out
rm -rf partial lock
apt-ftparchive packages . > Packages
apt-ftparchive release . > Release
"""


class ReleaseError(Exception):
    pass


@dataclass(frozen=True)
class Member:
    """One file of the archive: its path inside the archive's folder and where it comes from."""

    path: str
    source: Path
    executable: bool = False


@dataclass
class VerifyReport:
    archive: Path
    problems: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    release: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _git(*args: str) -> str | None:
    if not (TOP / ".git").exists() or shutil.which("git") is None:
        return None
    proc = subprocess.run(["git", "-C", str(TOP), *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def code_files() -> list[str]:
    """The installer's own files: what git tracks or would (the working tree's content), or, in an
    unpacked release, the code files its RELEASE.json lists; never tests or local state."""
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is not None:
        names = [n for n in listed.split("\0") if n and (TOP / n).is_file()]
        proc = subprocess.run(["git", "-C", str(TOP), "check-attr", "-z", "--stdin", "export-ignore"],
                              input="\0".join(names), capture_output=True, text=True, check=True)
        fields = proc.stdout.split("\0")
        ignored = {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "set"}
        return sorted(set(names) - ignored)
    if (TOP / RELEASE).is_file():
        return sorted(f["path"] for f in json.loads((TOP / RELEASE).read_text())["files"] if f.get("part") == "code")
    raise ReleaseError(f"{TOP} is neither a git checkout nor an unpacked release: cannot tell its files")


def source_date() -> int:
    """One timestamp for every member: SOURCE_DATE_EPOCH, else the commit's time."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    stamp = _git("log", "-1", "--format=%ct")
    return int(stamp) if stamp and stamp.isdigit() else 0


def manylinux_platforms(arch: str, glibc_minor: int = 36) -> list[str]:
    """Every wheel platform a glibc 2.<glibc_minor> machine installs (Debian 12: 2.36)."""
    tags = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", f"linux_{arch}"]


def build_wheelhouse(python: str, arch: str, log: BinaryIO | None = None) -> Path:
    """Wheels of requirements.txt as constraints.txt pins them, for CPython <python> on
    <arch>, downloaded once into .cache/release (keyed by both files)."""
    key = hashlib.sha256((TOP / "requirements.txt").read_bytes() + (TOP / "constraints.txt").read_bytes())
    folder = CACHE / f"wheelhouse-py{python}-{arch}-{key.hexdigest()[:12]}"
    if folder.is_dir():
        return folder
    work = _work_folder(folder)
    abi = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", python, "--abi", abi, "--abi", "abi3", "--abi", "none"]
    for tag in manylinux_platforms(arch):
        cmd += ["--platform", tag]
    cmd += ["--platform", "any", "-d", str(work), "-r", str(TOP / "requirements.txt"),
            "-c", str(TOP / "constraints.txt")]
    print(f"release: downloading the wheels for Python {python} on {arch}", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ReleaseError(f"pip download failed:\n{proc.stderr[-2000:]}")
    return _settle(work, folder)


def _work_folder(folder: Path) -> Path:
    """A private folder to fill before it becomes `folder` (two builds at once, such as two
    test workers, must not write into the same cache entry)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = folder.with_name(f".{folder.name}.{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    return work


def _settle(work: Path, folder: Path) -> Path:
    """The filled work folder becomes the cache entry, unless another build's already did."""
    try:
        work.rename(folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def build_controller_packages(target_name: str, target: dict[str, Any], image: str) -> Path:
    """The controller's OS packages with their whole dependency closure, as a flat apt source
    (Packages, Release), resolved in a container of the target; cached in .cache/release."""
    if target["family"] not in CONTROLLER_PACKAGES:
        raise ReleaseError(f"a release for {target_name} ({target['family']}) is not made yet: only Debian "
                           "targets have a controller package source so far")
    packages = CONTROLLER_PACKAGES[target["family"]]
    folder = CACHE / f"controller-{target_name}-{hashlib.sha256(' '.join(packages).encode()).hexdigest()[:12]}"
    if (folder / "Packages").exists():
        return folder
    work = _work_folder(folder)
    script = CONTROLLER_APT_SCRIPT.replace("@PACKAGES@", " ".join(shlex.quote(p) for p in packages))
    print(f"release: resolving the controller's packages ({', '.join(packages)}) in {image}", file=sys.stderr)
    proc = subprocess.run(["docker", "run", "--rm", "--label", "dcos-bundle=1", "-v", f"{work.resolve()}:/out",
                           "--entrypoint", "/bin/sh", image, "-c", script],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ReleaseError(f"resolving the controller's packages in {image} failed:\n{proc.stderr[-2000:]}")
    return _settle(work, folder)


def _tree(folder: Path, prefix: str) -> list[Member]:
    return [Member(f"{prefix}/{p.relative_to(folder).as_posix()}", p)
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")]


def plan_members(bundle: Path, wheelhouse: Path, controller: Path, target_name: str) -> list[Member]:
    members = [Member(n, TOP / n, os.access(TOP / n, os.X_OK)) for n in code_files()]
    members += _tree(wheelhouse, "wheelhouse")
    members += _tree(controller, f"controller/{target_name}")
    members += _tree(bundle, "bundle")
    paths = [m.path for m in members]
    if len(set(paths)) != len(paths) or RELEASE in paths:
        raise ReleaseError("two files of the release would have the same path")
    return sorted(members, key=lambda m: m.path)


def _file_part(path: str) -> str:
    first = path.split("/", 1)[0]
    return first if first in ("wheelhouse", "controller", "bundle") else "code"


def _tarinfo(name: str, size: int, mtime: int, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.type = size, mtime, mode, kind
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def write_archive(out: Path, folder_name: str, members: list[Member], release: dict[str, Any], mtime: int) -> Path:
    """The members and RELEASE.json under folder_name/, reproducibly (see the module's doc)."""
    entries = []
    for member in members:
        entries.append({"path": member.path, "part": _file_part(member.path), "size": member.source.stat().st_size,
                        "sha256": sha256(member.source)})
    document = dict(release, files=entries)
    body = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{folder_name}.tar.gz"
    tmp = archive.with_name(archive.name + ".part")
    dirs = sorted({str(PurePosixPath(m.path).parent) for m in members} - {"."})
    all_dirs = sorted({str(p) for d in dirs for p in [PurePosixPath(d), *PurePosixPath(d).parents] if str(p) != "."})
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime,
                                              compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(folder_name, 0, mtime, 0o755, tarfile.DIRTYPE))
        for name in all_dirs:
            tar.addfile(_tarinfo(f"{folder_name}/{name}", 0, mtime, 0o755, tarfile.DIRTYPE))
        tar.addfile(_tarinfo(f"{folder_name}/{RELEASE}", len(body), mtime, 0o644), io.BytesIO(body))
        for member, entry in zip(members, entries, strict=True):
            with member.source.open("rb") as handle:
                tar.addfile(_tarinfo(f"{folder_name}/{member.path}", entry["size"], mtime,
                                     0o755 if member.executable else 0o644), handle)
    tmp.replace(archive)
    digest = sha256(archive)
    archive.with_name(archive.name + ".sha256").write_text(f"{digest}  {archive.name}\n")
    return archive


def _digest(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def verify_archive(archive: Path) -> VerifyReport:
    """The .sha256 beside it (when there), then every member against RELEASE.json: nothing
    changed, missing or added, no path leaving the folder, no link or device."""
    report = VerifyReport(archive=archive)
    if not archive.is_file():
        report.problems.append(f"no archive at {archive}")
        return report
    sums = archive.with_name(archive.name + ".sha256")
    if sums.is_file():
        expected = sums.read_text().split()[0] if sums.read_text().split() else ""
        if sha256(archive) != expected:
            report.problems.append(f"{archive.name} does not match {sums.name} (corrupt, truncated or changed)")
            return report
    else:
        report.problems.append(f"{sums.name} is missing: the archive's own checksum cannot be checked")
    seen: dict[str, tuple[int, str]] = {}
    folder = ""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                parts = PurePosixPath(info.name).parts
                if info.name.startswith("/") or ".." in parts:
                    report.problems.append(f"{info.name}: leaves the archive's folder")
                    continue
                folder = folder or parts[0]
                if parts[0] != folder:
                    report.problems.append(f"{info.name}: outside the folder {folder}/")
                    continue
                if info.isdir():
                    continue
                if not info.isfile():
                    report.problems.append(f"{info.name}: a link or special file")
                    continue
                rel = "/".join(parts[1:])
                handle = tar.extractfile(info)
                assert handle is not None
                if rel == RELEASE:
                    report.release = json.loads(handle.read())
                    continue
                seen[rel] = (info.size, _digest(handle))
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        report.problems.append(f"{archive.name} cannot be read: {exc}")
        return report
    if not report.release:
        report.problems.append(f"{RELEASE} is missing")
        return report
    listed = {f["path"]: f for f in report.release.get("files", [])}
    for path, entry in sorted(listed.items()):
        if path not in seen:
            report.problems.append(f"{path} is missing")
        elif seen[path] != (entry["size"], entry["sha256"]):
            report.problems.append(f"{path} does not match its size and sha256 in {RELEASE}")
        else:
            report.files += 1
            report.bytes += entry["size"]
    report.problems += [f"{path} is not listed in {RELEASE} (added)" for path in sorted(set(seen) - set(listed))]
    return report


def build(target_name: str, bundle: Path, out: Path, image: str | None, arch: str) -> tuple[Path, dict[str, Any]]:
    spec = load_components()
    target = spec["targets"].get(target_name)
    if target is None:
        raise ReleaseError(f"unknown target {target_name!r}; known: {', '.join(spec['targets'])}")
    python = TARGET_PYTHON.get(target_name)
    if python is None:
        raise ReleaseError(f"{target_name} cannot be an installer host (no Python 3.10+ of its own); "
                           f"a release targets one of: {', '.join(TARGET_PYTHON)}")
    report = verify_bundle(bundle)
    if not report.ok:
        raise ReleaseError(f"the bundle {bundle} is not usable: " + "; ".join(report.problems[:5]))
    wheelhouse = build_wheelhouse(python, arch)
    controller = build_controller_packages(target_name, target, image or target["image"])
    members = plan_members(bundle, wheelhouse, controller, target_name)
    commit = _git("describe", "--always", "--dirty", "--abbrev=12") or ""
    release = {"format": FORMAT, "name": "dcos-installer", "version": __version__, "commit": commit,
               "target": target_name, "python": python, "arch": arch,
               "controller_packages": CONTROLLER_PACKAGES[target["family"]]}
    archive = write_archive(out, f"dcos-installer-{__version__}-{target_name}", members, release, source_date())
    return archive, release


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="install.sh release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", help="target OS of the installer host, as named in components.yml (debian12)")
    parser.add_argument("--bundle", type=Path, help="the offline bundle folder (./install.sh bundle makes it)")
    parser.add_argument("--out", type=Path, help="folder to write the archive and its .sha256 into")
    parser.add_argument("--image", help="container image of the target OS to resolve the controller's packages in "
                                        "(default: from components.yml)")
    parser.add_argument("--arch", default="x86_64", help="machine of the installer host (default: x86_64)")
    parser.add_argument("--verify", type=Path, metavar="ARCHIVE", help="only verify an archive")
    args = parser.parse_args(argv)
    if args.verify:
        report = verify_archive(args.verify)
        for problem in report.problems:
            print(f"release: {problem}", file=sys.stderr)
        if not report.ok:
            print(f"release {args.verify.name}: NOT usable")
            return 1
        print(f"release {args.verify.name}: {report.release.get('version')} for {report.release.get('target')} "
              f"({report.release.get('commit') or 'no commit'}), {report.files} files, "
              f"{report.bytes / 1024**2:.0f} MB verified")
        return 0
    missing = [o for o, v in (("--target", args.target), ("--bundle", args.bundle), ("--out", args.out)) if not v]
    if missing:
        parser.print_usage(sys.stderr)
        print(f"install.sh release: give {', '.join(missing)} (or --verify ARCHIVE)", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        archive, release = build(args.target, args.bundle, args.out, args.image, args.arch)
    except (ReleaseError, BundleError) as exc:
        print(f"install.sh release: {exc}", file=sys.stderr)
        return 1
    size = archive.stat().st_size
    print(f"release {archive}: {release['version']} for {release['target']} ({release['commit'] or 'no commit'}), "
          f"{size / 1024**2:.0f} MB, built in {time.monotonic() - started:.0f} s")
    print(f"checksum: {archive.name}.sha256; on the installer host: tar xf {archive.name} && "
          f"cd {archive.name[:-len('.tar.gz')]} && ./install.sh config.cfg")
    return 0
