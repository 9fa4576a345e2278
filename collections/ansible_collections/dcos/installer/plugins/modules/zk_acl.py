#!/usr/bin/python
# Runs on a ZooKeeper member (or any host that reaches it).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zk_acl
short_description: Make znodes writable by one digest user only (created when missing, ACLs set when different)
description:
  - Connects to one ZooKeeper server as a digest user and makes each listed znode carry the ACL
    "the user: all" plus, optionally, read (or nothing) for everyone. Idempotent; check mode reports
    what would change.
  - The ACLs Mesos and Marathon give the nodes they create when they connect with credentials
    (zk://user:pass@...) are world:read + the user (Mesos, EVERYONE_READ_CREATOR_ALL) and the user
    only (Marathon, CREATOR_ALL_ACL): setting them first closes the window in which anyone who
    reaches ZooKeeper could create or take over those paths, and repairs nodes made without credentials.
options:
  server:
    description: host:port of the ZooKeeper server to talk to.
    type: str
    required: true
  username:
    description: The digest user.
    type: str
    required: true
  password:
    description: Its password.
    type: str
    required: true
    no_log: true
  nodes:
    description: >-
      Znodes, each a dict with path, world (permissions of everyone: a subset of cdrwa, such as r, or
      empty), create (make it when missing; default true) and recursive (default false: when the
      node's own ACL had to be set, the same ACL goes on every node below it, which were then made
      without credentials too; a node that already had it is not walked, since the programs give
      the nodes they create the same ACL).
    type: list
    elements: dict
    required: true
  max_nodes:
    description: Stop with an error after this many nodes (a runaway tree).
    type: int
    default: 20000
  timeout:
    description: Seconds for the connection and each request.
    type: float
    default: 10
author: DCOS installer team
"""

EXAMPLES = r"""
- name: Only the dcos user may change the Mesos and Marathon znodes
  dcos.installer.zk_acl:
    server: 10.0.0.11:2181
    username: dcos
    password: "{{ zookeeper_password }}"
    nodes:
      - {path: /, world: r, create: false}
      - {path: /mesos, world: r, recursive: true}
      - {path: /marathon, world: "", recursive: true}
"""

RETURN = r"""
changed_nodes:
  description: The znodes created or given a new ACL (or that would be, in check mode).
  type: list
  returned: always
created:
  description: The znodes created.
  type: list
  returned: always
checked:
  description: How many znodes were looked at.
  type: int
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dcos.installer.plugins.module_utils.zookeeper import (
    NODE_EXISTS,
    ZkClient,
    ZkError,
    digest_id,
    perms_of,
    perms_text,
)


def wanted_acl(user_id, world):
    acl = [(31, "digest", user_id)]
    if world:
        acl.append((perms_of(world), "world", "anyone"))
    return acl


def describe(acl):
    return ",".join("%s:%s:%s" % (scheme, ident.split(":")[0] if scheme == "digest" else ident, perms_text(perms))
                    for perms, scheme, ident in sorted(acl, key=lambda a: (a[1], a[2])))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type="str", required=True),
            username=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            nodes=dict(type="list", elements="dict", required=True),
            max_nodes=dict(type="int", default=20000),
            timeout=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host, _, port = p["server"].rpartition(":")
    user_id = digest_id(p["username"], p["password"])
    changed, created, before = [], [], {}
    checked = 0
    try:
        with ZkClient(host, port, p["timeout"]) as zk:
            zk.add_digest(p["username"], p["password"])
            for node in p["nodes"]:
                path = node["path"]
                acl = wanted_acl(user_id, node.get("world", ""))
                if not zk.exists(path):
                    if not node.get("create", True):
                        module.fail_json(msg="znode %s does not exist" % path)
                    if not module.check_mode:
                        try:
                            zk.create(path, acl)
                        except ZkError as exc:
                            if exc.code != NODE_EXISTS:  # made meanwhile (Mesos starting): judged below
                                raise
                    created.append(path)
                    changed.append(path)
                    if module.check_mode:
                        continue
                todo = [path]
                while todo:
                    current = todo.pop()
                    checked += 1
                    if checked > p["max_nodes"]:
                        module.fail_json(msg="more than %d znodes under %s: stopped" % (p["max_nodes"], path))
                    have = zk.get_acl(current)
                    if sorted(have) == sorted(acl):
                        continue
                    before[current] = describe(have)
                    if current not in changed:
                        changed.append(current)
                    if not module.check_mode:
                        zk.set_acl(current, acl)
                    if node.get("recursive", False):
                        base = current.rstrip("/")
                        todo.extend(base + "/" + child for child in zk.children(current))
    except ZkError as exc:
        hint = ""
        if exc.code == -102:
            hint = (" The node's ACL does not let user %s change it: it was made by another user. Remove it"
                    " with ZooKeeper's super user, or restore the cluster's secrets (runs/secrets)." % p["username"])
        module.fail_json(msg="ZooKeeper %s: %s.%s" % (p["server"], exc, hint), changed_nodes=changed)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="ZooKeeper %s: %s" % (p["server"], exc), changed_nodes=changed)
    module.exit_json(changed=bool(changed), changed_nodes=changed, created=created, checked=checked,
                     acl_before=before)


if __name__ == "__main__":
    main()
