"""Build the stand-in `mesos` and `marathon` .deb packages the tests install in place of the
real ones (which cannot be obtained on the test machines). Never part of a real bundle.

    python -m demo.standins.build OUT_DIR      # writes OUT_DIR/mesos_*.deb, marathon_*.deb
    python -m demo.standins.build OUT_DIR --revision 2   # the same at a newer version (+upgrade2)

Each package is the tree under demo/standins/<name>/package/ plus the reference flag lists
(demo/standins/reference/), so the stand-ins accept exactly the flags the real programs accept.
Deterministic: the same sources give byte-identical packages (SOURCE_DATE_EPOCH, sorted
tree, fixed modes), so rebuilding never changes the repository the tests serve.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
EPOCH = "1700000000"

# package -> {path inside the package: file under demo/standins/reference}
EXTRA_FILES = {
    "mesos": {
        "usr/share/mesos/standin/master-flags.txt": "mesos-1.11.0/master-flags.txt",
        "usr/share/mesos/standin/agent-flags.txt": "mesos-1.11.0/agent-flags.txt",
    },
    "marathon": {
        "usr/share/marathon/standin/flags.txt": "marathon/flags.txt",
    },
}


# Files the real packages ship that the stand-ins only need to exist (Marathon loads libmesos
# through MESOS_NATIVE_JAVA_LIBRARY; the marathon role checks that it is there).
STUBS = {
    "mesos": {"usr/lib/libmesos-1.11.0.so": "stand-in: the real package ships the Mesos library here\n"},
    "marathon": {},
}
LINKS = {"mesos": {"usr/lib/libmesos.so": "libmesos-1.11.0.so"}, "marathon": {}}


def _control_field(control: Path, name: str) -> str:
    for line in control.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"{control}: no {name} field")


def _normalise(root: Path) -> None:
    """Fixed modes and times: executables 0755, the rest 0644, folders 0755."""
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            continue
        script = path.parent.name == "DEBIAN" and path.name in ("postinst", "prerm", "postrm", "preinst")
        if path.is_dir() or script or os.access(path, os.X_OK):
            path.chmod(0o755)
        else:
            path.chmod(0o644)
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (int(EPOCH), int(EPOCH)), follow_symlinks=False)


def build(name: str, out: Path, revision: int = 0) -> Path:
    """The package of demo/standins/<name>; revision > 0 makes it newer than the plain one
    (Version gets "+upgrade<revision>", which dpkg orders after it), for the upgrade's tests."""
    source = HERE / name / "package"
    if not (source / "DEBIAN" / "control").is_file():
        raise SystemExit(f"{source}: no DEBIAN/control")
    control = source / "DEBIAN" / "control"
    version = _control_field(control, "Version") + (f"+upgrade{revision}" if revision else "")
    arch = _control_field(control, "Architecture")
    target = out / f"{name}_{version}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix=f"standin-{name}-") as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(source, root, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if revision:
            text = (root / "DEBIAN" / "control").read_text()
            (root / "DEBIAN" / "control").write_text(
                text.replace(f"Version: {_control_field(control, 'Version')}\n", f"Version: {version}\n"))
        for inside, ref in EXTRA_FILES[name].items():
            dest = root / inside
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REFERENCE / ref, dest)
        for inside, text in STUBS[name].items():
            (root / inside).parent.mkdir(parents=True, exist_ok=True)
            (root / inside).write_text(text)
        for inside, link in LINKS[name].items():
            (root / inside).symlink_to(link)
        _normalise(root)
        env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
        partial = target.with_suffix(".deb.part")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(partial)],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        if target.is_file() and target.read_bytes() == partial.read_bytes():
            partial.unlink()  # unchanged: keep the old file (and its mtime)
        else:
            partial.replace(target)
    return target


def main(argv: list[str]) -> int:
    revision = 0
    if len(argv) == 3 and argv[1] == "--revision" and argv[2].isdigit():
        revision = int(argv[2])
        argv = argv[:1]
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in EXTRA_FILES:
        print(build(name, out, revision))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
