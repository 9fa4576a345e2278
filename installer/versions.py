"""Package versions compared as the hosts' package managers compare them, on the controller
(which may have neither dpkg nor rpm): Debian's (dpkg --compare-versions: epoch, upstream and
revision, `~` before anything, letters before other signs) and RPM's (rpmvercmp: alphanumeric
segments, numbers above letters, `~` before anything and `^` after the version it extends).

tests/unit/test_versions.py checks the Debian one against dpkg itself on many pairs."""

from __future__ import annotations

import re


def _order(char: str) -> int:
    """dpkg's order of one non-digit character (an empty one ends a part)."""
    if not char:
        return 0
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp: runs of non-digits by _order, then runs of digits as numbers."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        first = 0
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first:
                first = (a[i] > b[j]) - (a[i] < b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first:
            return first
    return 0


def _debian_parts(version: str) -> tuple[int, str, str]:
    version = version.strip()
    epoch, _, rest = version.partition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    try:
        number = int(epoch or 0)
    except ValueError:
        raise ValueError(f"not a Debian version: {version!r}") from None
    return number, upstream, revision


def debian_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg orders the two versions."""
    (ea, ua, ra), (eb, ub, rb) = _debian_parts(a), _debian_parts(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


_SEGMENT = re.compile(r"(\d+|[a-zA-Z]+|~|\^)")


def _rpmvercmp(a: str, b: str) -> int:
    if a == b:
        return 0
    sa, sb = _SEGMENT.findall(a), _SEGMENT.findall(b)
    while sa or sb:
        x, y = (sa.pop(0) if sa else ""), (sb.pop(0) if sb else "")
        if x == "~" or y == "~":
            if x != y:
                return -1 if x == "~" else 1
            continue
        if x == "^" or y == "^":
            if not x:
                return -1  # "1.0" < "1.0^x"
            if not y:
                return 1
            if x != y:
                return -1 if x == "^" else 1
            continue
        if not x or not y:
            return 1 if x else -1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1  # a number is newer than letters
        if x.isdigit():
            x, y = x.lstrip("0") or "0", y.lstrip("0") or "0"
            if len(x) != len(y):
                return 1 if len(x) > len(y) else -1
        if x != y:
            return 1 if x > y else -1
    return 0


def rpm_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders two [epoch:]version-release."""
    def parts(v: str) -> tuple[int, str, str]:
        epoch, _, rest = v.strip().partition(":") if ":" in v else ("0", "", v.strip())
        version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
        return int(epoch or 0), version, release

    (ea, va, ra), (eb, vb, rb) = parts(a), parts(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _rpmvercmp(va, vb) or _rpmvercmp(ra, rb)


def compare(family: str, a: str, b: str) -> int:
    """-1, 0 or 1: version a against version b on a host of this OS family (Debian, RedHat)."""
    return rpm_compare(a, b) if family == "RedHat" else debian_compare(a, b)
