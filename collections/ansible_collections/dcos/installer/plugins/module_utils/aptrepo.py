"""A signed flat apt repository from a folder of .deb files, built on the controller:
pool/*.deb, Packages, Packages.gz, Release, InRelease, Release.gpg and the public key.
The index is deterministic (sorted, no wall-clock date): the same debs give the same files,
and the signatures are only made again when the Release text changes, so a re-run with an
unchanged bundle changes nothing.

A build that is complete leaves a seal beside the repository (<dest>.built.json, never served):
the bundle manifest's digest, the size and mtime of every .deb in the bundle and in the pool,
the digest of every index file and the signing key's fingerprint. A re-run that trusts the seal
(the installer's fast path; --full does not) compares it and is done, where the full comparison
reads every package three times (about 3 s for a two-release bundle on every run)."""

import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
import time

CONTROL_ORDER = ("Package", "Source", "Version", "Architecture", "Maintainer", "Installed-Size", "Pre-Depends",
                 "Depends", "Recommends", "Suggests", "Conflicts", "Breaks", "Replaces", "Provides", "Section",
                 "Priority", "Homepage", "Multi-Arch", "Description")


class RepoError(Exception):
    pass


def _ar_members(data):
    if not data.startswith(b"!<arch>\n"):
        raise RepoError("not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = data[pos + 60:pos + 60 + size]
        yield name, body
        pos += 60 + size + (size % 2)


def _decompress(name, body):
    if name.endswith(".gz"):
        return gzip.decompress(body)
    if name.endswith(".xz"):
        return lzma.decompress(body)
    if name.endswith(".zst"):
        try:
            import zstandard  # optional: Ubuntu 21.10+ packages
            return zstandard.ZstdDecompressor().decompressobj().decompress(body)
        except ImportError:
            proc = subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=False)
            if proc.returncode != 0:
                raise RepoError("zstd-compressed control: install zstd or the zstandard Python package") from None
            return proc.stdout
    if name.endswith(".tar"):
        return body
    raise RepoError("unknown control archive %s" % name)


def deb_control(path):
    """The control paragraph of a .deb, as text."""
    with open(path, "rb") as handle:
        data = handle.read()
    for name, body in _ar_members(data):
        if name.startswith("control.tar"):
            with tarfile.open(fileobj=io.BytesIO(_decompress(name, body))) as tar:
                for member in tar.getmembers():
                    if member.name in ("./control", "control"):
                        return tar.extractfile(member).read().decode("utf-8").strip("\n")
    raise RepoError("%s has no control file" % path)


def _fields(control):
    fields, order, current = {}, [], None
    for line in control.splitlines():
        if line[:1] in (" ", "\t") and current:
            fields[current] += "\n" + line
        elif ":" in line:
            current, value = line.split(":", 1)
            fields[current] = value.strip()
            order.append(current)
    return fields, order


def _digests(path):
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def packages_text(pool, prefix="pool"):
    """The Packages index of every .deb in pool, sorted by package, version and file."""
    entries = []
    for name in sorted(os.listdir(pool)):
        if not name.endswith(".deb"):
            continue
        path = os.path.join(pool, name)
        try:
            fields, order = _fields(deb_control(path))
        except (RepoError, tarfile.TarError, EOFError, ValueError, lzma.LZMAError) as exc:
            raise RepoError("%s: %s" % (name, exc)) from None
        md5, sha256 = _digests(path)
        keys = [k for k in CONTROL_ORDER if k in fields] + [k for k in order if k not in CONTROL_ORDER]
        lines = ["%s: %s" % (k, fields[k]) for k in keys if k != "Description"]
        lines += ["Filename: %s/%s" % (prefix, name), "Size: %d" % os.path.getsize(path), "MD5sum: %s" % md5,
                  "SHA256: %s" % sha256]
        if "Description" in fields:
            lines.append("Description: %s" % fields["Description"])
        entries.append(((fields.get("Package", ""), fields.get("Version", ""), name), "\n".join(lines)))
    return "".join(text + "\n\n" for _, text in sorted(entries))


def release_text(files, label, date):
    lines = ["Origin: DCOS installer", "Label: %s" % label, "Suite: dcos", "Codename: dcos",
             "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(date)),
             "Description: packages of the DCOS installer's offline bundle"]
    for title, algo in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        lines.append("%s:" % title)
        for name, data in files:
            lines.append(" %s %d %s" % (algo(data).hexdigest(), len(data), name))
    return "\n".join(lines) + "\n"


