"""./install.sh bundle: make the offline bundle on a machine that has access.

    ./install.sh bundle --target debian12 --out DIR [--components a,b] [--image IMG]
                        [--extra-packages FOLDER] [--docker-image NAME:TAG ...]

Packages are resolved with every dependency in a clean container of the target OS by its own
package manager (apt-get --download-only on Debian/Ubuntu, dnf download --resolve --alldeps
on EL), images are saved from the local Docker, and manifest.json records name, version,
size and sha256 of every file. Re-running only downloads what is missing.

Hosts of a second OS release of the same family (Debian 11 beside Debian 12) take their
packages from a sub-bundle made into the first one's targets/ folder:

    ./install.sh bundle --target debian12 --out bundle
    ./install.sh bundle --target debian11 --out bundle/targets/debian11

(a sub-bundle holds packages only: the images and files of the top one serve every host)."""

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from installer.bundle import FORMAT, MANIFEST, TARGETS, sha256, verify_bundle

TOP = Path(__file__).resolve().parent.parent
COMPONENTS = TOP / "components.yml"

# The Debian mirror the image's own sources name ($mirror), one-line or deb822 style.
MIRROR_SH = r"""
mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
"""
APT_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
""" + MIRROR_SH.lstrip("\n") + r"""for suite in @EXTRA_SUITES@; do
  echo "deb $mirror $suite main" > /etc/apt/sources.list.d/bundle-$suite.list
  printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "$suite" > /etc/apt/preferences.d/bundle-$suite
done
apt-get update -q -o APT::Update::Error-Mode=any >/dev/null
apt-get install -y -q --download-only --no-install-recommends @PACKAGES@ @LOCAL@
"""
DNF_SCRIPT = r"""
set -eu
dnf -q -y install 'dnf-command(download)' >/dev/null
dnf download --resolve --alldeps --destdir /bundle/packages @PACKAGES@
if [ -n "@LOCAL@" ]; then
  dnf -q -y install --downloadonly --downloaddir /bundle/packages @LOCAL@
