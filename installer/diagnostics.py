"""./install.sh config.cfg diagnostics [--hosts a,b] [--since 24h] [--out DIR]: one archive of
what support needs from every host, with no secret in it.

Each host collects its own (roles/diagnostics/files/collect.py, from the catalogue: the status,
unit file and journal of every unit of every component, its configuration files with the
secrets redacted, the installed versions and the installer's records, disk, memory, clock and
NTP, listening ports, addresses, the firewall, failed units and the error journal); the
controller fetches each host's part into a private temporary folder, scrubs every known secret
of the cluster out of every file again (installer.secrets.Scrubber: a secret under a name the
host-side redaction does not know), adds the last runs' records and writes one tar.gz (0600)
with a manifest: which hosts are in it, which are not and why, the sha256 of every member.

A host that cannot be reached costs 20 seconds and is named in the manifest; the others are
collected all the same (the archive is most wanted when something is down)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer import __version__
from installer.archive import PrivateArchive
from installer.catalogue import CATALOGUE, FAMILIES

if TYPE_CHECKING:
    from installer.config.model import Config, Host
    from installer.runner import Run

SINCE = re.compile(r"(\d{1,4})([mhd])")
DEFAULT_SINCE = "24h"
JOURNAL_LINES = 5000
MAX_CONFIG_FILE = 256 * 1024
LAST_RUNS = 5
# Of each earlier run folder: what it says about the run (never env/ or artifacts/: the run's
# own parameters and ansible-runner's raw output, already summed up in these).
RUN_FILES = ("summary.json", "events.jsonl", "install.log", "precheck.json", "config.cfg")
UNREACHABLE = "cannot be reached"


def parse_since(value: str | None) -> tuple[str | None, str | None]:
    """journalctl's --since for `--since 90m|24h|7d` (at most 365 days), or an error."""
    value = (value or DEFAULT_SINCE).strip().lower()
    match = SINCE.fullmatch(value)
    if not match:
        return None, f"--since {value!r}: give minutes, hours or days as 90m, 24h or 7d"
    number, unit = int(match.group(1)), match.group(2)
    if number == 0 or number * {"m": 1, "h": 60, "d": 1440}[unit] > 365 * 1440:
        return None, f"--since {value!r}: between 1m and 365d"
    return f"-{number}{'min' if unit == 'm' else unit}", None


def select_hosts(cfg: Config, names: str | None) -> tuple[list[Host], list[str]]:
    """The hosts --hosts names (names or addresses of config.cfg), or every host; and the errors."""
    if not names:
        return cfg.all_hosts(), []
    chosen: list[Host] = []
    errors = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        host = cfg.find_host(name)
        if host is None:
            errors.append(f"--hosts: {name!r} is not a host of config.cfg; its hosts: "
                          + ", ".join(h.id for h in cfg.all_hosts()))
        elif all(host is not h for h in chosen):
            chosen.append(host)
    if not chosen and not errors:
        errors.append("--hosts: no host named")
    return chosen, errors


def spec(since: str) -> dict[str, Any]:
    """What every host collects (`diagnostics_spec` of roles/diagnostics), from the catalogue:
    the units, configuration and packages of every component (a host skips what it has not)."""
    def each(attr: str) -> dict[str, list[str]]:
        return {f: sorted({x for c in CATALOGUE for x in getattr(c, attr).get(f, ())}) for f in FAMILIES}

    return {
        "units": each("units"),
        "packages": each("packages"),
        "files": sorted({f for c in CATALOGUE for f in c.files}),
        "family_files": each("family_files"),
        "since": since, "lines": JOURNAL_LINES, "max_file": MAX_CONFIG_FILE,
    }


def run_options(cfg: Config, hosts: list[Host], since: str, out: Path | None = None, **options: Any):
    """The RunOptions of a diagnostics run of these hosts (install.sh and the portal's API)."""
    from installer.runner import RunOptions

    everything = len(hosts) == len(cfg.all_hosts())
    again = "diagnostics" + ("" if everything else f" --hosts {','.join(h.id for h in hosts)}")
    again += f" --since {shlex.quote(since)}"
    return RunOptions(operation="diagnostics", limit=None if everything else ",".join(h.id for h in hosts),
                      again=again + (f" --out {shlex.quote(str(out))}" if out is not None else ""),
                      extravars={"dcos_diagnostics_spec": spec(since)}, archive_out=out,
                      precheck=False, **options)


def _unreachable(events_file: Path) -> dict[str, str]:
    """host -> what the run said when it could not reach it."""
    said: dict[str, str] = {}
    if not events_file.is_file():
        return said
    for line in events_file.read_text(errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("type") == "host_result" and (ev.get("status") == "unreachable"
                                                or str(ev.get("msg", "")).startswith(UNREACHABLE)):
            said.setdefault(ev["host"], str(ev.get("msg", ""))[:300])
    return said


def assemble(run: Run, fetched: Path) -> tuple[Path, dict[str, Any]]:
    """The archive of a diagnostics run: every host's fetched part (fetched/<host>.tar.gz),
    scrubbed again, the last runs of the cluster, and manifest.json. Returns (path, manifest)."""
    cfg, runs_dir = run.cfg, Path(run.options.runs_dir).resolve()
    asked = [h.id for h in cfg.all_hosts()]
    if run.options.limit:
        asked = [h for h in asked if h in run.options.limit.split(",")]
    said = _unreachable(run.run_dir.events_file)
    hosts: dict[str, dict[str, Any]] = {}

    def scrubbed(data: bytes) -> bytes:
        return run.scrubber.text(data.decode("utf-8", "replace")).encode()

    with PrivateArchive.for_run(run, "diagnostics", scrubbed) as archive:
        for host in asked:
            part = fetched / f"{host}.tar.gz"
            if not part.is_file():
                hosts[host] = {"collected": False,
                               "why": said.get(host) or "its collection did not finish (see the run's log)"}
                continue
            count, errors = 0, []
            with tarfile.open(part, "r:gz") as tar:
                for member in tar:
                    if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                        continue
                    archive.add(f"hosts/{host}/{member.name}", tar.extractfile(member).read())
                    count += 1
                    if member.name.startswith("errors/"):
                        errors.append(member.name)
            hosts[host] = {"collected": True, "files": count, **({"errors": errors} if errors else {})}
        earlier = sorted(p for p in runs_dir.glob(f"*-{cfg.cluster.name}")
                          if re.fullmatch(rf"\d{{8}}-\d{{6}}-{re.escape(cfg.cluster.name)}", p.name)
                          and p.is_dir() and not p.is_symlink() and p != run.run_dir.path)[-LAST_RUNS:]
        for folder in earlier:
            for name in RUN_FILES:
                if (folder / name).is_file():
                    archive.add(f"runs/{folder.name}/{name}", (folder / name).read_bytes())
        manifest = {
            "cluster": cfg.cluster.name, "created": archive.stamp, "installer_version": __version__,
            "since": run.options.extravars.get("dcos_diagnostics_spec", {}).get("since"),
            "hosts": hosts, "runs": [p.name for p in earlier],
            "redaction": "each host withholds private keys and secret files and redacts the values of secret keys; "
                         "the installer then masks every secret of the cluster it knows (********)",
            "sha256": dict(archive.sums),
            "complete": all(v["collected"] for v in hosts.values()),
            "missing": {h: v["why"] for h, v in hosts.items() if not v["collected"]},
        }
        archive.add("manifest.json", json.dumps(manifest, indent=2).encode())
    return archive.path, manifest


def cleanup(fetched: Path) -> None:
    shutil.rmtree(fetched, ignore_errors=True)
