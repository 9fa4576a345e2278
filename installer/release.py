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
    bundle/                  the offline bundle (./install.sh bundle): packages, images, files,
                             and bundle/targets/<release>/ for hosts of other OS releases
                             (Debian 11 beside Debian 12: one archive for the whole cluster)
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
import tempfile
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

DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}

# Resolved with an empty dpkg status, so apt downloads the whole dependency closure (what a
# minimal host may lack, whatever the image used here has), then indexed as a flat source.
# With the release's security updates: an installer host that has them has newer libraries
# (python3.11's) than the point release, and apt does not downgrade.
CONTROLLER_APT_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
echo "deb ${mirror%/debian}/debian-security $VERSION_CODENAME-security main" > /etc/apt/sources.list.d/security.list
apt-get update -q -o Acquire::Languages=none >/dev/null
apt-get install -y -q --no-install-recommends apt-utils >/dev/null 2>&1
: > /tmp/empty-status
apt-get -q -o Dir::State::status=/tmp/empty-status -o Dir::Cache::archives=/out -o Debug::NoLocking=1 \
  install -y --download-only --no-install-recommends @PACKAGES@ >/dev/null
cd /out
rm -rf partial lock
apt-ftparchive packages . > Packages
apt-ftparchive release . | grep -v '^Date:' > Release
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


def code_files() -> dict[str, bool]:
    """The installer's own files, each with whether it is executable: what git tracks (as in
    the working tree; a file not added is not part of a release) less what .gitattributes
    marks export-ignore, or, in an unpacked release, the code files its RELEASE.json lists."""
    listed = _git("ls-files", "-s", "-z")
    if listed is not None:
        modes = {}
        for line in filter(None, listed.split("\0")):
            meta, name = line.split("\t", 1)
            if (TOP / name).is_file():
                modes[name] = meta.split()[0] == "100755"
        proc = subprocess.run(["git", "-C", str(TOP), "check-attr", "-z", "--stdin", "export-ignore"],
                              input="\0".join(modes), capture_output=True, text=True, check=True)
        fields = proc.stdout.split("\0")
        ignored = {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "set"}
        return {name: modes[name] for name in sorted(set(modes) - ignored)}
    if (TOP / RELEASE).is_file():
        return {f["path"]: f.get("mode") == "0755" for f in json.loads((TOP / RELEASE).read_text())["files"]
                if f.get("part") == "code"}
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


def build_wheelhouse(python: str, arch: str) -> Path:
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
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))


def _settle(work: Path, folder: Path) -> Path:
    """The filled work folder becomes the cache entry, unless another build's already did."""
    try:
        work.rename(folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def build_controller_packages(target_name: str, target: dict[str, Any], image: str, arch: str) -> Path:
    """The controller's OS packages with their whole dependency closure, as a flat apt source
    (Packages, Release), resolved in a container of the target; cached in .cache/release."""
    if target["family"] not in CONTROLLER_PACKAGES:
        raise ReleaseError(f"a release for {target_name} ({target['family']}) is not made yet: only Debian "
                           "targets have a controller package source so far")
    packages = CONTROLLER_PACKAGES[target["family"]]
    inspect = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}} {{.Architecture}}", image],
                             capture_output=True, text=True, check=False)
    if inspect.returncode != 0:
        raise ReleaseError(f"no image {image} here to resolve the controller's packages in (docker pull it, or "
                           "give --image)")
    image_id, image_arch = inspect.stdout.split()
    if DEBIAN_ARCH.get(arch) != image_arch:
        raise ReleaseError(f"{image} is an {image_arch} image: the installer host is {arch}")
    key = hashlib.sha256(" ".join([*packages, image_id, arch]).encode()).hexdigest()[:12]
    folder = CACHE / f"controller-{target_name}-{key}"
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
    members = [Member(n, TOP / n, executable) for n, executable in code_files().items()]
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


class _Hashing(io.RawIOBase):
    """A file read once: tarfile copies it while its sha256 is taken (a file changed between a
    first read for the checksum and a second for the copy would make an archive that fails
    its own --verify)."""

    def __init__(self, handle: BinaryIO):
        self._handle, self.digest = handle, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