def _gpg(home, *args, **kwargs):
    cmd = ["gpg", "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
    proc = subprocess.run(cmd + list(args), capture_output=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise RepoError("gpg %s failed: %s" % (args[0], proc.stderr.decode("utf-8", "replace").strip()))
    return proc.stdout


def ensure_key(home, uid):
    """A signing key in home, made once and kept. Returns its fingerprint."""
    if shutil.which("gpg") is None:
        raise RepoError("gpg is not installed on the machine running the installer (apt-get install gnupg)")
    os.makedirs(home, mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)
    fingerprint = _listed_fingerprint(home)
    if fingerprint:
        return fingerprint
    _gpg(home, "--quick-gen-key", uid, "rsa3072", "sign", "never")
    return _listed_fingerprint(home)


def _listed_fingerprint(home):
    """The first secret key's fingerprint in home, or None."""
    listing = _gpg(home, "--with-colons", "--list-secret-keys").decode()
    return ([line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")] + [None])[0]


def _write_if_changed(path, data):
    if os.path.exists(path):
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    with open(path, "wb") as handle:
        handle.write(data)
    return True


_INDEX = ("Packages", "Packages.gz", "Release", "InRelease", "Release.gpg", "dcos-repo.gpg")


def _listing(folder):
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".deb"))
    except OSError:
        return None
    out = []
    for name in names:
        st = os.stat(os.path.join(folder, name))
        out.append([name, st.st_size, st.st_mtime_ns])
    return out


def _file_digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def seal_of(debs, dest, manifest, fingerprint):
    """What a complete build of dest from debs looks like, read cheaply (no package is read)."""
    return {"manifest": _file_digest(manifest) if manifest else None, "fingerprint": fingerprint,
            "debs": _listing(debs), "pool": _listing(os.path.join(dest, "pool")),
            "index": {n: _file_digest(os.path.join(dest, n)) for n in _INDEX}}


def _seal_path(dest):
    return os.path.normpath(dest) + ".built.json"


def sealed(debs, dest, manifest, fingerprint):
    """Whether dest is as its last complete build left it, from this very bundle."""
    if not manifest or not os.path.exists(manifest):
        return False
    try:
        with open(_seal_path(dest), encoding="utf-8") as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        return False
    return recorded == seal_of(debs, dest, manifest, fingerprint)


def _write_seal(debs, dest, manifest, fingerprint):
    path = _seal_path(dest)
    if not manifest or not os.path.exists(manifest):
        if os.path.exists(path):
            os.remove(path)
        return
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(seal_of(debs, dest, manifest, fingerprint), handle, sort_keys=True)
    os.replace(path + ".tmp", path)


def _fingerprint(home):
    """The signing key's fingerprint, or None when there is none yet (nothing is made)."""
    if not os.path.isdir(home) or not os.listdir(home) or shutil.which("gpg") is None:
        return None
    return _listed_fingerprint(home)


def repo_differs(debs, dest, gpg_home, manifest=None, trust_seal=False):
    """What build_repo would change, read only (a dry run): a package added, changed or gone,
    an index that differs, or no signing key or signatures yet. With trust_seal, a repository
    sealed from this very bundle is not compared package by package."""
    if trust_seal and sealed(debs, dest, manifest, _fingerprint(gpg_home)):
        return False
    pool = os.path.join(dest, "pool")
    if not os.path.isdir(pool) or not os.path.isdir(gpg_home) or not os.listdir(gpg_home):
        return True  # a first build: the pool and the signing key are made
    wanted = sorted(n for n in os.listdir(debs) if n.endswith(".deb"))
    if sorted(os.listdir(pool)) != wanted:
        return True
    for name in wanted:
        src, dst = os.path.join(debs, name), os.path.join(pool, name)
        if os.path.getsize(dst) != os.path.getsize(src) or _digests(dst) != _digests(src):
            return True
    try:
        with open(os.path.join(dest, "Packages"), "rb") as handle:
            current = handle.read()
    except OSError:
        return True
    signed = all(os.path.exists(os.path.join(dest, n)) for n in ("InRelease", "Release.gpg", "dcos-repo.gpg"))
    return current != packages_text(pool).encode() or not signed


def build_repo(debs, dest, gpg_home, label, manifest=None, trust_seal=False):
    """Build (or bring up to date) the signed flat repo in dest from the .deb files in debs.
    Returns (changed, fingerprint). With trust_seal, a repository sealed from this very bundle
    (manifest) is left as it is without reading its packages."""
    fingerprint = ensure_key(gpg_home, "DCOS installer repository (%s)" % label)
    if trust_seal and sealed(debs, dest, manifest, fingerprint):
        return False, fingerprint
    changed = _build(debs, dest, gpg_home, label, fingerprint)
    _write_seal(debs, dest, manifest, fingerprint)
    return changed, fingerprint


def _build(debs, dest, gpg_home, label, fingerprint):
    pool = os.path.join(dest, "pool")
    os.makedirs(pool, exist_ok=True)
    changed = False
    wanted = sorted(n for n in os.listdir(debs) if n.endswith(".deb"))
    for name in wanted:
        src, dst = os.path.join(debs, name), os.path.join(pool, name)
        if not os.path.exists(dst) or os.path.getsize(dst) != os.path.getsize(src) or _digests(dst) != _digests(src):
            shutil.copyfile(src, dst)
            changed = True
    for name in os.listdir(pool):
        if name not in wanted:
            os.remove(os.path.join(pool, name))
            changed = True
    packages = packages_text(pool).encode()
    packages_gz = gzip.compress(packages, mtime=0)
    newest = max([os.path.getmtime(os.path.join(debs, n)) for n in wanted] or [0])
    release = release_text([("Packages", packages), ("Packages.gz", packages_gz)], label, int(newest)).encode()
    changed |= _write_if_changed(os.path.join(dest, "Packages"), packages)
    changed |= _write_if_changed(os.path.join(dest, "Packages.gz"), packages_gz)
    release_path = os.path.join(dest, "Release")
    signed = os.path.exists(os.path.join(dest, "InRelease")) and os.path.exists(os.path.join(dest, "Release.gpg"))
    if _write_if_changed(release_path, release) or not signed:
        changed = True
        with tempfile.TemporaryDirectory() as tmp:
            for out, flag in (("InRelease", "--clearsign"), ("Release.gpg", "--detach-sign")):
                target = os.path.join(tmp, out)
                _gpg(gpg_home, "--local-user", fingerprint, "--digest-algo", "SHA256", "--armor" if flag ==
                     "--clearsign" else "--no-armor", flag, "--output", target, release_path)
                shutil.move(target, os.path.join(dest, out))
    key = _gpg(gpg_home, "--export", fingerprint)
    changed |= _write_if_changed(os.path.join(dest, "dcos-repo.gpg"), key)
    return changed
