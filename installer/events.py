"""Structured events of a run, the same for install.sh and a portal. Each is a flat dict
that serializes to one JSON line (runs/<id>/events.jsonl):

    run_start    run_id, run_dir, phases, hosts, check, precheck
    precheck_start  hosts
    precheck_end    passed, summary {pass, warn, fail, waived}, duration, results [...], report
    phase_start  phase, index, total, description, converged (hosts the survey left out), hosts (when
                 the survey limited the phase: the hosts it starts on; [] when it starts on none)
    task_start   phase, play, task
    host_result  phase, task, host, status (ok|changed|failed|unreachable|skipped|retry), msg
    phase_end    phase, status (successful|failed|canceled|timeout), rc, duration, counts, failures,
                 converged (a phase not started: successful, counts {}, every host named here)
    run_end      status (successful|failed|canceled|precheck_failed), exit_code, duration, failed_phase

Every event has `type` and `time` (seconds since the epoch)."""

import re
import time
from typing import Any

HOST_STATUSES = ("ok", "changed", "failed", "unreachable", "skipped")
_RUNNER_RESULTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_retry": "retry",
}
MAX_MESSAGE = 800  # of a program's output: its end says why it failed
MAX_VERDICT = 3000  # of a message the playbook wrote


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "time": round(time.time(), 3), **data}


def result_message(res: dict[str, Any]) -> str:
    """The part of a task result an operator needs: msg, else stderr, else stdout (tail)."""
    if not isinstance(res, dict):
        return ""
    if res.get("censored"):
        return str(res["censored"])
    parts = []
    msg = res.get("msg")
    if msg == "One or more items failed" and res.get("results"):
        msg = None  # Ansible's summary of a loop: the failed item's own message says why
    if msg:
        parts.append(str(msg))
    for key in ("stderr", "module_stderr", "stdout"):
        text = str(res.get(key) or "").strip()
        if text and (not parts or key != "stdout"):
            parts.append(text)
            break
    if not parts and res.get("results"):  # a loop: the first failed item
        for item in res["results"]:
            if isinstance(item, dict) and item.get("failed"):
                return result_message(item)
    if len(parts) == 1 and msg:
        # A message the playbook wrote (an assert's verdict naming every problem): its start
        # matters most, and it may be long.
        text = parts[0]
        return text if len(text) <= MAX_VERDICT else text[:MAX_VERDICT] + "…"
    text = " | ".join(parts)
    return text if len(text) <= MAX_MESSAGE else "…" + text[-MAX_MESSAGE:]


_UNIT_PATTERNS = (
    re.compile(r"Job for ([\w@.:-]+?)(?:\.service)? failed"),
    re.compile(r"Unable to (?:start|restart|reload|stop) service ([\w@.:-]+?)(?:\.service)?:"),
    re.compile(r"journalctl -u ([\w@.:-]+)"),
    re.compile(r"([\w@.:-]+) is (?:inactive|failed|activating|deactivating)\b"),
)


def failed_units(msg: str) -> list[str]:
    """Units a failure message names as failing (systemd's "Job for X failed", Ansible's
    "Unable to start service X", a role's "see journalctl -u X"): their journal says why."""
    found = []
    for pattern in _UNIT_PATTERNS:
        for unit in pattern.findall(msg or ""):
            if unit not in found and unit != "<unit>":
                found.append(unit)
    return found[:3]


_SAY_ACTIONS = ("debug", "ansible.builtin.debug", "ansible.legacy.debug")


def translate(raw: dict[str, Any], phase: str) -> dict[str, Any] | None:
    """One ansible-runner event as one of ours, or None when it is noise."""
    name = raw.get("event")
    data = raw.get("event_data") or {}
    if name == "playbook_on_task_start":
        return event("task_start", phase=phase, play=data.get("play", ""), task=data.get("task", ""))
    if name in _RUNNER_RESULTS:
        res = data.get("res") or {}
        status = _RUNNER_RESULTS[name]
        if status == "ok" and res.get("changed"):
            status = "changed"
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        msg = result_message(res) if status in ("failed", "unreachable", "retry") else ""
        # A debug task's message is written for the operator ("Say ..." tasks): shown as it is.
        said = status == "ok" and data.get("task_action") in _SAY_ACTIONS and isinstance(res.get("msg"), str)
        if said:
            msg = res["msg"] if len(res["msg"]) <= MAX_VERDICT else res["msg"][:MAX_VERDICT] + "…"
        return event("host_result", phase=phase, task=data.get("task", ""), host=data.get("host", ""),
                     status=status, msg=msg, **({"said": True} if said else {}))
    return None


def counts_from_stats(stats: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """playbook_on_stats -> {host: {ok, changed, failed, unreachable, skipped}}."""
    if not stats:
        return {}
    names = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable", "skipped": "skipped"}
    out: dict[str, dict[str, int]] = {}
    for key, ours in names.items():
        for host, count in (stats.get(key) or {}).items():
            out.setdefault(host, dict.fromkeys(names.values(), 0))[ours] = count
    return out