fi
"""


class BundleError(Exception):
    pass


def load_components(path: Path = COMPONENTS) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if data.get("format") != 1:
        raise BundleError(f"{path}: unknown format")
    return data


def packages_for(target: dict[str, Any], components: list[str] | None) -> list[str]:
    chosen = components or [c for c in target["components"] if c not in ("mesos", "marathon")]
    unknown = [c for c in chosen if c not in target["components"]]
    if unknown:
        raise BundleError(f"unknown component(s) {', '.join(unknown)}; known: {', '.join(target['components'])}")
    return list(dict.fromkeys(p for c in chosen for p in target["components"][c]))


def _run(cmd: list[str]) -> None:
    print("+ " + " ".join(shlex.quote(c) for c in cmd[:8]) + (" ..." if len(cmd) > 8 else ""), file=sys.stderr)
    proc = subprocess.run(cmd, check=False)
    if proc.returncode != 0:
        raise BundleError(f"{cmd[0]} {cmd[1]} failed with exit status {proc.returncode}")


def download_packages(target: dict[str, Any], packages: list[str], out: Path, image: str,
                      extra: Path | None = None) -> None:
    """Every package and its dependencies; with `extra`, the dependencies of those local
    packages too (a vendor's mesos needs libraries of the OS, which then travel in the bundle)."""
    pkgdir = out / "packages"
    pkgdir.mkdir(parents=True, exist_ok=True)
    suffix = ".deb" if target["family"] == "debian" else ".rpm"
    local = " ".join(shlex.quote(f"/extra/{p.name}") for p in sorted(extra.glob(f"*{suffix}"))) if extra else ""
    mounts = ["-v", f"{extra.resolve()}:/extra:ro"] if local else []
    if target["family"] == "debian":
        (pkgdir / "partial").mkdir(exist_ok=True)
        script = APT_SCRIPT.replace("@EXTRA_SUITES@", " ".join(target.get("extra_suites", []))).replace(
            "@PACKAGES@", " ".join(shlex.quote(p) for p in packages)).replace("@LOCAL@", local)
        mounts += ["-v", f"{pkgdir.resolve()}:/var/cache/apt/archives"]
    else:
        script = DNF_SCRIPT.replace("@PACKAGES@", " ".join(shlex.quote(p) for p in packages)).replace(
            "@LOCAL@", local)
        mounts += ["-v", f"{out.resolve()}:/bundle"]
    _run(["docker", "run", "--rm", "--label", "dcos-bundle=1", *mounts, "--entrypoint", "/bin/sh", image,
          "-c", script])
    shutil.rmtree(pkgdir / "partial", ignore_errors=True)
    (pkgdir / "lock").unlink(missing_ok=True)


def add_extra_packages(folder: Path, out: Path) -> int:
    """Packages that exist nowhere online (vendor packages, test stand-ins)."""
    count = 0
    for path in sorted(folder.glob("*.deb")) + sorted(folder.glob("*.rpm")):
        target = out / "packages" / path.name
        if not target.exists() or sha256(target) != sha256(path):
            shutil.copyfile(path, target)
        count += 1
    return count


def save_images(images: list[str], out: Path) -> None:
    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for image in images:
        tar = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", image) + ".tar")
        if tar.exists():
            continue
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode != 0:
            _run(["docker", "pull", image])
        _run(["docker", "save", "-o", str(tar), image])
        (folder / (tar.name + ".name")).write_text(image + "\n")


def fetch_files(files: list[dict[str, Any]], out: Path) -> int:
    """Artifacts listed in components.yml (tarballs, binaries): fetched once, checked when a
    sha256 is given; a file already there is kept."""
    import urllib.request

    folder = out / "files"
    folder.mkdir(parents=True, exist_ok=True)
    fetched = 0
    for item in files:
        target = folder / Path(urllib.parse.urlparse(item["url"]).path).name
        if not target.exists():
            print(f"fetching {item['url']}", file=sys.stderr)
            tmp = target.with_suffix(target.suffix + ".part")
            try:
                with urllib.request.urlopen(item["url"], timeout=60) as response, tmp.open("wb") as handle:
                    shutil.copyfileobj(response, handle)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise BundleError(f"cannot fetch {item['name']} from {item['url']}: {exc}") from None
            tmp.replace(target)
            fetched += 1
        if item.get("sha256") and sha256(target) != item["sha256"]:
            raise BundleError(f"{target.name} does not match the sha256 components.yml gives for {item['name']}")
        (folder / (target.name + ".name")).write_text(f"{item['name']} {item.get('version', '')}\n")
    return fetched


def _package_identity(path: Path) -> tuple[str, str]:
    """name, version from name_version_arch.deb or name-version-release.arch.rpm."""
    stem = urllib.parse.unquote(path.name)
    if stem.endswith(".deb"):
        parts = stem[:-4].split("_")
        return parts[0], parts[1] if len(parts) > 1 else ""
    match = re.match(r"^(.+)-([^-]+-[^-]+)\.[^.]+\.rpm$", stem)
    return (match.group(1), match.group(2)) if match else (stem, "")


def write_manifest(out: Path, target_name: str) -> dict[str, Any]:
    files = []
    subs = out / TARGETS  # sub-bundles of other releases have their own manifests
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST and
                       not p.name.endswith(".name") and subs not in p.parents):
        rel = path.relative_to(out).as_posix()
        entry: dict[str, Any] = {"path": rel, "size": path.stat().st_size, "sha256": sha256(path)}
        if rel.startswith("packages/"):
            name, version = _package_identity(path)
            entry.update(kind="package", name=name, version=version)
        elif rel.startswith("images/"):
            label = path.with_name(path.name + ".name")
            entry.update(kind="image", name=label.read_text().strip() if label.exists() else path.stem)
        else:
            label = path.with_name(path.name + ".name")
            name, _, version = (label.read_text().strip() if label.exists() else path.name).partition(" ")
            entry.update(kind="file", name=name, version=version)
        files.append(entry)
    manifest = {"format": FORMAT, "os": target_name, "files": files}
    # Written aside and renamed: a killed bundler never leaves half a manifest, and a bundle
    # hard-linked from another (installer.demo.newer_bundle) never writes into the other's.
    temp = out / (MANIFEST + ".tmp")
    temp.write_text(json.dumps(manifest, indent=1) + "\n")
    temp.replace(out / MANIFEST)
    return manifest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="install.sh bundle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="target OS as named in components.yml (debian12, el8)")
    parser.add_argument("--out", required=True, type=Path, help="bundle folder to make or complete")
    parser.add_argument("--components", help="comma-separated components (default: all but mesos, marathon)")
    parser.add_argument("--image", help="clean container image of the target OS (default: from components.yml)")
    parser.add_argument("--extra-packages", type=Path,
                        help="folder of .deb/.rpm files to add (their dependencies are resolved and added too)")
    parser.add_argument("--docker-image", action="append", default=[], help="image to save into the bundle")
    parser.add_argument("--no-files", action="store_true", help="leave out the artifacts of components.yml")
    parser.add_argument("--verify", action="store_true", help="only verify an existing bundle")
    args = parser.parse_args(argv)
    try:
        if args.verify:
            report = verify_bundle(args.out)
            for problem in report.problems:
                print(f"bundle: {problem}", file=sys.stderr)
            print(f"bundle {args.out}: {report.files} files verified" if report.ok else "bundle: NOT usable")
            return 0 if report.ok else 1
        spec = load_components()
        target = spec["targets"].get(args.target)
        if target is None:
            raise BundleError(f"unknown target {args.target!r}; known: {', '.join(spec['targets'])}")
        if args.extra_packages and not args.extra_packages.is_dir():
            raise BundleError(f"--extra-packages {args.extra_packages}: no such folder")
        sub = args.out.resolve().parent.name == TARGETS  # a sub-bundle of another release
        if sub and args.out.resolve().name != args.target:
            raise BundleError(f"a sub-bundle of {args.target} goes in {TARGETS}/{args.target}, not "
                              f"{TARGETS}/{args.out.resolve().name}")
        if sub and args.docker_image:
            raise BundleError(f"{args.out} is a sub-bundle of another OS release: images go in the top bundle")
        components = [c.strip() for c in args.components.split(",")] if args.components else None
        packages = packages_for(target, components)
        args.out.mkdir(parents=True, exist_ok=True)
        download_packages(target, packages, args.out, args.image or target["image"], args.extra_packages)
        if target.get("files") and not args.no_files and not sub:
            fetch_files(target["files"], args.out)
        if args.extra_packages:
            print(f"added {add_extra_packages(args.extra_packages, args.out)} extra packages", file=sys.stderr)
        if not sub:
            save_images(list(dict.fromkeys(spec.get("images", []) + args.docker_image)), args.out)
        manifest = write_manifest(args.out, args.target)
    except BundleError as exc:
        print(f"install.sh bundle: {exc}", file=sys.stderr)
        return 1
    size = sum(f["size"] for f in manifest["files"])
    print(f"bundle {args.out}: {len(manifest['files'])} files, {size / 1024**2:.0f} MB")
    return 0