def write_archive(out: Path, folder_name: str, members: list[Member], release: dict[str, Any], mtime: int) -> Path:
    """The members, then RELEASE.json (each one's size, mode and sha256, taken while it is
    copied), under folder_name/, reproducibly (see the module's doc); verified before it is
    given its name."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{folder_name}.tar.gz"
    dirs = sorted({str(PurePosixPath(m.path).parent) for m in members} - {"."})
    all_dirs = sorted({str(p) for d in dirs for p in [PurePosixPath(d), *PurePosixPath(d).parents] if str(p) != "."})
    fd, tmp_name = tempfile.mkstemp(prefix=f".{archive.name}.", dir=out)
    tmp = Path(tmp_name)
    entries = []
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime,
                                                       compresslevel=6) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_tarinfo(folder_name, 0, mtime, 0o755, tarfile.DIRTYPE))
            for name in all_dirs:
                tar.addfile(_tarinfo(f"{folder_name}/{name}", 0, mtime, 0o755, tarfile.DIRTYPE))
            for member in members:
                mode = 0o755 if member.executable else 0o644
                with member.source.open("rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    reader = _Hashing(handle)
                    tar.addfile(_tarinfo(f"{folder_name}/{member.path}", size, mtime, mode), reader)
                entries.append({"path": member.path, "part": _file_part(member.path), "size": size,
                                "mode": f"{mode:04o}", "sha256": reader.digest.hexdigest()})
            body = (json.dumps(dict(release, files=entries), indent=1, sort_keys=True) + "\n").encode()
            tar.addfile(_tarinfo(f"{folder_name}/{RELEASE}", len(body), mtime, 0o644), io.BytesIO(body))
        report = verify_archive(tmp, sums=False)
        if not report.ok:
            raise ReleaseError("the archive just written does not verify (a file changed while it was copied?): "
                               + "; ".join(report.problems[:5]))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.chmod(0o644)
    tmp.replace(archive)
    sums = archive.with_name(archive.name + ".sha256")
    sums_tmp = sums.with_name(f".{sums.name}.{os.getpid()}")
    sums_tmp.write_text(f"{sha256(archive)}  {archive.name}\n")
    sums_tmp.replace(sums)
    return archive


def _digest(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _scan(tar: tarfile.TarFile, report: VerifyReport) -> dict[str, tuple[int, str, str]]:
    """Each file member's (size, mode, sha256) by its path in the folder; RELEASE.json read into
    the report, and what no release holds named in it."""
    seen: dict[str, tuple[int, str, str]] = {}
    folder = ""
    for info in tar:
        parts = PurePosixPath(info.name).parts
        if not parts or info.name.startswith("/") or ".." in parts or (len(parts) == 1 and not info.isdir()):
            report.problems.append(f"{info.name!r}: not inside the archive's folder")
            continue
        folder = folder or parts[0]
        if parts[0] != folder:
            report.problems.append(f"{info.name}: outside the folder {folder}/")
        elif info.isdir():
            if info.mode & 0o7777 != 0o755:
                report.problems.append(f"{info.name}: folder mode {info.mode & 0o7777:04o}, not 0755")
        elif not info.isfile():
            report.problems.append(f"{info.name}: a link or special file")
        else:
            rel = "/".join(parts[1:])
            handle = tar.extractfile(info)
            assert handle is not None
            if rel in seen or (rel == RELEASE and report.release):
                report.problems.append(f"{rel} is in the archive twice")
            elif rel == RELEASE:
                report.release = json.loads(handle.read())
            else:
                seen[rel] = (info.size, f"{info.mode & 0o7777:04o}", _digest(handle))
    return seen


def verify_archive(archive: Path, sums: bool = True) -> VerifyReport:
    """The .sha256 beside it (when sums), then every member against RELEASE.json: nothing
    changed, missing, added or twice, no path leaving the folder, no link or device, no mode
    but 0644 and 0755. The checksums travel inside the archive: this finds a damaged copy,
    not a forged one (compare the .sha256 with the one published where the archive was made)."""
    report = VerifyReport(archive=archive)
    if not archive.is_file():
        report.problems.append(f"no archive at {archive}")
        return report
    sums_file = archive.with_name(archive.name + ".sha256")
    if sums and sums_file.is_file():
        words = sums_file.read_text().split()
        if sha256(archive) != (words[0] if words else ""):
            report.problems.append(f"{archive.name} does not match {sums_file.name} (corrupt, truncated or changed)")
            return report
    elif sums:
        report.problems.append(f"{sums_file.name} is missing: the archive's own checksum cannot be checked")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            seen = _scan(tar, report)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        report.problems.append(f"{archive.name} cannot be read: {exc}")
        return report
    if not report.release:
        report.problems.append(f"{RELEASE} is missing")
        return report
    try:
        listed = {str(f["path"]): (int(f["size"]), str(f["mode"]), str(f["sha256"])) for f in report.release["files"]}
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"{RELEASE} is not a release's list of files ({exc!r})")
        return report
    for path, (size, mode, digest) in sorted(listed.items()):
        if path not in seen:
            report.problems.append(f"{path} is missing")
        elif seen[path] != (size, mode, digest):
            report.problems.append(f"{path} does not match its size, mode and sha256 in {RELEASE}")
        elif mode not in ("0644", "0755"):
            report.problems.append(f"{path}: mode {mode}, not 0644 or 0755")
        else:
            report.files += 1
            report.bytes += size
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
    if target_name not in report.releases:
        raise ReleaseError(f"the bundle {bundle} has no packages of {target_name}, the installer host's release "
                           f"(it serves {', '.join(report.releases) or 'no named release'})")
    wheelhouse = build_wheelhouse(python, arch)
    controller = build_controller_packages(target_name, target, image or target["image"], arch)
    members = plan_members(bundle, wheelhouse, controller, target_name)
    commit = _git("describe", "--always", "--dirty", "--abbrev=12") or ""
    release = {"format": FORMAT, "name": "dcos-installer", "version": __version__, "commit": commit,
               "target": target_name, "bundle_releases": sorted(report.releases), "python": python, "arch": arch,
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
