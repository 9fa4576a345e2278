"""Every ansible-runner call of a run, made one way: on the run folder, with the run's
environment (installer/bin first in PATH, every task bounded), each event scrubbed of the
cluster's secrets before anything keeps it, the playbook's output appended to install.log,
the playbook's pid noted in the cluster lock, and a cancel callback always given (without
one ansible-runner takes over SIGINT and SIGTERM of the main thread for good, and Ctrl-C
would no longer stop a run)."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ansible_runner

from installer.config import Config
from installer.rundir import RunDir, open_private_append
from installer.runlock import ClusterLock
from installer.secrets import Scrubber

# installer/bin/ansible-playbook, first in the PATH of every run: the real one, bound to this
# process (it and its workers get SIGTERM when the installer dies).
BOUND_BIN = Path(__file__).resolve().parent / "bin"

Handler = Callable[[dict[str, Any]], bool]


class Ansible:
    def __init__(self, cfg: Config, run_dir: RunDir, scrubber: Scrubber, lock: ClusterLock | None = None,
                 cancelled: Callable[[], bool] = lambda: False):
        self.cfg = cfg
        self.run_dir = run_dir
        self.scrubber = scrubber
        self.lock = lock
        self.cancelled = cancelled

    def envvars(self, **extra: str) -> dict[str, str]:
        return {"PATH": os.pathsep.join([str(BOUND_BIN), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
                # Every task is bounded: a hung host fails its task (naming the host), never the run.
                "ANSIBLE_TASK_TIMEOUT": str(self.cfg.cluster.task_timeout),
                # What installer/bin/ansible-playbook (bound to this process) runs.
                "DCOS_ANSIBLE_PLAYBOOK": str(Path(sys.executable).parent / "ansible-playbook"),
                **extra}

    def playbook(self, playbook: str, ident: str, on_event: Handler, *, title: str,
                 envvars: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """Run one playbook to its end (or its cancel); on_event sees every event, scrubbed.
        Returns ansible-runner's Runner (status, rc)."""
        log = open_private_append(self.run_dir.log_file)
        log.write(f"\n===== {title} =====\n")
        noted: list[int] = []

        def handler(raw: dict[str, Any]) -> bool:
            # Before anything is kept: ansible-runner writes this very dict to job_events.
            self.scrubber.in_place(raw)
            if raw.get("pid") and not noted and self.lock is not None:
                noted.append(raw["pid"])
                self.lock.note_playbook(raw["pid"])
            if raw.get("stdout"):
                log.write(raw["stdout"] + "\n")
                log.flush()
            return on_event(raw)

        try:
            thread, runner = ansible_runner.run_async(
                private_data_dir=str(self.run_dir.path), playbook=playbook, ident=ident, quiet=True,
                event_handler=handler, cancel_callback=self.cancelled,
                # Ansible's raw stdout is not kept: install.log is written from the scrubbed events.
                suppress_output_file=True,
                envvars=envvars or self.envvars(),
                fact_cache=str(self.run_dir.path / "facts"),  # one fact cache for all phases of a run
                **kwargs)
            thread.join()
        finally:
            log.close()
        return runner

    def command(self, hosts: str, script: str, ident: str, timeout: int = 60, failed_too: bool = False) -> list[str]:
        """One shell command on the hosts (ad hoc), answered within timeout: the stdout of every
        host where it succeeded (or failed too), scrubbed. Nothing of it is kept in the artifacts."""
        out: list[str] = []
        events = ("runner_on_ok", "runner_on_failed") if failed_too else ("runner_on_ok",)

        def keep(raw: dict[str, Any]) -> bool:
            res = (raw.get("event_data") or {}).get("res") or {}
            if raw.get("event") in events and res.get("stdout"):
                out.append(self.scrubber.text(str(res["stdout"])))
            return False

        ansible_runner.run(
            private_data_dir=str(self.run_dir.path), host_pattern=hosts, module="shell", module_args=script,
            ident=ident, quiet=True, event_handler=keep, suppress_output_file=True,
            cancel_callback=lambda: False,  # its own: never the run's cancel, and never none (see above)
            envvars=self.envvars(ANSIBLE_TIMEOUT="10", ANSIBLE_SSH_RETRIES="0"), timeout=timeout,
            rotate_artifacts=0)
        return out
