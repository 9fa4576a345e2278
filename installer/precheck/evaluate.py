"""Run every check on every host it applies to; apply the operator's waivers."""

from installer.precheck import checks  # noqa: F401 - registers the checks
from installer.precheck.model import Context, Result, Status
from installer.precheck.registry import CHECKS


def _waived(result: Result, waivers: list[str], ctx: Context) -> bool:
    for waiver in waivers:
        name, _, host = waiver.partition("@")
        if name not in (result.check, "*"):
            continue
        if host == "*":
            return True
        target = ctx.cfg.find_host(host)
        if target is not None and target.id == result.host:
            return True
    return False


def evaluate(ctx: Context) -> list[Result]:
    results: list[Result] = []
    waivers = list(ctx.cfg.precheck.waive)
    for obs in ctx.hosts.values():
        for chk in CHECKS:
            if "all" not in chk.groups and not set(chk.groups) & set(obs.groups):
                continue
            if chk.needs_observation and not obs.observed:
                continue
            try:
                found = chk.fn(obs, ctx)
            except Exception as exc:  # odd observations must not hide the other checks
                found = [Result(chk.name, obs.host.id, Status.FAIL,
                                f"the check could not read what was gathered: {type(exc).__name__}: {exc}",
                                "re-run the precheck; report this if it persists")]
            for result in found:
                waived = result.status != Status.PASS and _waived(result, waivers, ctx)
                results.append(Result(result.check, result.host, result.status, result.message, result.fix, True)
                               if waived else result)
    return sorted(results, key=lambda r: (r.status if not r.waived else Status.PASS, r.host, r.check))


def blocking(results: list[Result]) -> list[Result]:
    """The results that stop an install: FAILs not waived."""
    return [r for r in results if r.status == Status.FAIL and not r.waived]
