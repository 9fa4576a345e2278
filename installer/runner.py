"""A run: the selected phases of one config, each one ansible-runner call (run_async) on the
run directory, with structured events. install.sh and a portal use this same class.

    run = Run.start(config_path, RunOptions(phases=["hosts"]))
    for ev in run.events():      # blocks until the run ends
        ...
    run.status(); run.cancel(); run.wait()
"""

import json
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer import hostlock
from installer.bundle import verify_bundle
from installer.certs import certificates
from installer.config import Config, load_config
from installer.endpoints import Endpoint, endpoints
from installer.events import counts_from_stats, event, failed_units, translate
from installer.identity import given_secret_names, identity
from installer.phases import BACKUP, DIAGNOSTICS, RESTORE, UNINSTALL, UPGRADE, VERSIONS, Phase, by_name, select
from installer.playbook import BOUND_BIN, Ansible
from installer.precheck.evaluate import blocking, evaluate
from installer.precheck.gather import Collector
from installer.precheck.model import Context
from installer.precheck.report import as_json, summary
from installer.precheck.spec import gather_spec
from installer.rundir import (
    RunDir,
    ansible_host,
    create_run_dir,
    make_private,
    open_private_append,
    point_latest,
    private_dir,
    purge_partial_events,
    unfinished_run,
    unsafe_yaml,
    write_json,
)
from installer.runlock import ClusterLock, RunBusy
from installer.secrets import Scrubber, ensure_secrets, scrubber_for
from installer.stamps import stamped_phases
from installer.survey import phase_hosts

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PRECHECK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# Operations that fetch parts from the hosts into a private folder and end with one archive:
# operation -> (its phase, the module whose assemble(run, folder) writes the archive).
# upgrade-plan fetches the hosts' versions the same way; its "archive" is the plan (a JSON file).
ARCHIVES = {"diagnostics": (DIAGNOSTICS, "installer.diagnostics"), "backup": (BACKUP, "installer.backup"),
            "upgrade-plan": (VERSIONS, "installer.upgrade")}
DEFAULT_RUNS_DIR = Path(__file__).resolve().parent.parent / "runs"
__all__ = ["BOUND_BIN", "PhaseResult", "Run", "RunBusy", "RunOptions", "RunStatus"]

# The phases whose roles take the fast path of a re-run (installer/stamps.py).
STAMPED_PHASES = stamped_phases()


