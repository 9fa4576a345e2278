#!/usr/bin/python
# Runs on the controller (delegate_to: localhost).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apt_repo
short_description: Build a signed flat apt repository from a folder of .deb files
description:
  - Copies the .deb files to I(dest)/pool, writes Packages, Packages.gz and Release, and signs
    Release (InRelease, Release.gpg) with a key kept in I(gpg_home), made on first use.
  - Deterministic; a second run with the same packages changes nothing.
options:
  debs:
    description: Folder holding the .deb files (the bundle's packages folder).
    type: path
    required: true
  dest:
    description: Folder to build the repository in.
    type: path
    required: true
  gpg_home:
    description: GnuPG home of the signing key; made with mode 0700.
    type: path
    required: true
  label:
    description: Label of the repository (the cluster name).
    type: str
    required: true
  manifest:
    description: >-
      The bundle's manifest.json (each package's sha256). A complete build leaves a seal beside
      I(dest) (I(dest).built.json) with its digest and what the build made.
    type: path
  trust_seal:
    description: >-
      Leave a repository sealed from this very bundle as it is, without reading its packages
      (the fast path of a re-run). False compares every package (the installer's --full).
    type: bool
    default: false
author: DCOS installer team
"""

EXAMPLES = r"""
- name: Build the repository
  dcos.installer.apt_repo:
    debs: /opt/bundle/packages
    dest: /var/lib/dcos/repo/debian
    gpg_home: /var/lib/dcos/secrets/gpg
    label: prod
  delegate_to: localhost
"""

RETURN = r"""
fingerprint:
  description: Fingerprint of the signing key.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dcos.installer.plugins.module_utils.aptrepo import RepoError, build_repo, repo_differs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            debs=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            gpg_home=dict(type="path", required=True, no_log=False),
            label=dict(type="str", required=True),
            manifest=dict(type="path"),
            trust_seal=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if module.check_mode:  # the plan: what would change, nothing written
        try:
            module.exit_json(changed=repo_differs(module.params["debs"], module.params["dest"],
                                                  module.params["gpg_home"], module.params["manifest"],
                                                  module.params["trust_seal"]), fingerprint="")
        except (RepoError, OSError) as exc:
            module.fail_json(msg=str(exc))
    try:
        changed, fingerprint = build_repo(module.params["debs"], module.params["dest"], module.params["gpg_home"],
                                          module.params["label"], module.params["manifest"],
                                          module.params["trust_seal"])
    except (RepoError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, fingerprint=fingerprint)


if __name__ == "__main__":
    main()
