#!/usr/bin/python
# Runs on the target host. Read-only.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: probe
short_description: Read several things off a host in one module run (units, paths, kernel settings, names)
description:
  - Read-only; never changes anything, also runs in check mode.
  - Replaces loops of stat, slurp and getent tasks and C(service_facts) (which lists every unit
    on the host, about 2 s each time, and leaves out units that exist only under
    /etc/systemd/system) with one round trip per host.
options:
  units:
    description: systemd units to describe (C(systemctl show)); a name without a suffix is a service.
    type: list
    elements: str
    default: []
  paths:
    description: Paths to test for existence.
    type: list
    elements: path
    default: []
  sysctl:
    description: Kernel settings to read from /proc/sys (dotted names, such as net.ipv4.ip_forward).
    type: list
    elements: str
    default: []
  kernel_modules:
    description: >-
      Kernel modules to look for: loaded (or built in) when /sys/module/NAME exists or /proc/modules
      lists it; br_netfilter also counts as loaded when /proc/sys/net/bridge exists (its settings are
      what the cluster needs, and a container sees them even where /sys/module is the host's).
    type: list
    elements: str
    default: []
  resolve:
    description: Host names to resolve to IPv4 addresses through the system resolver (as C(getent ahostsv4)).
    type: list
    elements: str
    default: []
  replaced:
    description: >-
      Per systemd unit, the packages that are its code. For each unit, the files of those packages
      that a process of the unit still runs from although they were replaced or removed since it
      started (C(/proc/PID/exe), C(/proc/PID/maps) and C(/proc/PID/fd) say "(deleted)"): a package
      upgraded or reinstalled under a running daemon, which runs the old code until it restarts.
      The processes are the unit's main process and every process in its control group.
    type: dict
    default: {}
  checks:
    description: >-
      Checks to poll until each settles, all within the one module run (a verify phase that
      asks twenty things of a host asks them in one round trip). Each names one of C(command)
      (an argv, its stdout searched with C(until), a regex), C(url) (an HTTP GET, settled when
      C(until) holds: C(status) its status is in C(status), C(json) the body is JSON, C(json_nonempty)
      a non-empty JSON value, C(key:NAME) a JSON object with NAME) or C(resolve) (a host name,
      settled when its IPv4 addresses are C(want): all of them, or only some when C(want) has more
      than C(answers_at_most) (a DNS answer that holds at most that many records), or the first
      address when C(until) is C(first)). A check is asked again every C(delay) seconds, at most
      C(retries) times, beside the others: the run takes as long as the slowest check, not their sum.
      A check that does not settle is returned as it was last seen; the module never fails for it:
      the playbook judges.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: The key of its result., type: str, required: true}
      command: {description: The argv to run., type: list, elements: str}
      url: {description: The URL to GET., type: str}
      resolve: {description: The host name to resolve., type: str}
      until: {description: When the check has settled (see above)., type: str}
      status: {description: The HTTP statuses that settle C(until=status)., type: list, elements: int, default: [200]}
      username: {description: HTTP Basic user., type: str}
      password: {description: HTTP Basic password (never shown)., type: str}
      ca_path: {description: CA bundle for HTTPS., type: path}
      want: {description: The addresses C(resolve) must give., type: list, elements: str, default: []}
      answers_at_most: {description: The most records one answer holds (0 is no limit)., type: int, default: 0}
      retries: {description: How many times to ask at most., type: int, default: 1}
      delay: {description: Seconds between two asks., type: int, default: 5}
      unit:
        description: >-
          The systemd unit that answers this check: when it is not active the check is asked once,
          not waited for (a stopped service is named by the unit's own state, at once).
        type: str
author: DCOS installer team
"""

EXAMPLES = r"""
- name: Read the services this role cares about
  dcos.installer.probe:
    units: [firewalld.service, ufw.service]
  register: __probe

- name: Open the firewall when firewalld runs
  ansible.builtin.debug:
    msg: firewalld runs
  when: __probe.units['firewalld.service'].active == 'active'
"""

RETURN = r"""
hostname:
  description: The running host name (the kernel's, as C(hostname) prints it).
  returned: always
  type: str
units:
  description: >-
    Per unit asked for (by the name given): C(load) (loaded, not-found, masked...), C(active)
    (active, inactive, failed...), C(sub) (running, dead...), C(enabled) (the unit file state:
    enabled, disabled, static, masked or empty). Without systemd every unit is not-found.
  returned: always
  type: dict
systemd:
  description: Whether systemctl answered.
  returned: always
  type: bool
paths:
  description: Per path asked for, whether it exists.
  returned: always
  type: dict
sysctl:
  description: Per kernel setting asked for, its value with whitespace runs made one space, or null when absent.
  returned: always
  type: dict
kernel_modules:
  description: Per kernel module asked for, whether it is loaded.
  returned: always
  type: dict
addresses:
  description: Per name asked for, its IPv4 addresses in the resolver's order (empty when it does not resolve).
  returned: always
  type: dict
replaced:
  description: Per unit asked for in C(replaced), the sorted files of its packages its processes run from deleted.
  returned: always
  type: dict
checks:
  description: >-
    Per check, by name: C(ok) (it settled), C(attempts), and what was last seen: C(rc), C(stdout)
    and C(stdout_lines) of a command; C(status), C(location), C(json) (when the body is JSON) and
    C(msg) (a connection error) of a URL; C(addresses) of a name, with the name (C(resolve))
    and C(want).
  returned: always
  type: dict
"""

import json
import os
import re
import socket
import time

from ansible.module_utils.basic import AnsibleModule

_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState")
_ABSENT = {"load": "not-found", "active": "inactive", "sub": "dead", "enabled": ""}


def describe_units(module, names):
    """One `systemctl show` for all units; its output is one block of properties per unit, in order."""
    if not names:
        return {}, True
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        return {name: dict(_ABSENT) for name in names}, False
    full = [n if "." in n else n + ".service" for n in names]
    rc, out, _err = module.run_command([systemctl, "show", "--property=" + ",".join(_PROPERTIES), "--"] + full)
    if rc != 0:
        # No systemd running (a chroot, a container without an init): no unit is loaded or runs.
        return {name: dict(_ABSENT) for name in names}, False
    blocks = [b for b in out.strip("\n").split("\n\n")]
    if len(blocks) != len(full):
        module.fail_json(msg=f"systemctl show answered for {len(blocks)} of {len(full)} units", stdout=out)
    units = {}
    for name, block in zip(names, blocks):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        units[name] = {"load": props.get("LoadState", "not-found"), "active": props.get("ActiveState", "inactive"),
                       "sub": props.get("SubState", "dead"), "enabled": props.get("UnitFileState", "")}
    return units, True


def read_sysctl(key):
    try:
        with open("/proc/sys/" + key.replace(".", "/"), encoding="utf-8") as handle:
            return " ".join(handle.read().split())
    except OSError:
        return None


def module_loaded(name, proc_modules):
    if os.path.exists("/sys/module/" + name) or name in proc_modules:
        return True
    return name == "br_netfilter" and os.path.isdir("/proc/sys/net/bridge")


def read_proc_modules():
    try:
        with open("/proc/modules", encoding="utf-8") as handle:
            return {line.split()[0] for line in handle if line.strip()}
    except OSError:
        return set()


def resolve(name):
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    addresses = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    return addresses


_DELETED = " (deleted)"


def package_files(module, packages):
    """The files the packages own (dpkg's lists, else rpm -ql); paths only, no folders' own entries."""
    files = set()
    for package in packages:
        listed = None
        for arch in ("", ":amd64", ":arm64"):
            try:
                with open("/var/lib/dpkg/info/%s%s.list" % (package, arch), encoding="utf-8") as handle:
                    listed = handle.read().splitlines()
                break
            except OSError:
                continue
        if listed is None and module.get_bin_path("rpm"):
            rc, out, _err = module.run_command(["rpm", "-ql", package])
            listed = out.splitlines() if rc == 0 else []
        files.update(line.strip() for line in listed or [] if line.strip().startswith("/"))
    return files


def unit_pids(module, unit, proc="/proc"):
    """The unit's main process and every process whose control group is the unit's."""
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        return set()
    name = unit if "." in unit else unit + ".service"
    rc, out, _err = module.run_command([systemctl, "show", "--property=MainPID,ControlGroup", "--", name])
    if rc != 0:
        return set()
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    pids = {int(props["MainPID"])} if props.get("MainPID", "0").isdigit() and props["MainPID"] != "0" else set()
    group = props.get("ControlGroup", "")
    if group:
        for entry in os.listdir(proc):
            if not entry.isdigit():
                continue
            try:
                with open(os.path.join(proc, entry, "cgroup"), encoding="utf-8") as handle:
                    groups = [line.rstrip("\n").split(":", 2)[-1] for line in handle]
            except OSError:
                continue
            # In a container with the host's cgroup namespace the path has the container's prefix.
            if any(g == group or g.endswith(group) for g in groups):
                pids.add(int(entry))
    return pids


def deleted_files(pid, proc="/proc"):
    """The files a process runs from (its executable, its mappings, its open files) that are gone."""
    found = set()
    base = os.path.join(proc, str(pid))
    links = [os.path.join(base, "exe")]
    try:
        links += [os.path.join(base, "fd", fd) for fd in os.listdir(os.path.join(base, "fd"))]
    except OSError:
        pass
    for link in links:
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if target.endswith(_DELETED):
            found.add(target[: -len(_DELETED)])
    try:
        with open(os.path.join(base, "maps"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.rstrip("\n").split(None, 5)
                if len(parts) == 6 and parts[5].endswith(_DELETED):
                    found.add(parts[5][: -len(_DELETED)])
    except OSError:
        pass
    return found


def replaced_code(module, units, proc="/proc"):
    out = {}
    for unit, packages in units.items():
        owned = package_files(module, packages or [])
        stale = set()
        for pid in unit_pids(module, unit, proc):
            stale |= deleted_files(pid, proc) & owned
        out[unit] = sorted(stale)
    return out


def _ask_command(module, check):
    rc, out, err = module.run_command(check["command"])
    return {"rc": rc, "stdout": out, "stdout_lines": out.splitlines(), "stderr": err}


def _ask_url(check):
    # Imported here: most runs of this module ask no URL.
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

    seen = {"status": -1, "location": "", "msg": ""}
    try:
        response = open_url(check["url"], method="GET", url_username=check.get("username"),
                            url_password=check.get("password"), force_basic_auth=bool(check.get("username")),
                            ca_path=check.get("ca_path"), follow_redirects="none", timeout=10)
        body = response.read()
        seen["status"] = response.getcode()
    except HTTPError as exc:
        seen.update(status=exc.code, location=exc.headers.get("Location", "") if exc.headers else "",
                    msg="HTTP Error %s: %s" % (exc.code, exc.reason))
        try:
            body = exc.read()
        except Exception:  # pylint: disable=broad-except
            body = b""
    except (URLError, OSError, ValueError) as exc:
        seen["msg"] = "%s: %s" % (type(exc).__name__, getattr(exc, "reason", exc))
        return seen
    try:
        seen["json"] = json.loads(body.decode("utf-8"))
    except ValueError:
        pass
    return seen


def _settled(check, seen):
    until = check.get("until") or ""
    if check.get("command"):
        return re.search(until, seen.get("stdout", ""), re.MULTILINE) is not None if until else seen["rc"] == 0
    if check.get("url"):
        if until in ("", "status"):
            return seen["status"] in check["status"]
        if "json" not in seen:
            return False
        if until == "json":
            return True
        if until == "json_nonempty":
            return bool(seen["json"])
        if until.startswith("key:"):
            return isinstance(seen["json"], dict) and until[4:] in seen["json"]
        return False
    got, want = seen["addresses"], check["want"]
    if until == "first":
        return bool(got) and bool(want) and got[0] == want[0]
    if check["answers_at_most"] and len(set(want)) > check["answers_at_most"]:
        return bool(got) and set(got) <= set(want)
    return sorted(set(got)) == sorted(set(want))


def poll_checks(module, checks, sleep=time.sleep):
    """Every check asked until it settles or runs out of tries, all of them in rounds: the
    slowest check sets the time, not their sum. A check whose unit is not active is asked once."""
    units = sorted({c["unit"] for c in checks if c.get("unit")})
    states = describe_units(module, units)[0] if units else {}
    checks = [dict(c, retries=1) if c.get("unit") and states[c["unit"]]["active"] != "active" else c
              for c in checks]
    results, pending = {}, list(checks)
    while pending:
        still = []
        for check in pending:
            if check.get("command"):
                seen = _ask_command(module, check)
            elif check.get("url"):
                seen = _ask_url(check)
            else:
                seen = {"addresses": resolve(check["resolve"]), "resolve": check["resolve"], "want": check["want"]}
            seen["attempts"] = results.get(check["name"], {}).get("attempts", 0) + 1
            seen["ok"] = _settled(check, seen)
            results[check["name"]] = seen
            if not seen["ok"] and seen["attempts"] < check["retries"]:
                still.append(check)
        pending = still
        if pending:
            sleep(min(c["delay"] for c in pending))
    return results


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="path", default=[]),
            sysctl=dict(type="list", elements="str", default=[]),
            kernel_modules=dict(type="list", elements="str", default=[]),
            resolve=dict(type="list", elements="str", default=[]),
            replaced=dict(type="dict", default={}),
            checks=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                command=dict(type="list", elements="str"),
                url=dict(type="str"),
                resolve=dict(type="str"),
                until=dict(type="str"),
                status=dict(type="list", elements="int", default=[200]),
                username=dict(type="str"),
                password=dict(type="str", no_log=True),
                ca_path=dict(type="path"),
                want=dict(type="list", elements="str", default=[]),
                answers_at_most=dict(type="int", default=0),
                retries=dict(type="int", default=1),
                delay=dict(type="int", default=5),
                unit=dict(type="str"),
            ), mutually_exclusive=[("command", "url", "resolve")], required_one_of=[("command", "url", "resolve")]),
        ),
        supports_check_mode=True,
    )
    units, systemd = describe_units(module, module.params["units"])
    proc_modules = read_proc_modules() if module.params["kernel_modules"] else set()
    module.exit_json(
        changed=False,
        hostname=socket.gethostname(),
        units=units,
        systemd=systemd,
        paths={p: os.path.lexists(p) for p in module.params["paths"]},
        sysctl={k: read_sysctl(k) for k in module.params["sysctl"]},
        kernel_modules={m: module_loaded(m, proc_modules) for m in module.params["kernel_modules"]},
        addresses={n: resolve(n) for n in module.params["resolve"]},
        replaced=replaced_code(module, module.params["replaced"]),
        checks=poll_checks(module, module.params["checks"]),
    )


if __name__ == "__main__":
    main()
