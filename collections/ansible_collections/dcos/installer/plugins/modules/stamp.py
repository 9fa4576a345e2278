#!/usr/bin/python
# Runs on the target host.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: stamp
short_description: Say whether a role is converged on this host since its last run, or record that it is
description:
  - The fast path of a re-run (docs/design/fast-reruns.md). After a role succeeded on a host,
    C(action=write) records the role's I(input) digest (made on the controller from what the
    role is given) and the host's state of what the role owns: of each of I(files) its content's
    digest (keyed with the input digest: a file may hold a secret), its mode and owner,
    each of I(units) enabled and active, the version of each of I(packages), the output of each
    of I(commands), and the OS release and kernel.
  - C(action=check) reads that record back and looks at the same things again, in one module
    run. C(converged) is true only when the input is the same and every item is as recorded, and
    no I(markers) file exists (a restart an earlier run left pending); otherwise C(differs) names
    what differs ("input", "file /etc/chrony/chrony.conf", "unit chrony: inactive" ...), at most
    20 of them.
  - A host without a record, or with a record of another I(version) of this module's format, is
    not converged. A run that fails or is killed before C(action=write) leaves the old record, whose
    input or state then differs, or no record: the role runs again.
  - C(action=survey) asks the same of every role of I(inputs) at once, from what each record says
    the role was asked (its files, units, packages, commands and markers, kept in the record since
    this module wrote them): one module run per host tells the controller, before the phases,
    which roles need not start on this host (docs/design/fast-reruns.md, "The survey"). A record
    without them (an older installer's) is not converged.
  - C(action=write) in check mode writes nothing.
  - C(action=write) given I(drifted) (the check's C(drifted): the items of the host's state that
    differed from the record while the input was the same) records nothing when one of the files,
    units or commands among them still differs from the old record: the role ran and did not bring
    it back, so the host is not converged and the next run must run the role again (and say so)
    rather than take what the role left for converged. Packages and the OS are not held to it (an
    operator's upgrade, a new kernel: not the role's to undo).
options:
  role:
    description: Name of the role (the record's file name under I(path)).
    type: str
    required: true
  action:
    description: C(check), C(write) or C(survey).
    type: str
    choices: [check, write, survey]
    default: check
  input:
    description: Digest of the role's inputs for this host, made on the controller (keyed with the
      cluster's stamp key). Recorded as a digest only; it keys the digests of every other item.
      Required unless C(action=survey).
    type: str
  inputs:
    description: For C(action=survey), role name -> that role's input digest on this host.
    type: dict
    default: {}
  path:
    description: Folder of the records (0700, root).
    type: path
    default: /var/lib/dcos-installer/stamps
  files:
    description: Files the role writes. A missing file is recorded as missing.
    type: list
    elements: path
    default: []
  units:
    description: systemd units the role enables or starts (is-enabled and is-active are recorded).
    type: list
    elements: str
    default: []
  packages:
    description: Packages the role installs (their versions are recorded; dpkg-query or rpm).
    type: list
    elements: str
    default: []
  commands:
    description: Commands whose output is the runtime state the role sets (a loaded nft table,
      live sysctl values), each an argv list; their exit code and the sha256 of their standard
      output are recorded (not of what they print on standard error).
    type: list
    elements: list
    default: []
  markers:
    description: Files (shell globs) whose presence means the role has work left (a pending restart).
    type: list
    elements: str
    default: []
  drifted:
    description: The check's C(drifted), for C(action=write).
    type: list
    elements: str
    default: []
  run:
    description: The run's id, written into the record.
    type: str
    default: ''
"""

RETURN = r"""
converged:
  description: The input and every item are as recorded, and no marker exists (C(action=check)).
  type: bool
differs:
  description: What is not as recorded (C(action=check)), at most 20.
  type: list
drifted:
  description: Names of the state items that differ from the record while the input is the same (C(action=check)).
  type: list
roles:
  description: For C(action=survey), role name -> C(converged) and C(differs) (at most 3) of that role.
  type: dict
recorded:
  description: Whether the record was written (C(action=write)).
  type: bool
unrepaired:
  description: The drifted items the role did not bring back (C(action=write)); the record is then not written.
  type: list
since:
  description: The run that wrote the record, when there is one.
  type: str
"""

import glob
import hashlib
import hmac
import json
import os
import stat
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule

FORMAT = 2
MAX_DIFFERS = 20


def _keyed(key, data):
    """A digest of data under the run's input digest (never a plain hash: the items of a
    record are of files that may hold a secret, and a plain hash would let whoever reads the
    record test guesses of it)."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _file(key, path):
    """'<keyed digest of the content> <mode> <uid>:<gid>' ('link' first for a symbolic link),
    or 'missing'."""
    try:
        info = os.lstat(path)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (IOError, OSError):
        return "missing"
    link = "link " if stat.S_ISLNK(info.st_mode) else ""
    return "%s%s %o %d:%d" % (link, _keyed(key, digest.digest()), stat.S_IMODE(os.stat(path).st_mode),
                              info.st_uid, info.st_gid)


def _output(key, argv):
    # stdout only: what a command warns about on stderr may come from what others set. nft 0.9.8
    # (Debian 11) prints "XT target DNAT not found" there for every iptables-nft rule of another
    # table it cannot show (Docker's NAT), and those come and go with Docker: a record made with
    # them would never compare again.
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = proc.communicate()
    except (IOError, OSError) as exc:
        return "cannot run: %s" % exc
    return "rc=%d %s" % (proc.returncode, _keyed(key, out))


def _units(units):
    state = {}
    for unit in units:
        values = []
        for verb in ("is-enabled", "is-active"):
            proc = subprocess.Popen(["systemctl", verb, unit], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, _ = proc.communicate()
            values.append(out.decode("utf-8", "replace").strip() or "unknown")
        state["unit " + unit] = " ".join(values)
    return state


def _packages(packages):
    if not packages:
        return {}
    if os.path.exists("/usr/bin/dpkg-query"):
        argv = ["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n"] + list(packages)
    else:
        argv = ["rpm", "-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE} ii\n"] + list(packages)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = proc.communicate()
    found = {}
    for line in out.decode("utf-8", "replace").splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith("ii"):
            found[fields[0]] = fields[1]
    return dict(("package " + name, found.get(name, "not installed")) for name in packages)


def state_of(params):
    """Every item the record compares, by a name that says what it is."""
    key = params["input"].encode()
    # The input itself is recorded as a digest only: it is the key of every other item.
    state = {"input": hashlib.sha256(b"dcos-stamp-input\0" + key).hexdigest()}
    for path in params["files"]:
        state["file " + path] = _file(key, path)
    state.update(_units(params["units"]))
    state.update(_packages(params["packages"]))
    for argv in params["commands"]:
        state["command " + " ".join(argv)] = _output(key, [str(a) for a in argv])
    state["os /etc/os-release"] = _file(key, "/etc/os-release")
    state["os kernel"] = os.uname()[2]
    return state


def _how(name, was, now):
    if now == "missing":
        return "missing"
    if name.startswith("file ") and was != "missing" and was.split(" ")[:-2] == now.split(" ")[:-2]:
        return "mode or owner changed"
    return "changed"


def compare(recorded, state, markers):
    """What differs between a record (None: no record) and the state, and the markers found."""
    differs = []
    if recorded is None:
        differs.append("no record of an earlier run")
    elif recorded.get("items", {}).get("input") != state["input"]:
        # Every other item is keyed with the input: under another input, none compares.
        differs.append("input (config.cfg, the secrets, the bundle or the installer changed)")
    else:
        items = recorded.get("items", {})
        for name in sorted(set(items) | set(state)):
            if items.get(name) != state.get(name):
                if name == "input":
                    differs.append("input (config.cfg, the secrets, the bundle or the installer changed)")
                elif name not in state:
                    differs.append(name + ": no longer asked")
                elif name not in items:
                    differs.append(name + ": not recorded")
                elif name.startswith(("file ", "command ", "os ")):
                    # Never a digest in a message.
                    differs.append("%s: %s" % (name, _how(name, items[name], state[name])))
                else:
                    differs.append("%s: %s" % (name, state[name]))
    for pattern in markers:
        for path in sorted(glob.glob(pattern)):
            differs.append("pending: " + path)
    return differs


def drifted(recorded, state):
    """The items of the host's state that differ from a record of the same input."""
    if recorded is None or recorded.get("items", {}).get("input") != state["input"]:
        return []
    items = recorded["items"]
    return sorted(n for n in items if n != "input" and n in state and items[n] != state[n])


# The items a role is held to bring back when it ran on drift (not packages, not the OS).
REPAIRABLE = ("file ", "unit ", "command ")


def unrepaired(recorded, state, names):
    """Of the items that had drifted at the check, those still not as the old record says."""
    if recorded is None or recorded.get("items", {}).get("input") != state["input"]:
        return []
    items = recorded["items"]
    return sorted(n for n in names if n.startswith(REPAIRABLE) and n in items and items[n] != state.get(n))


def _read(path):
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("items"), dict):
        return None
    return record


# What a record keeps of what the role asked, so that a survey can look at it again.
ASKED = ("files", "units", "packages", "commands", "markers")


def survey(folder, inputs):
    """role -> {converged, differs} for every role of `inputs`, each from its own record."""
    roles = {}
    for role, digest in sorted(inputs.items()):
        if "/" in role or role.startswith(".") or not isinstance(digest, str) or not digest:
            roles[role] = {"converged": False, "differs": ["not a role with an input"]}
            continue
        recorded = _read(os.path.join(folder, role + ".json"))
        asked = (recorded or {}).get("asked")
        if recorded is None:
            differs = compare(None, None, [])
        elif not (isinstance(asked, dict) and all(isinstance(asked.get(k), list) for k in ASKED)):
            differs = ["the record does not say what the role asked"]
        else:
            params = dict((k, asked[k]) for k in ASKED)
            params["input"] = digest
            differs = compare(recorded, state_of(params), params["markers"])
        roles[role] = {"converged": not differs, "differs": differs[:3]}
    return roles


def _write(path, record):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".stamp.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(record, out, indent=1, sort_keys=True)
            out.write("\n")
        os.chmod(temp, 0o600)
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            role=dict(type="str"),
            action=dict(type="str", default="check", choices=["check", "write", "survey"]),
            input=dict(type="str", no_log=True),  # it keys the record's digests
            inputs=dict(type="dict", default={}, no_log=True),
            path=dict(type="path", default="/var/lib/dcos-installer/stamps"),
            files=dict(type="list", elements="path", default=[]),
            units=dict(type="list", elements="str", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            commands=dict(type="list", elements="list", default=[]),
            markers=dict(type="list", elements="str", default=[]),
            drifted=dict(type="list", elements="str", default=[]),
            run=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["action"] == "survey":  # read-only, in check mode too
        module.exit_json(changed=False, roles=survey(params["path"], params["inputs"]))
    for name in ("role", "input"):
        if not params[name]:
            module.fail_json(msg="%s is required with action=%s" % (name, params["action"]))
    if "/" in params["role"] or params["role"].startswith("."):
        module.fail_json(msg="role %r is not a plain name" % params["role"])
    path = os.path.join(params["path"], params["role"] + ".json")
    state = state_of(params)
    if params["action"] == "check":
        recorded = _read(path)
        differs = compare(recorded, state, params["markers"])
        module.exit_json(changed=False, converged=not differs, differs=differs[:MAX_DIFFERS],
                         drifted=drifted(recorded, state), since=(recorded or {}).get("run", ""))
    if module.check_mode:
        module.exit_json(changed=False, converged=False, differs=[], since="", recorded=False, unrepaired=[])
    left = unrepaired(_read(path), state, params["drifted"])
    if left:
        what = ", ".join(left[:MAX_DIFFERS])
        module.warn("%s ran and did not bring back %s: not recorded as converged, it runs again on the next run"
                    % (params["role"], what))
        module.exit_json(changed=False, converged=False, differs=[], since="", recorded=False, unrepaired=left)
    _write(path, {"format": FORMAT, "role": params["role"], "run": params["run"], "items": state,
                  "asked": dict((k, params[k]) for k in ASKED)})
    # Writing the record is bookkeeping, not a change to the host's services: a run that only
    # records is a run that changed nothing.
    module.exit_json(changed=False, converged=True, differs=[], since=params["run"], recorded=True, unrepaired=[])


if __name__ == "__main__":
    main()
