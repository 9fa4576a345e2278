"""The one archive an operation ends with (diagnostics, backup): a tar.gz created 0600 from
the start, one folder <cluster>-<kind>-<stamp>/, each file's sha256 and size kept for the
manifest, and removed again when writing it fails (no half archive that looks whole)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from installer.runner import Run


class PrivateArchive:
    """with PrivateArchive.for_run(run, "backup") as archive: archive.add(name, data) ...
    transform: applied to every file's bytes before they are written (diagnostics: the
    installer's scrubber)."""

    def __init__(self, path: Path, top: str, stamp: str = "", transform: Callable[[bytes], bytes] | None = None):
        self.path, self.top, self.stamp, self._transform = path, top, stamp, transform
        self.sums: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w:gz")  # noqa: SIM115 (closed by close())

    @classmethod
    def for_run(cls, run: Run, kind: str, transform: Callable[[bytes], bytes] | None = None) -> PrivateArchive:
        """In --out (archive_out) or the run's own folder, named after the cluster, kind and now."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        top = f"{run.cfg.cluster.name}-{kind}-{stamp}"
        out_dir = Path(run.options.archive_out).resolve() if run.options.archive_out else run.run_dir.path
        out_dir.mkdir(parents=True, exist_ok=True)
        return cls(out_dir / f"{top}.tar.gz", top, stamp, transform)

    def add(self, name: str, data: bytes) -> None:
        if self._transform is not None:
            data = self._transform(data)
        info = tarfile.TarInfo(f"{self.top}/{name}")
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        self._tar.addfile(info, io.BytesIO(data))
        self.sums[name], self.sizes[name] = hashlib.sha256(data).hexdigest(), len(data)

    def add_tree(self, name: str, folder: Path) -> None:
        """Every regular file under folder (no link, no socket such as gpg-agent's)."""
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                self.add(f"{name}/{path.relative_to(folder)}", path.read_bytes())

    def close(self) -> None:
        self._tar.close()
        self._file.close()

    def __enter__(self) -> PrivateArchive:
        return self

    def __exit__(self, kind, value, trace) -> None:
        self.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)
