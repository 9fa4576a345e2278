"""Time: the clock agrees with the installer's NTP server, which every host can reach."""

from installer.precheck.model import Context, HostObservation, admitted_later, fail, ok, warn
from installer.precheck.registry import check

NTP_FACT = "dcos_ntp"


def _ntp_installed(ctx: Context) -> bool:
    return ctx.ours_on_installer(NTP_FACT)


@check("clock", "time", groups=("cluster",))
def clock(obs: HostObservation, ctx: Context):
    if "installer" in obs.groups:
        return [ok("clock", obs.host.id, "serves the cluster's time")]
    limit = ctx.cfg.precheck.max_clock_offset_ms
    ntp = obs.probe.get("ntp") or {}
    if ntp.get("answered"):
        offset = ntp["offset_ms"]
        if abs(offset) > limit:
            return [fail("clock", obs.host.id, f"clock is {offset:+.0f} ms off the installer's NTP server "
                         f"(at most {limit} ms)", "step the clock (chronyc makestep) and check the NTP client")]
        if abs(offset) > limit / 2:
            return [warn("clock", obs.host.id, f"clock is {offset:+.0f} ms off the installer's NTP server")]
        return [ok("clock", obs.host.id, f"clock within {abs(offset):.1f} ms of the installer's NTP server")]
    installer = ctx.installer
    if installer is None or not installer.observed or "now" not in obs.probe:
        return [warn("clock", obs.host.id, "the clock offset could not be measured")]
    # No NTP server yet: compare with the installer's clock as read in the same gather
    # (both reads are within the gather's few seconds, so only large offsets show).
    offset_s = obs.probe["now"] - installer.probe.get("now", obs.probe["now"])
    if abs(offset_s) > 60:
        return [warn("clock", obs.host.id, f"clock differs from the installer host's by about {offset_s:+.0f} s",
                     "the hosts phase steps it once NTP runs; check the timezone and hardware clock")]
    return [ok("clock", obs.host.id, "NTP server will be installed; clock agrees with the installer host's")]


@check("ntp_reachable", "time", groups=("cluster",))
def ntp_reachable(obs: HostObservation, ctx: Context):
    if "installer" in obs.groups:
        return []
    ntp = obs.probe.get("ntp") or {}
    if ntp.get("answered"):
        return [ok("ntp_reachable", obs.host.id, f"NTP server {ntp['server']} answers (stratum {ntp['stratum']})")]
    if not _ntp_installed(ctx):
        return [ok("ntp_reachable", obs.host.id, "NTP server will be installed on the installer host")]
    later = admitted_later("ntp_reachable", obs, ctx, "udp", 123, f"NTP server {ntp.get('server')}")
    if later is not None:
        return [later]
    return [fail("ntp_reachable", obs.host.id, f"NTP server {ntp.get('server')} does not answer: "
                 f"{ntp.get('error', 'no answer')}", "allow udp/123 from this host to the installer host")]


@check("ntp_service", "time", groups=("installer",))
def ntp_service(obs: HostObservation, ctx: Context):
    chrony = obs.probe.get("chrony")
    if not _ntp_installed(ctx):
        return [ok("ntp_service", obs.host.id, "NTP server will be installed")]
    if chrony and chrony.get("running"):
        return [ok("ntp_service", obs.host.id, f"chrony serves time (stratum {chrony.get('stratum')})")]
    return [fail("ntp_service", obs.host.id, "the NTP server installed here is not running",
                 "systemctl status chrony; re-run the hosts phase")]
