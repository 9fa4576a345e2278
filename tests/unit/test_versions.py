"""installer/versions.py: versions ordered as the hosts' package managers order them. The Debian
order is checked against dpkg itself (this controller runs Debian); the RPM order against
rpmvercmp's documented cases (no rpm here)."""

import itertools
import shutil
import subprocess

import pytest

from installer.versions import compare, debian_compare, rpm_compare

DEBIAN = ["1.0", "1.0-1", "1.0-1~bpo", "1.0~rc1", "1.0~rc1-1", "1:0.9", "0:1.0", "2.6.12-1+deb12u3",
          "2.6.12-1+deb12u4", "1:10.11.18-0+deb12u1", "1:10.11.19-0+deb12u1", "1:10.11.6-0+deb12u1", "1.0a",
          "1.0+", "1.0.0", "1.00", "1.0-0", "1.0-1.1", "1.0-1a", "3.8.0-2", "3.8.4-1", "1.11.0-1", "1.11.0-2.0.1",
          "1.10.0~dev", "1.0~~", "1.0~", "1.0+b1", "1.0-1+b1", "0.9-1", "1.2.3.4", "1.8.7+dfsg1-5",
          "20.10.24+dfsg1-1+b3"]


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not on this controller")
def test_the_debian_order_is_dpkgs():
    wrong = []
    for a, b in itertools.product(DEBIAN, repeat=2):
        if subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0:
            theirs = -1
        elif subprocess.run(["dpkg", "--compare-versions", a, "eq", b], check=False).returncode == 0:
            theirs = 0
        else:
            theirs = 1
        if debian_compare(a, b) != theirs:
            wrong.append((a, b, debian_compare(a, b), theirs))
    assert not wrong


@pytest.mark.parametrize("a, b, order", [
    ("1.0-1", "1.0-1", 0), ("1.0-1", "1.0-2", -1), ("1.0-1.el8", "1.0-1.el9", -1), ("1.10-1", "1.9-1", 1),
    ("1.0a-1", "1.0-1", 1), ("1.0~rc1-1", "1.0-1", -1), ("1.0^git1-1", "1.0-1", 1), ("1.0^git1-1", "1.01-1", -1),
    ("1:1.0-1", "2.0-1", 1), ("0:1.0-1", "1.0-1", 0), ("10.3.39-1.module_el8", "10.3.28-1.module_el8", 1),
    ("1.0.a-1", "1.0.1-1", -1), ("2.4.6-97.el8", "2.4.6-97.el8_10", -1),
])
def test_the_rpm_order_is_rpmvercmps(a, b, order):
    assert rpm_compare(a, b) == order
    assert rpm_compare(b, a) == -order


def test_a_host_is_compared_by_its_own_family():
    assert compare("Debian", "1.0~rc1", "1.0") == -1
    assert compare("RedHat", "1:1.0-1", "2.0-1") == 1
