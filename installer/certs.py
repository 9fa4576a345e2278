"""Every certificate the installer made or was given, with its expiry: what the precheck warns
about (`certificates`), what `./install.sh config.cfg renew-certs` lists in its plan and issues
again, and what verify shows.

Made by the installer (from the cluster CA, under runs/state/<cluster>/registry-pki): the
registry's certificate (825 days) and the VIP's HTTPS certificate ([haproxy] tls_days). Each
is issued again by its phase (registry, lb) on any run once fewer than RENEW_DAYS remain, and
on every run of renew-certs; the service restarts (the registry) or reloads (HAProxy) with it.
The cluster CA itself (10 years) is not renewed by the installer: a new CA must be trusted by
every host and client before it signs anything, which is a migration, not a renewal; its
expiry is reported like the others. A certificate config.cfg gives is the operator's to
replace; the installer reports it. The repository's signing key never expires (made with
`--quick-gen-key ... never`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from installer.config.model import Config

RENEW_DAYS = 30  # a made certificate is issued again when fewer days remain (the roles' *_renew_days)


@dataclass(frozen=True)
class Cert:
    label: str  # as messages name it
    path: Path
    renewed_by: str | None  # the phase that issues it again; None: the CA, or given by the operator
    given: bool  # config.cfg names the file (the operator renews it)
    not_after: dt.datetime | None = None
    error: str = ""

    def days_left(self, now: dt.datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return (self.not_after - now).total_seconds() / 86400


def read_not_after(path: Path) -> tuple[dt.datetime | None, str]:
    """The first certificate's notAfter in a PEM file, or why it cannot be read."""
    from cryptography import x509

    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        return None, f"is no PEM certificate ({exc})"
    return cert.not_valid_after_utc, ""


def pki_dir(cfg: Config, runs_dir: Path) -> Path:
    return Path(runs_dir).resolve() / "state" / cfg.cluster.name / "registry-pki"


def certificates(cfg: Config, runs_dir: Path) -> list[Cert]:
    """The certificates of this cluster that exist now (a first install has none yet)."""
    pki = pki_dir(cfg, runs_dir)
    wanted: list[tuple[str, Path, str | None, bool]] = []
    if str(cfg.registry.tls_cert) == "generate":
        wanted += [("the cluster CA", pki / "ca.crt", None, False),
                   ("the registry's certificate", pki / "registry.crt", "registry", False)]
    else:
        wanted.append(("the registry's certificate", Path(str(cfg.registry.tls_cert)), None, True))
    if cfg.group("lb") and cfg.haproxy is not None:
        if str(cfg.haproxy.tls_cert) == "generate":
            wanted.append(("the VIP's HTTPS certificate", pki / "vip.crt", "lb", False))
        else:
            wanted.append(("the VIP's HTTPS certificate", Path(str(cfg.haproxy.tls_cert)), None, True))
    consul = cfg.consul
    if consul is not None and consul.tls:
        wanted += [(label, Path(str(path)), None, True) for label, path in
                   (("Consul's CA", consul.tls_ca_file), ("Consul's certificate", consul.tls_cert_file)) if path]
    out = []
    for label, path, renewed_by, given in wanted:
        if not path.exists():
            continue
        not_after, error = read_not_after(path)
        out.append(Cert(label, path, renewed_by, given, not_after, error))
    return out


def render_plan(cfg: Config, certs: list[Cert], phases: list[str]) -> str:
    """renew-certs' plan: each certificate, its expiry and what happens to it."""
    lines = [f"Certificates of cluster {cfg.cluster.name}:"]
    lb = ", ".join(h.id for h in cfg.group("lb"))
    for cert in certs:
        days = cert.days_left()
        state = (cert.error if cert.error else
                 f"expired on {cert.not_after:%Y-%m-%d}" if days is not None and days <= 0 else
                 f"valid until {cert.not_after:%Y-%m-%d} ({int(days)} days)")
        if cert.renewed_by == "registry":
            then = "issued again from the cluster CA; the registry restarts with it (pulls wait a few seconds)"
        elif cert.renewed_by == "lb":
            then = f"issued again from the cluster CA; HAProxy reloads with it on {lb} (no connection dropped)"
        elif cert.given:
            then = "given in config.cfg: yours to replace (the run installs what is there)"
        else:
            then = "kept: a new CA must first be trusted by every host (docs/security.md)"
        lines.append(f"  {cert.label} ({cert.path.name}): {state}; {then}")
    lines.append(f"Phases: {', '.join(phases)} (the precheck first, as for any run)")
    return "\n".join(lines)
