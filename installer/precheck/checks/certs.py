"""Certificates: every one the installer made or was given (installer/certs.py), read on the
controller. Expired: FAIL (image pulls and the VIP's HTTPS fail), unless this very run issues
it again (then WARN). Fewer than RENEW_DAYS left: WARN, with who renews it."""

from installer.certs import RENEW_DAYS
from installer.precheck.model import Context, HostObservation, fail, ok, warn
from installer.precheck.registry import check


def _renewal(cert, ctx: Context) -> tuple[bool, str]:
    """(whether this run issues it again, what to do)."""
    if cert.renewed_by and cert.renewed_by in ctx.phases:
        return True, f"this run's {cert.renewed_by} phase issues it again from the cluster CA"
    if cert.renewed_by:
        return False, (f"./install.sh {ctx.cfg.path.name} renew-certs issues it again from the cluster CA "
                       f"(or any run with the {cert.renewed_by} phase)")
    if cert.given:
        return False, f"put a new certificate at {cert.path} (config.cfg names it) and run the install again"
    return False, ("the cluster CA is not renewed by the installer: a new CA must be trusted by every host "
                   "first (docs/security.md)")


@check("certificates", "repo", groups=("installer",), needs_observation=False)
def certificates(obs: HostObservation, ctx: Context):
    host = obs.host.id
    if not ctx.certificates:
        return [ok("certificates", host, "no certificate made yet (this run makes them)")]
    out = []
    for cert in ctx.certificates:
        if cert.error:
            out.append(fail("certificates", host, f"{cert.label} {cert.path} {cert.error}",
                            _renewal(cert, ctx)[1]))
            continue
        days = cert.days_left()
        until = f"{cert.not_after:%Y-%m-%d}"
        renewed, fix = _renewal(cert, ctx)
        if days <= 0:
            message = f"{cert.label} ({cert.path.name}) expired on {until}"
            verdict = warn if renewed else fail
            out.append(verdict("certificates", host, message, fix))
        elif days < RENEW_DAYS:
            out.append(warn("certificates", host, f"{cert.label} ({cert.path.name}) expires in {int(days)} days, "
                            f"on {until}", fix))
        else:
            out.append(ok("certificates", host, f"{cert.label} ({cert.path.name}) valid until {until} "
                          f"({int(days)} days)"))
    return out
