"""chrony configuration rendered for both OS families and both modes."""

import pytest

from tests.unit.roles import render, role_vars


@pytest.mark.parametrize(
    "family,path_fragment",
    [("Debian", "/var/lib/chrony/chrony.drift"), ("RedHat", "/var/lib/chrony/drift")],
)
def test_server_without_upstream_serves_its_local_clock(family, path_fragment):
    values = role_vars("ntp", family, ntp_mode="server", ntp_allow=["10.0.0.0/24"], __ntp_clock_control=True)
    conf = render("ntp", "chrony.conf.j2", values)
    assert "local stratum 10\n" in conf
    assert "orphan" not in conf
    assert "allow 10.0.0.0/24\n" in conf
    assert "server " not in conf
    assert f"driftfile {path_fragment}" in conf
    assert "rtcsync" in conf


def test_server_with_upstreams_keeps_local_clock_only_as_orphan_fallback():
    values = role_vars("ntp", "Debian", ntp_mode="server", ntp_upstream_servers=["ntp1.example", "ntp2.example"],
                       __ntp_clock_control=False)
    conf = render("ntp", "chrony.conf.j2", values)
    assert "server ntp1.example iburst\nserver ntp2.example iburst\n" in conf
    assert "local stratum 10 orphan" in conf
    assert "rtcsync" not in conf  # no clock control: no RTC either


def test_client_follows_the_installer_and_serves_nobody():
    values = role_vars("ntp", "RedHat", ntp_mode="client", ntp_client_servers=["10.0.0.5"], __ntp_clock_control=True)
    conf = render("ntp", "chrony.conf.j2", values)
    assert "server 10.0.0.5 iburst" in conf
    assert "allow" not in conf
    assert "local stratum" not in conf


@pytest.mark.parametrize("family,expected", [
    ("Debian", "ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x"),
    ("RedHat", "ExecStart=/usr/sbin/chronyd $OPTIONS -x"),
])
def test_no_clock_control_drop_in_keeps_the_packaged_options(family, expected):
    dropin = render("ntp", "no-clock-control.conf.j2", role_vars("ntp", family))
    assert "ConditionCapability=\n" in dropin
    assert "ExecStart=\n" in dropin  # reset before redefining
    assert expected in dropin
