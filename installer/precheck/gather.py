"""Turn the gather's ansible-runner events into one observation per host."""

from typing import Any

from installer.config import Config
from installer.precheck.model import HostObservation

MODULE = "dcos.installer.precheck_facts"
_BECOME_WORDS = ("sudo", "privilege escalation", "become", "su:")


class Collector:
    """Feed it every runner event of the gather; read `observations` at the end."""

    def __init__(self, cfg: Config):
        self.observations = {h.id: HostObservation(host=h, groups=cfg.groups_of(h)) for h in cfg.all_hosts()}

    def feed(self, raw: dict[str, Any]) -> None:
        data = raw.get("event_data") or {}
        obs = self.observations.get(data.get("host", ""))
        if obs is None:
            return
        res = data.get("res") or {}
        name = raw.get("event")
        if name == "runner_on_ok":
            if "ansible_facts" in res and data.get("task_action") in ("ansible.builtin.setup", "setup",
                                                                       "ansible.legacy.setup"):
                obs.facts = {k.removeprefix("ansible_"): v for k, v in res["ansible_facts"].items()}
            elif "precheck" in res:
                obs.probe = res["precheck"]
        elif name == "runner_on_unreachable":
            obs.error, obs.error_kind = str(res.get("msg", "unreachable")).strip(), "unreachable"
        elif name == "runner_on_failed" and not obs.error:
            message = str(res.get("msg") or "failed").strip()
            stderr = str(res.get("module_stderr") or "").strip()
            if stderr:
                message = f"{message.splitlines()[0]}: {stderr.splitlines()[-1]}"
            become = any(word in message.lower() for word in _BECOME_WORDS) and "module failure" not in message.lower()
            obs.error, obs.error_kind = message, "become" if become else "failed"
