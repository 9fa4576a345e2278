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
"""

import os
import socket

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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="path", default=[]),
            sysctl=dict(type="list", elements="str", default=[]),
            kernel_modules=dict(type="list", elements="str", default=[]),
            resolve=dict(type="list", elements="str", default=[]),
            replaced=dict(type="dict", default={}),
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
    )


if __name__ == "__main__":
    main()
