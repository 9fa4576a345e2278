#!/usr/bin/python
# Runs on the target host.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: claim
short_description: Mark a component as installed by this installer; refuse one it did not install
description:
  - The ownership step every role begins with, in one module run instead of four tasks (a stat
    per footprint path, a fail, the facts folder, the marker file): on a 6-host cluster that is
    some 60 SSH round trips fewer per run.
  - The marker is a local fact (JSON in I(marker), normally under /etc/ansible/facts.d), so
    C(ansible_local) shows it and the precheck tells our components from foreign ones.
  - With I(footprint), the host is looked at first. Any footprint path present while neither
    I(marker) nor one of I(ours) exists means someone else installed the component: the module
    fails with I(what), the paths found and I(hint), unless I(adopt) is true. The marker is then
    written once, before anything is installed (a run that stops half-way stays ours), and kept
    as it is on later runs; C(adopted) in it says whether an existing install was taken over.
  - Without I(footprint), the marker is a record of what was set up and is rewritten whenever
    I(record) changes.
options:
  marker:
    description: Path of the marker (local fact) file. Its folder is made (0755) when missing.
    type: path
    required: true
  footprint:
    description: Paths whose presence means the component is already installed.
    type: list
    elements: path
  ours:
    description: Other markers that make an existing install ours (Mesos master and agent share a package).
    type: list
    elements: path
    default: []
  adopt:
    description: Take over an install found by I(footprint) instead of failing.
    type: bool
    default: false
  what:
    description: Name of the component in the refusal message.
    type: str
    default: The component
  host:
    description: Host name in the refusal message.
    type: str
    default: this host
  hint:
    description: What the operator can do, appended to the refusal message.
    type: str
    default: ''
  version:
    description: Installer version written to the marker.
    type: str
    default: unknown
  record:
    description: More fields for the marker.
    type: dict
    default: {}
author: DCOS installer team
"""

EXAMPLES = r"""
- name: Claim ZooKeeper on this host (refuse one this installer did not install)
  dcos.installer.claim:
    marker: /etc/ansible/facts.d/dcos_zookeeper.fact
    footprint: [/lib/systemd/system/zookeeper.service, /usr/share/java/zookeeper.jar]
    adopt: "{{ zookeeper_adopt }}"
    what: ZooKeeper
    host: "{{ inventory_hostname }}"
    hint: "Remove it, or let the installer take it over: [cluster] adopt = zookeeper in config.cfg."
    version: "{{ dcos_installer_version }}"
    record: {myid: 1}

- name: Record what this installer set up
  dcos.installer.claim:
    marker: /etc/ansible/facts.d/dcos_ntp.fact
    record: {mode: client}
"""

RETURN = r"""
found:
  description: The footprint paths present on the host.
  returned: always
  type: list
  elements: str
marked:
  description: Whether the host was already marked as ours (I(marker) or one of I(ours)) before this run.
  returned: always
  type: bool
adopted:
  description: Whether an install found by I(footprint) was taken over (as written in the marker).
  returned: always
  type: bool
fact:
  description: The marker's content after the module ran.
  returned: always
  type: dict
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def render(fact):
    """The text Ansible's `to_nice_json` filter writes, plus a newline: markers written by earlier
    versions (a copy task with that filter) compare equal and are not rewritten."""
    return json.dumps(fact, indent=4, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(module, path, text):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o755)
        os.chmod(folder, 0o755)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".claim-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        if os.geteuid() == 0:
            os.chown(tmp, 0, 0)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            marker=dict(type="path", required=True),
            footprint=dict(type="list", elements="path"),
            ours=dict(type="list", elements="path", default=[]),
            adopt=dict(type="bool", default=False),
            what=dict(type="str", default="The component"),
            host=dict(type="str", default="this host"),
            hint=dict(type="str", default=""),
            version=dict(type="str", default="unknown"),
            record=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    marker = params["marker"]
    footprint = params["footprint"]
    before = read(marker)
    marked = before is not None or any(os.path.exists(p) for p in params["ours"])
    found = [p for p in footprint or [] if os.path.exists(p)]

    if found and not marked and not params["adopt"]:
        module.fail_json(
            msg=f"{params['what']} is already installed on {params['host']} ({', '.join(found)}) and was not "
                f"installed by the DCOS installer. {params['hint']}".rstrip(),
            found=found, marked=False, adopted=False, fact={})

    fact = {"installed_by": "dcos-installer", "version": params["version"]}
    fact.update(params["record"])
    if footprint is not None:
        fact["adopted"] = bool(found) and not marked
    if footprint is not None and before is not None:
        # Ownership markers are written once: they say who installed it and whether it was adopted.
        try:
            kept = json.loads(before)
        except ValueError:
            kept = None
        if isinstance(kept, dict):
            module.exit_json(changed=False, found=found, marked=True,
                             adopted=bool(kept.get("adopted", False)), fact=kept)

    after = render(fact)
    changed = after != before
    if changed and not module.check_mode:
        write(module, marker, after)
    result = dict(changed=changed, found=found, marked=marked, adopted=bool(fact.get("adopted", False)), fact=fact)
    if module._diff:
        result["diff"] = {"before": before or "", "after": after, "before_header": marker, "after_header": marker}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
