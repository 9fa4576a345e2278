"""The survey: which hosts a phase need not start on (docs/design/fast-reruns.md, "The survey").

The precheck's play asks every host once, with one run of the `stamp` module, which of its
stamped roles are converged: the role's input is the one this run gives it, and what the role
owns (files, units, packages, command outputs, pending markers, as its record says it asked
them) is as recorded. A phase then starts only on the hosts where one of its plays has work:

- a play of a stamped role: the hosts where the survey did not find that role converged, or
  where the role's input has changed since the survey (an earlier phase of this run made a file
  it reads: the CA, the repository's key);
- a play of a role that does work before its own check (stamp_force, stamp_extra_input: the
  registry's and the repository's certificates and keys are looked at on the controller in the
  play itself), and a play with tasks of its own or an unstamped role (membership, the cluster's
  identity, a certificate issued on the controller): every host of the play, every run;
- a play that only checks what the phase's other plays did (play var `dcos_survey_follows`:
  every agent registered, the VIP where it belongs): its hosts, when any other play runs.

A phase with no such host is not started at all. Nothing here trusts the controller's memory of
an earlier run: the hosts' own records, read in this run, decide; a host the survey could not
ask (unreachable, an older record) runs every play, as without the survey. `--full`, `--limit`
and every operation but install do without it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from installer.stamps import play_roles, stamped_roles

TOP = Path(__file__).resolve().parents[1]
# Says, of a play, that it only checks what the stamped plays of its phase did.
FOLLOWS = "dcos_survey_follows"


@dataclass(frozen=True)
class Play:
    hosts: str  # the play's host pattern
    role: str | None  # the one stamped role the play runs with the fast path, or None
    follows: bool  # only checks what the phase's other plays did


@functools.cache
def surveyable_roles(installer: Path = TOP) -> frozenset[str]:
    """The stamped roles whose record alone says whether they would run: not those that do work
    before their own check (stamp_force, stamp_extra_input)."""
    found = set()
    for role in stamped_roles(installer):
        text = "".join(p.read_text() for p in (installer / "roles" / role / "tasks").glob("*.yml"))
        if "stamp_force" not in text and "stamp_extra_input" not in text:
            found.add(role)
    return frozenset(found)


@functools.cache
def plays(playbook: str, installer: Path = TOP) -> tuple[Play, ...]:
    """The plays of one phase's playbook, each classified for the survey (read once a process:
    the playbooks do not change under a run)."""
    surveyable = surveyable_roles(installer)
    found = []
    for play in yaml.safe_load((installer / "playbooks" / playbook).read_text()) or []:
        roles = play_roles(play)
        own = any(play.get(k) for k in ("pre_tasks", "tasks", "post_tasks", "handlers"))
        role = None
        if len(roles) == 1 and roles[0][0] in surveyable and not own and "dcos_stamp_input" not in roles[0][1]:
            role = roles[0][0]
        found.append(Play(hosts=str(play.get("hosts", "")), role=role,
                          follows=bool((play.get("vars") or {}).get(FOLLOWS))))
    return tuple(found)


_TERM = re.compile(r"^([!&]?)([A-Za-z0-9_.\-]+)(?:\[(\d+)\])?$")


def resolve(pattern: str, inventory: dict[str, Any]) -> set[str]:
    """The hosts of a play's pattern ("installer:cluster", "cluster:!installer", "masters[0]")
    in the run's inventory. A pattern of another form raises ValueError (the phase then runs
    everywhere, as without the survey)."""
    everything = inventory["all"]
    ordered = list(everything.get("hosts", {}))
    groups: dict[str, list[str]] = {}

    def members(name: str, group: dict[str, Any]) -> list[str]:
        found = list((group or {}).get("hosts") or {})
        for child, sub in ((group or {}).get("children") or {}).items():
            found += [h for h in members(child, sub) if h not in found]
        groups[name] = found
        return found

    members("all", everything)
    result: set[str] = set()
    for index, term in enumerate(pattern.split(":")):
        match = _TERM.match(term.strip())
        if not match:
            raise ValueError(f"host pattern {pattern!r}: {term!r} is not a name")
        op, name, nth = match.groups()
        hosts = ordered if name == "all" else groups.get(name, [name] if name in ordered else None)
        if hosts is None:
            raise ValueError(f"host pattern {pattern!r}: no group or host {name!r}")
        if nth is not None:
            hosts = hosts[int(nth):int(nth) + 1]
        if op == "!":
            result -= set(hosts)
        elif op == "&":
            result &= set(hosts)
        elif index == 0 or not op:
            result |= set(hosts)
    return result


def phase_hosts(playbook: str, inventory: dict[str, Any], converged: dict[str, set[str]],
                installer: Path = TOP) -> tuple[set[str], set[str]]:
    """(the hosts the phase starts on, the hosts of the phase it leaves out as converged).
    `converged`: host -> its roles the survey found converged under the input the run gives them
    now. Raises ValueError for a play the survey cannot read (the caller runs the phase as is)."""
    needed: set[str] = set()
    every: set[str] = set()
    followers: set[str] = set()
    for play in plays(playbook, installer):
        hosts = resolve(play.hosts, inventory)
        every |= hosts
        if play.follows:
            followers |= hosts
        elif play.role is None:
            needed |= hosts
        else:
            needed |= {h for h in hosts if play.role not in converged.get(h, set())}
    if needed:
        needed |= followers
    return needed, every - needed
