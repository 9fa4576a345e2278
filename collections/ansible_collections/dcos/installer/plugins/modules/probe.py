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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="path", default=[]),
            sysctl=dict(type="list", elements="str", default=[]),
            kernel_modules=dict(type="list", elements="str", default=[]),
            resolve=dict(type="list", elements="str", default=[]),
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
    )


if __name__ == "__main__":
    main()
