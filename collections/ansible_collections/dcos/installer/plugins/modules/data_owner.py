#!/usr/bin/python
# Runs on the target host.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: data_owner
short_description: Give a data folder's whole tree to its service's user and group
description:
  - A data folder kept across an uninstall (or restored from a backup) can hold files owned by
    a user id that no longer exists or now means someone else; the package's purge deletes its
    system user, and a new install may create it with another id. The service then cannot read
    its own data.
  - Walks the tree (never across into another filesystem, never through a symbolic link) and
    changes the owner of every entry that is not already the user's and the group's. A tree
    already right is read only, so a converged re-run changes nothing.
  - Supports check mode (says what it would change).
options:
  path:
    description: The data folder. Nothing happens when it does not exist.
    type: path
    required: true
  owner:
    description: User name.
    type: str
    required: true
  group:
    description: Group name.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Give kept data back to the zookeeper user
  dcos.installer.data_owner:
    path: /var/lib/zookeeper
    owner: zookeeper
    group: zookeeper
"""

RETURN = r"""
changed_entries:
  description: How many entries got a new owner (or would, in check mode).
  type: int
  returned: always
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule


def wrong_entries(top, uid, gid):
    """Every path under top (top too) not owned by uid:gid, on top's filesystem only."""
    device = os.lstat(top).st_dev
    found = []
    stack = [top]
    while stack:
        path = stack.pop()
        st = os.lstat(path)
        if st.st_dev != device:
            continue
        if st.st_uid != uid or st.st_gid != gid:
            found.append(path)
        if os.path.isdir(path) and not os.path.islink(path):
            stack.extend(os.path.join(path, name) for name in os.listdir(path))
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(path=dict(type="path", required=True),
                           owner=dict(type="str", required=True),
                           group=dict(type="str", required=True)),
        supports_check_mode=True)
    path = module.params["path"]
    try:
        uid = pwd.getpwnam(module.params["owner"]).pw_uid
        gid = grp.getgrnam(module.params["group"]).gr_gid
    except KeyError as err:
        module.fail_json(msg="no such user or group: %s" % err)
    if not os.path.lexists(path):
        module.exit_json(changed=False, changed_entries=0)
    wrong = wrong_entries(path, uid, gid)
    if wrong and not module.check_mode:
        for entry in wrong:
            os.lchown(entry, uid, gid)
    module.exit_json(changed=bool(wrong), changed_entries=len(wrong),
                     msg="%d entries under %s given to %s:%s" % (len(wrong), path,
                                                                 module.params["owner"], module.params["group"]))


if __name__ == "__main__":
    main()
