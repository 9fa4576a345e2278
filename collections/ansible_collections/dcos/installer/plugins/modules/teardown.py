#!/usr/bin/python
# Runs on the target host.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: teardown
short_description: Stop and disable many units, or remove many paths, in one round trip
description:
  - What an uninstall does to a host, in one module run per step instead of a loop of
    C(systemd) or C(file) tasks (a loop item costs about a second per host on a busy controller).
  - C(units) are stopped and disabled with one C(systemctl disable --now); a unit that is not
    loaded, or masked, is left alone; one neither running nor enabled needs nothing.
  - C(paths) (glob patterns allowed) are removed, folders with what they hold. A path that is
    a mount point is refused, and nothing under a folder is followed into another filesystem.
  - Supports check mode (says what it would do).
options:
  units:
    description: systemd units; a name without a suffix is a service.
    type: list
    elements: str
    default: []
  paths:
    description: Paths or glob patterns to remove.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Stop the components' units and remove their files
  dcos.installer.teardown:
    units: [marathon, zookeeper]
    paths: [/etc/zookeeper, /etc/ansible/facts.d/dcos_*.fact]
"""

RETURN = r"""
stopped:
  description: Units stopped or disabled (or that would be).
  type: list
  elements: str
  returned: always
removed:
  description: Paths removed (or that would be).
  type: list
  elements: str
  returned: always
"""

import glob
import os
import stat

from ansible.module_utils.basic import AnsibleModule

_PROPERTIES = ("LoadState", "ActiveState", "UnitFileState")


def units_to_stop(module, names):
    systemctl = module.get_bin_path("systemctl")
    if not names or systemctl is None:
        return [], systemctl
    full = [n if "." in n else n + ".service" for n in names]
    rc, out, _err = module.run_command([systemctl, "show", "--property=" + ",".join(_PROPERTIES), "--"] + full)
    if rc != 0:
        return [], None  # no systemd running: nothing runs
    blocks = out.strip("\n").split("\n\n")
    if len(blocks) != len(full):
        module.fail_json(msg="systemctl show answered for %d of %d units" % (len(blocks), len(full)), stdout=out)
    wanted = []
    for name, block in zip(full, blocks):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("LoadState") in ("not-found", "masked", ""):
            continue
        if props.get("ActiveState") not in ("inactive", "failed") or props.get("UnitFileState") == "enabled":
            wanted.append(name)
    return wanted, systemctl


def remove_tree(path, device):
    """Remove path; a folder's entries on another filesystem are left (and so is the folder)."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    if st.st_dev != device:
        return
    for name in os.listdir(path):
        remove_tree(os.path.join(path, name), device)
    try:
        os.rmdir(path)
    except OSError:
        pass  # holds a mount point


def main():
    module = AnsibleModule(
        argument_spec=dict(units=dict(type="list", elements="str", default=[]),
                           paths=dict(type="list", elements="str", default=[])),
        supports_check_mode=True)
    stop, systemctl = units_to_stop(module, module.params["units"])
    removed = []
    for pattern in module.params["paths"]:
        if not pattern.startswith("/"):
            module.fail_json(msg="not an absolute path: %s" % pattern)
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for path in matches:
            if not os.path.lexists(path):
                continue
            if os.path.ismount(path):
                module.fail_json(msg="%s is a mount point: not removed" % path, removed=removed)
            removed.append(path)
    if not module.check_mode:
        if stop:
            rc, out, err = module.run_command([systemctl, "disable", "--now", "--"] + stop)
            if rc != 0:
                module.fail_json(msg="systemctl disable --now failed: %s" % (err or out).strip(), units=stop)
        for path in removed:
            if os.path.lexists(path):
                remove_tree(path, os.lstat(path).st_dev)
    module.exit_json(changed=bool(stop or removed), stopped=stop, removed=removed)


if __name__ == "__main__":
    main()