def _shown(path: Path) -> str:
    """A path as the operator would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


@dataclass
class RunOptions:
    phases: list[str] | None = None  # None: every phase
    skip_phases: list[str] | None = None
    start_at: str | None = None  # --from
    limit: str | None = None
    check: bool = False
    verbosity: int = 0
    runs_dir: Path = DEFAULT_RUNS_DIR
    extravars: dict[str, Any] = field(default_factory=dict)
    precheck: bool = True  # check every host first; any FAIL stops the run (exit 3)
    precheck_only: bool = False
    # or "uninstall" (installer/uninstall.py), "diagnostics" (installer/diagnostics.py), "backup"
    # (installer/backup.py), "restore" (installer/restore.py): a playbook of its own, no precheck
    operation: str = "install"
    archive_out: Path | None = None  # diagnostics, backup: the archive's folder (default: the run's)
    # what follows config.cfg on the command line that runs this operation again (a failed or
    # interrupted backup, diagnostics or restore is run again whole, not resumed with --from)
    again: str | None = None
    # --full: every role runs on every host, converged or not (installer/stamps.py); it is
    # recorded as converged after.
    full: bool = False
    # restore --rehearse (installer/rehearse.py): a cluster of throwaway containers, removed after
    # the run: the summary names no endpoint to open and no command to resume
    rehearsal: bool = False


@dataclass
class PhaseResult:
    phase: str
    status: str = "pending"  # pending|running|successful|failed|canceled|timeout|skipped
    rc: int | None = None
    started: float | None = None
    duration: float = 0.0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    # Hosts of the phase it did not start on: the survey found their roles converged.
    converged: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        total = {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0}
        for per_host in self.counts.values():
            for key in total:
                total[key] += per_host.get(key, 0)
        return total


@dataclass
class RunStatus:
    run_id: str
    run_dir: Path
    state: str  # running|successful|failed|canceled
    phase: str | None
    task: str | None
    phases: list[PhaseResult]
    exit_code: int | None
    elapsed: float


def _journal_tails(text: str, budget: int = 4000) -> str:
    """The journals of a host's units, each cut to its share of the budget from its end: every
    unit keeps its "--- journalctl -u" header and its last lines (one long journal never
    pushes another out)."""
    sections = re.split(r"(?m)^(?=--- journalctl -u )", text)
    sections = [s for s in sections if s.strip()]
    share = budget // max(len(sections), 1)
    kept = []
    for section in sections:
        header, _, body = section.partition("\n")
        if len(section) > share:
            body = "…" + body[-max(share - len(header) - 2, 0):]
        kept.append(f"{header}\n{body}".rstrip("\n"))
    return "\n".join(kept)


class Run:
    def __init__(self, cfg: Config, options: RunOptions, phases: list[Phase]):
        self.cfg = cfg
        self.options = options
        self.phases = phases
        self.results = [PhaseResult(p.name) for p in phases]
        self.run_dir: RunDir | None = None
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._lock: ClusterLock | None = None  # this cluster's runs on this controller (installer/runlock.py)
        self._ansible: Ansible | None = None  # every ansible-runner call (installer/playbook.py)
        self._thread: threading.Thread | None = None
        self._started = time.time()
        self._current_phase: str | None = None
        self._current_task: str | None = None
        self._phases_done = 0
        self.exit_code: int | None = None
        self.state = "running"
        self.precheck_results: list | None = None
        self.scrubber = Scrubber(())  # every secret of the cluster, once they are known
        self.identity: dict[str, Any] | None = None  # what the hosts record (installer/identity.py)
        self._host_owner: hostlock.Owner | None = None
        self._host_locked = False  # this run holds the installer host's lock
        self.unfinished: dict[str, str | None] | None = None  # the previous run, when it never ended
        self._fetched: Path | None = None  # diagnostics, backup: where the hosts' parts are fetched to (private)
        self.archive: Path | None = None  # diagnostics, backup: the archive written, and its manifest
        self.manifest: dict[str, Any] | None = None
        self.plan: Any = None  # upgrade-plan: the plan (installer/upgrade.py)
        # The survey (installer/survey.py): host -> its roles found converged, each with the input
        # it was found converged under. Empty: every phase starts on all its hosts.
        self._converged: dict[str, dict[str, str]] = {}

    # ---- starting -------------------------------------------------------------------------
    @classmethod
    def start(cls, config: Path | Config, options: RunOptions | None = None) -> "Run":
        """Validate (raises ConfigInvalid: nothing written), then start in the background."""
        options = options or RunOptions()
        cfg = config if isinstance(config, Config) else load_config(Path(config))
        if options.operation == "uninstall":
            # Hosts half installed or already dead are what an uninstall meets: no precheck.
            options.precheck, phases = False, [UNINSTALL]
        elif options.operation in ARCHIVES:
            options.precheck, phases = False, [ARCHIVES[options.operation][0]]
        elif options.operation == "upgrade":
            # The new bundle published (repo, registry), the plan applied, then verify
            # (installer/upgrade.py, playbooks/upgrade.yml).
            phases = [*select(["repo", "registry"]), UPGRADE, by_name("verify")]
        elif options.operation == "restore":
            # Into the installed cluster (installer/restore.py), then verify as after an install.
            options.precheck, phases = False, [RESTORE, by_name("verify")]
        else:
            phases = [] if options.precheck_only else [
                p for p in select(options.phases, options.skip_phases, options.start_at) if p.configured(cfg)]
        run = cls(cfg, options, phases)
        run._prepare()
        run._thread = threading.Thread(target=run._main, name=f"dcos-run-{run.run_dir.run_id}", daemon=True)
        run._thread.start()
        return run

    def _prepare(self) -> None:
        runs_dir = private_dir(Path(self.options.runs_dir).resolve())
        lock = ClusterLock.acquire(runs_dir, self.cfg.cluster.name)
        try:
            secrets_file, values = ensure_secrets(self.cfg, runs_dir)
            self.scrubber = scrubber_for(self.cfg, values, secrets_file)
            self.identity = identity(self.cfg, values)
            # A killed run can leave ansible-runner's unprocessed event files (they hold what a
            # task returned): they are removed, never read.
            purge_partial_events(runs_dir)
            self.unfinished = unfinished_run(runs_dir, self.cfg.cluster.name)
            if self.unfinished:  # a killed run never made its files private: done now
                make_private(runs_dir / self.unfinished["run_id"])
            if self.options.operation in ARCHIVES:
                self._fetched = Path(tempfile.mkdtemp(prefix=f"dcos-{self.options.operation}-"))
                self.options.extravars = {**self.options.extravars, "dcos_fetch_dest": str(self._fetched)}
            stamps = "off" if self.options.operation != "install" else "record" if self.options.full else "check"
            self.run_dir = create_run_dir(self.cfg, runs_dir, secrets_file,
                                          {**self.options.extravars, "dcos_identity": self.identity}, stamps=stamps)
            self._ansible = Ansible(self.cfg, self.run_dir, self.scrubber, lock, self._cancel.is_set)
            self._host_owner = hostlock.owner(runs_dir / "state" / self.cfg.cluster.name, self.run_dir.run_id)
            held = self._installer_host_lock(hostlock.take_script(self._host_owner))
            if held.startswith("HELD"):
                shutil.rmtree(self.run_dir.path, ignore_errors=True)  # refused: no run took place
                point_latest(runs_dir)
                raise RunBusy(hostlock.refusal(held.removeprefix("HELD").strip(), self.cfg.installer.id))
            self._host_locked = held in ("TAKEN", "RETAKEN")
        except BaseException:
            if self._fetched is not None:
                shutil.rmtree(self._fetched, ignore_errors=True)
            lock.release()  # a failed start never blocks the next one
            raise
        self._lock = lock

    # ---- the portal API ------------------------------------------------------------------
    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call callback(event) for every later event, from the run's thread."""
        self._subscribers.append(callback)

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Every event in order, from the start; ends after run_end. Only one consumer."""
        while True:
            item = self._queue.get(timeout=timeout)
            if item is None:
                return
            yield item

    def cancel(self) -> None:
        """Stop the running phase (ansible-runner terminates ansible-playbook) and run no more."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """cancel() was called (the run may still be stopping)."""
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> int | None:
        self._done.wait(timeout)
        return self.exit_code

    def status(self) -> RunStatus:
        return RunStatus(
            run_id=self.run_dir.run_id, run_dir=self.run_dir.path, state=self.state,
            phase=self._current_phase, task=self._current_task, phases=list(self.results),
            exit_code=self.exit_code, elapsed=round(time.time() - self._started, 1),
        )

    # ---- the run itself ------------------------------------------------------------------
    def _emit(self, ev: dict[str, Any]) -> None:
        ev = self.scrubber.data(ev)
        with open_private_append(self.run_dir.events_file) as out:
            out.write(json.dumps(ev, default=str) + "\n")
        self._queue.put(ev)
        for callback in self._subscribers:
            callback(ev)

    def _main(self) -> None:
        try:
            self._emit(event("run_start", run_id=self.run_dir.run_id, run_dir=str(self.run_dir.path),
                             phases=[p.name for p in self.phases], hosts=[h.id for h in self.cfg.all_hosts()],
                             check=self.options.check, precheck=self.options.precheck or self.options.precheck_only,
                             unfinished=self.unfinished))
            failed_phase = None
            if (self.options.precheck or self.options.precheck_only) and not self._run_precheck():
                if self._cancel.is_set():  # stopped during the precheck: interrupted, not failed
                    self._finish("canceled", EXIT_INTERRUPTED, "precheck")
                else:
                    self._finish("precheck_failed", EXIT_PRECHECK, "precheck")
                return
            for index, (phase, result) in enumerate(zip(self.phases, self.results, strict=True), start=1):
                if self._cancel.is_set():
                    result.status = "skipped"
                    continue
                self._run_phase(phase, result, index)
                if result.status != "successful":
                    failed_phase = phase.name
                    for later in self.results[index:]:
                        later.status = "skipped"
                    break
            if self._fetched is not None and not self._cancel.is_set() and not self._assemble():
                # diagnostics: the archive is written, but some host is not in it; backup: no archive
                failed_phase = failed_phase or self.phases[0].name
            if self._cancel.is_set():
                self._finish("canceled", EXIT_INTERRUPTED, failed_phase)
            elif failed_phase:
                self._finish("failed", EXIT_FAILED, failed_phase)
            else:
                self._finish("successful", EXIT_OK, None)
        except Exception as exc:  # a bug or an environment failure: end the run visibly
            self.state, self.exit_code = "failed", EXIT_FAILED
            self._emit(event("run_end", status="failed", exit_code=EXIT_FAILED, error=f"{type(exc).__name__}: {exc}",
                             duration=round(time.time() - self._started, 1), failed_phase=self._current_phase,
                             run_dir=str(self.run_dir.path)))
        finally:
            if self._fetched is not None:
                shutil.rmtree(self._fetched, ignore_errors=True)  # the hosts' raw parts never stay
            if self._host_locked:
                self._installer_host_lock(hostlock.release_script(self._host_owner))
            # ansible-runner writes its artifacts from this process with the process's umask
            # (a portal's own, not ours to change): the finished run's files are made private.
            make_private(self.run_dir.path)
            self._current_phase = self._current_task = None
            self._queue.put(None)
            if self._lock is not None:
                self._lock.release()
            self._done.set()

    def _assemble(self) -> bool:
        """The operation's archive from what the hosts' parts brought (installer/diagnostics.py,
        installer/backup.py); whether it is complete."""
        import importlib

        module = importlib.import_module(ARCHIVES[self.options.operation][1])
        path, manifest = module.assemble(self, self._fetched)
        self.archive, self.manifest = path, manifest
        self._emit(event(self.options.operation, archive=str(path) if path else None,
                         size=path.stat().st_size if path else 0, complete=manifest["complete"],
                         missing=manifest["missing"]))
        return manifest["complete"]

    def endpoints(self) -> list[Endpoint]:
        """Where to open the cluster, once a run that ended with the verify phase succeeded."""
        done = self.state == "successful" and not self.options.check and not self.options.precheck_only
        if not done or "verify" not in [p.name for p in self.phases]:
            return []
        return endpoints(self.cfg, _shown(Path(self.options.runs_dir)))

    def _finish(self, state: str, exit_code: int, failed_phase: str | None) -> None:
        self.state, self.exit_code = state, exit_code
        duration = round(time.time() - self._started, 1)
        links = [e.as_dict() for e in self.endpoints()]
        write_json(self.run_dir.summary_file, {
            "run_id": self.run_dir.run_id, "status": self.state, "exit_code": self.exit_code,
            "duration": duration, "phases": [r.__dict__ for r in self.results], "endpoints": links,
            **({"archive": str(self.archive)} if self.archive else {}),
        })
        self._emit(event("run_end", status=self.state, exit_code=self.exit_code, duration=duration,
                         failed_phase=failed_phase, run_dir=str(self.run_dir.path), endpoints=links))

    def _run_precheck(self) -> bool:
        """One parallel gather of every host, then every check on the controller."""
        self._current_phase = "precheck"
        started = time.time()
        hosts = [h.id for h in self.cfg.all_hosts()]
        spec_file = self.run_dir.path / "env" / "precheck.yml"
        spec_file.write_text(unsafe_yaml({"dcos_precheck_spec": gather_spec(self.cfg)}))
        spec_file.chmod(0o600)
        self._emit(event("precheck_start", hosts=hosts))
        collector = Collector(self.cfg)
        surveyed = {host: dict(roles) for host, roles in self.run_dir.stamp_inputs.items()}

        def on_event(raw: dict[str, Any]) -> bool:
            collector.feed(raw)
            data = raw.get("event_data") or {}
            roles = (data.get("res") or {}).get("roles")
            if raw.get("event") == "runner_on_ok" and isinstance(roles, dict) and data.get("host") in surveyed:
                inputs = surveyed[data["host"]]
                self._converged[data["host"]] = {
                    role: inputs[role] for role, answer in roles.items()
                    if isinstance(answer, dict) and answer.get("converged") is True and role in inputs}
            return True

        self._ansible.playbook(
            "precheck.yml", "00-precheck", on_event, title="precheck (precheck.yml)", extravars="env/precheck.yml",
            # Fail fast on a dead host: the precheck reports it instead of retrying for minutes.
            envvars=self._ansible.envvars(ANSIBLE_TIMEOUT="10", ANSIBLE_SSH_RETRIES="0"),
            verbosity=self.options.verbosity or None)
        needs_bundle = self.options.precheck_only or any(p.name in ("repo", "registry") for p in self.phases)
        ctx = Context(cfg=self.cfg, hosts=collector.observations,
                      bundle=verify_bundle(self.cfg.repo.bundle) if needs_bundle else None,
                      identity=self.identity, given_secrets=given_secret_names(self.cfg),
                      certificates=certificates(self.cfg, self.options.runs_dir),
                      phases=tuple(p.name for p in self.phases))
        results = evaluate(ctx)
        self.precheck_results = results
        duration = time.time() - started
        write_json(self.run_dir.path / "precheck.json", as_json(results, duration, hosts))
        stopping = blocking(results)
        self._emit(event("precheck_end", passed=not stopping and not self._cancel.is_set(),
                         summary=summary(results), duration=round(duration, 2), hosts=hosts,
                         results=[r.as_dict() for r in results],
                         report=str(self.run_dir.path / "precheck.json")))
        self._current_phase = None
        return not stopping and not self._cancel.is_set()

    def _add_journals(self, result: PhaseResult, lines: int = 20, limit: int = 4) -> None:
        """A failure that names a unit (it did not start, it is inactive): its last journal lines
        from that host go into the failure, scrubbed, so the operator sees why without an SSH
        session. One ad-hoc command per host and unit, a few of them at most."""
        asked = 0
        for failure in result.failures:
            units = failed_units(failure.get("msg", ""))
            if not units or asked >= limit or failure.get("status") == "unreachable":
                continue
            asked += 1
            script = "; ".join(f"echo '--- journalctl -u {u}'; journalctl -u {u} -n {lines} --no-pager -o short-iso"
                               for u in units)
            try:
                out = self._ansible.command(failure["host"], script, f"journal-{result.phase}-{asked}", failed_too=True)
            except Exception as exc:
                out = [f"(the journal could not be read: {type(exc).__name__})"]
            if out:
                failure["journal"] = _journal_tails(out[0])

    def _installer_host_lock(self, script: str) -> str:
        """Run one lock script on the installer host; its answer (TAKEN, RETAKEN, HELD ...,
        RELEASED, KEPT), or "" when the host could not be asked (the precheck then says why)."""
        try:
            answer = self._ansible.command(self.cfg.installer.id, script, "host-lock")
        except Exception:
            return ""
        return answer[0].strip().splitlines()[-1] if answer else ""

    def _host_at(self, address: str) -> str | None:
        """The inventory name of the host Ansible reaches at `address` (its ansible_host)."""
        return next((host.id for host in self.cfg.all_hosts() if ansible_host(host) == address), None)

    def _survey_limit(self, phase: Phase) -> tuple[set[str] | None, set[str]]:
        """(the hosts to start the phase on, those left out as converged) from the survey; None:
        every host of the phase, as without it (no survey, --limit, a phase it cannot read)."""
        if not self._converged or self.options.limit or phase.name not in STAMPED_PHASES:
            return None, set()
        now = self.run_dir.stamp_inputs
        # A role stays converged only under the input it was surveyed with (an earlier phase of
        # this run may have made a file it reads since).
        converged = {host: {role for role, digest in roles.items() if now.get(host, {}).get(role) == digest}
                     for host, roles in self._converged.items()}
        try:
            hosts, left_out = phase_hosts(phase.playbook, self.run_dir.inventory, converged)
        except (ValueError, OSError, yaml.YAMLError):
            return None, set()
        return (hosts, left_out) if left_out else (None, set())

    def _run_phase(self, phase: Phase, result: PhaseResult, index: int) -> None:
        self._current_phase = phase.name
        if self.run_dir.refresh_stamps is not None and phase.name in STAMPED_PHASES and self._phases_done:
            # The phases before made files the stamped roles read (the CA, the bundle's
            # repository): their inputs are made again from what is there now.
            self.run_dir.refresh_stamps()
        self._phases_done += 1
        result.status, result.started = "running", time.time()
        hosts, left_out = self._survey_limit(phase)
        result.converged = sorted(left_out)
        self._emit(event("phase_start", phase=phase.name, index=index, total=len(self.phases),
                         description=phase.description, converged=result.converged,
                         **({"hosts": sorted(hosts)} if hosts is not None else {})))
        if hosts is not None and not hosts:  # converged on every host: not started
            result.status, result.rc, result.duration = "successful", 0, round(time.time() - result.started, 1)
            self._emit(event("phase_end", phase=phase.name, status=result.status, rc=0, duration=result.duration,
                             counts={}, failures=[], converged=result.converged, stdout=str(self.run_dir.log_file)))
            return
        stats: dict[str, Any] = {}
        busy: dict[str, str] = {}  # host -> task started and not ended (what a timeout names)
        # task -> the host a failed delegated item ran on (a task run once from one host for
        # each member: the failure, and the journal, are the member's)
        delegated: dict[str, str] = {}

        def on_event(raw: dict[str, Any]) -> bool:
            data = raw.get("event_data") or {}
            if raw.get("event") in ("runner_item_on_failed", "runner_on_failed"):
                address = ((data.get("res") or {}).get("_ansible_delegated_vars") or {}).get("ansible_host")
                member = self._host_at(address) if address else None
                if member and member != data.get("host"):
                    delegated[data.get("task_uuid", "")] = member
            if raw.get("event") == "runner_on_start" and data.get("host"):
                busy[data["host"]] = data.get("task", "")
            elif raw.get("event", "").startswith("runner_on_") and data.get("host"):
                busy.pop(data["host"], None)
            if raw.get("event") == "playbook_on_stats":
                stats.update(raw.get("event_data") or {})
            ev = translate(raw, phase.name)
            if ev is None:
                return True
            if ev["type"] == "task_start":
                self._current_task = ev["task"]
            elif ev["type"] == "host_result" and ev["status"] in ("failed", "unreachable"):
                member = delegated.get(data.get("task_uuid", "")) if ev["status"] == "failed" else None
                result.failures.append({"host": member or ev["host"], "task": ev["task"], "status": ev["status"],
                                        "msg": ev["msg"], **({"from": ev["host"]} if member else {})})
            self._emit(ev)
            return True

        runner = self._ansible.playbook(
            phase.playbook, f"{index:02d}-{phase.name}", on_event, title=f"phase {phase.name} ({phase.playbook})",
            limit=",".join(sorted(hosts)) if hosts is not None else self.options.limit,
            cmdline="--check --diff" if self.options.check else None,
            verbosity=self.options.verbosity or None, rotate_artifacts=0,
            # The whole phase is bounded too (ansible-runner stops the playbook: status timeout).
            timeout=self.cfg.cluster.phase_timeout)
        result.rc = runner.rc
        result.duration = round(time.time() - result.started, 1)
        result.counts = counts_from_stats(stats)
        status = runner.status  # successful | failed | canceled | timeout
        if status == "successful" and (runner.rc or 0) != 0:
            status = "failed"
        self._add_journals(result)
        if status == "timeout":
            waiting = busy or {"?": self._current_task or ""}
            for host, task in sorted(waiting.items()):
                result.failures.append({
                    "host": host, "task": task, "status": "timeout",
                    "msg": f"the {phase.name} phase did not end within [cluster] phase_timeout = "
                           f"{self.cfg.cluster.phase_timeout} s; {host} was still running this task"})
        result.status = status
        self._current_task = None
        self._emit(event("phase_end", phase=phase.name, status=status, rc=runner.rc, duration=result.duration,
                         counts=result.counts, failures=result.failures, converged=result.converged,
                         stdout=str(self.run_dir.log_file)))
