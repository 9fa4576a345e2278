"""How a run looks on a terminal: a live view (rich) of phase, task and host counts with the
elapsed time; plain lines when stdout is not a terminal; JSON lines with --json. Then a
summary: per phase counts and duration, every failure with its host and message, the logs."""

import json
import sys
import time
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from installer.phases import PHASE_NAMES
from installer.runner import PhaseResult, Run


def _precheck_report(console: Console, ev: dict[str, Any]) -> None:
    from installer.precheck.model import Result
    from installer.precheck.report import render

    render(console, [Result.from_dict(r) for r in ev["results"]], ev["hosts"])
    if ev["passed"]:
        console.print(f"precheck passed in {ev['duration']:.1f}s (report: {ev['report']})", highlight=False)
    else:
        console.print(f"precheck FAILED: nothing was changed (report: {ev['report']})", style="bold red",
                      highlight=False)

_STYLE = {"successful": "green", "failed": "bold red", "canceled": "yellow", "timeout": "red",
          "running": "cyan", "pending": "dim", "skipped": "dim"}
_MARK = {"successful": "✔", "failed": "✘", "canceled": "■", "timeout": "✘", "running": "▶", "pending": "·",
         "skipped": "-"}


def unfinished_note(ev: dict[str, Any]) -> str | None:
    """What a run says when the one before it never ended (its installer was killed)."""
    prev = ev.get("unfinished")
    if not prev:
        return None
    phase = prev.get("phase")
    if phase and phase != "precheck" and phase not in PHASE_NAMES:
        # uninstall, backup, diagnostics, restore: no --from; a restore cut short leaves ZooKeeper,
        # the Mesos masters and Marathon stopped, with ZooKeeper's data half in place.
        return (f"note: the last run {prev['run_id']} never ended (its installer was killed?): it stopped in its "
                f"{phase}. Run that {phase} again first, with the same arguments: it is made to be run again"
                + (" (until then ZooKeeper, the Mesos masters and Marathon stay stopped)" if phase == "restore"
                   else "") + ".")
    where = f"in the {phase} phase" if phase and phase != "precheck" else (
        "in the precheck" if phase else "before its first phase")
    resume = (f"; to resume where it stopped instead, run with --from {phase}"
              if phase and phase != "precheck" else "")
    return (f"note: the last run {prev['run_id']} never ended (its installer was killed?): it stopped {where}. "
            f"This run goes through its phases from the start, which finishes that work{resume}.")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class JsonDisplay:
    def __init__(self, out: TextIO = sys.stdout):
        self.out = out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def handle(self, ev: dict[str, Any]) -> None:
        self.out.write(json.dumps(ev, default=str) + "\n")
        self.out.flush()

    def summary(self, run: Run, config_arg: str) -> None:
        """The run_end event is the summary in JSON mode."""


class PlainDisplay:
    """One line per task and per problem; readable in a log file or a CI console."""

    def __init__(self, out: TextIO = sys.stdout):
        self.out = out
        self.start = time.time()
        self._retrying: set[tuple[str, str]] = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def _line(self, text: str) -> None:
        self.out.write(f"[{_clock(time.time() - self.start)}] {text}\n")
        self.out.flush()

    def handle(self, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        if kind == "run_start":
            self._line(f"run {ev['run_id']}: phases {', '.join(ev['phases']) or '(none)'}; "
                       f"{len(ev['hosts'])} hosts{' (check mode)' if ev.get('check') else ''}")
            if note := unfinished_note(ev):
                self._line(note)
        elif kind == "precheck_start":
            self._line(f"precheck: observing {len(ev['hosts'])} hosts")
        elif kind == "precheck_end":
            _precheck_report(Console(file=self.out, no_color=True, width=160, highlight=False), ev)
        elif kind == "phase_start":
            self._line(f"phase {ev['index']}/{ev['total']} {ev['phase']}: {ev['description']}")
            if ev.get("converged"):
                self._line(f"  {ev['phase']} | {survey_note(ev)}")
        elif kind == "task_start":
            self._line(f"  {ev['phase']} | {ev['task']}")
        elif kind == "host_result" and ev["status"] in ("failed", "unreachable"):
            self._line(f"  {ev['phase']} | {ev['status'].upper()} {ev['host']}: {ev['msg']}")
        elif kind == "host_result" and ev.get("said"):
            self._line(f"  {ev['phase']} | {ev['host']}: {ev['msg']}")
        elif kind == "host_result" and ev["status"] == "retry" and (ev["host"], ev["task"]) not in self._retrying:
            self._retrying.add((ev["host"], ev["task"]))
            self._line(f"  {ev['phase']} | waiting on {ev['host']} (retrying)")
        elif kind == "phase_end" and ev.get("converged") and not ev.get("counts"):
            self._line(f"phase {ev['phase']} not started (converged on every host)")
        elif kind == "phase_end":
            self._line(f"phase {ev['phase']} {ev['status']} in {ev['duration']:.1f}s")
        elif kind == "run_end":
            self._line(f"run {ev['status']} in {ev['duration']:.1f}s")

    def summary(self, run: Run, config_arg: str) -> None:
        print_summary(Console(file=self.out, no_color=True, width=120, highlight=False), run, config_arg)


def survey_note(ev: dict[str, Any]) -> str:
    """What the survey (installer/survey.py) left out of a phase, for its phase_start."""
    left_out = ", ".join(ev["converged"])
    if not ev.get("hosts"):
        return f"converged since the last run on every host ({left_out}): not started"
    return f"converged since the last run on {left_out}; starts on {', '.join(ev['hosts'])}"


class LiveDisplay:
    """A live view for a terminal."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console()
        self.start = time.time()
        self.phases: list[PhaseResult] = []
        self.current: dict[str, Any] = {}
        self.done_hosts: set[str] = set()
        self.problems: list[str] = []
        self.hosts = 0
        self.live = Live(console=self.console, refresh_per_second=4, get_renderable=self._render, transient=False)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def handle(self, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        if kind == "run_start":
            self.phases = [PhaseResult(name) for name in ev["phases"]]
            self.hosts = len(ev["hosts"])
            self.run_id = ev["run_id"]
            if note := unfinished_note(ev):
                self.live.console.print(note, style="yellow", highlight=False)
        elif kind == "precheck_start":
            self.current = {"phase": "precheck", "task": "observing every host"}
        elif kind == "precheck_end":
            self.current = {}
            _precheck_report(self.live.console, ev)
        elif kind == "phase_start":
            self._phase(ev["phase"]).status = "running"
            self._phase(ev["phase"]).started = ev["time"]
            self.current = {"phase": ev["phase"], "task": ""}
        elif kind == "task_start":
            self.current = {"phase": ev["phase"], "task": ev["task"]}
            self.done_hosts = set()
        elif kind == "host_result":
            phase = self._phase(ev["phase"])
            if ev["status"] != "retry":
                self.done_hosts.add(ev["host"])
                per_host = phase.counts.setdefault(ev["host"], {})
                per_host[ev["status"]] = per_host.get(ev["status"], 0) + 1
            if ev["status"] in ("failed", "unreachable"):
                self.problems.append(f"{ev['host']} [{ev['phase']}] {ev['task']}: {ev['msg']}")
        elif kind == "phase_end":
            phase = self._phase(ev["phase"])
            phase.status, phase.duration, phase.counts = ev["status"], ev["duration"], ev["counts"]
            self.current = {}

    def _phase(self, name: str) -> PhaseResult:
        for phase in self.phases:
            if phase.phase == name:
                return phase
        phase = PhaseResult(name)
        self.phases.append(phase)
        return phase

    def _render(self):
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("", "phase", "ok", "changed", "failed", "unreachable", "time"):
            table.add_column(column, justify="right" if column in ("ok", "changed", "failed", "unreachable", "time")
                             else "left")
        for phase in self.phases:
            totals = phase.totals()
            elapsed = phase.duration or (time.time() - phase.started if phase.started else 0)
            table.add_row(Text(_MARK.get(phase.status, "?"), style=_STYLE.get(phase.status, "")),
                          Text(phase.phase, style=_STYLE.get(phase.status, "")),
                          str(totals["ok"]), str(totals["changed"]), str(totals["failed"]),
                          str(totals["unreachable"]), f"{elapsed:.0f}s" if elapsed else "")
        head = Text(f"DCOS install · {self.hosts} hosts · {_clock(time.time() - self.start)}", style="bold")
        parts = [head, table]
        if self.current.get("task"):
            parts.append(Text(f"▶ {self.current['phase']}: {self.current['task']} "
                              f"({len(self.done_hosts)}/{self.hosts} hosts done)", style="cyan"))
        for problem in self.problems[-3:]:
            parts.append(Text(f"✘ {problem}", style="red"))
        return Group(*parts)

    def summary(self, run: Run, config_arg: str) -> None:
        print_summary(self.console, run, config_arg)


def print_summary(console: Console, run: Run, config_arg: str) -> None:
    table = Table(title=f"run {run.run_dir.run_id}: {run.state}", title_justify="left")
    for column in ("phase", "status", "ok", "changed", "failed", "unreachable", "duration"):
        table.add_column(column, justify="left" if column in ("phase", "status") else "right")
    for result in run.results:
        totals = result.totals()
        idle = result.status == "successful" and result.converged and not result.counts
        table.add_row(result.phase, "converged" if idle else result.status, str(totals["ok"]),
                      str(totals["changed"]), str(totals["failed"]), str(totals["unreachable"]),
                      f"{result.duration:.1f}s" if result.duration else "")
    console.print(table)
    failures = [(r.phase, f) for r in run.results for f in r.failures]
    if failures:
        console.print("Failed:", style="bold red")
        for phase, failure in failures:
            # One line each, never wrapped: an operator greps for them.
            console.print(f"  {failure['host']}  [{phase}] {failure['task']}: {failure['status']}: {failure['msg']}",
                          markup=False, highlight=False, soft_wrap=True)
            if failure.get("journal"):
                console.print("    " + failure["journal"].replace("\n", "\n    "), markup=False, highlight=False,
                              soft_wrap=True)
    # A rehearsal's cluster is removed after it: nothing to open, nothing to resume.
    throwaway = getattr(run.options, "rehearsal", False)
    links = [] if throwaway else run.endpoints()
    if links:
        console.print("Open:")
        width = max(len(link.name) for link in links)
        for link in links:
            console.print(f"  {link.name:<{width}}  {link.url}" + (f"  ({link.note})" if link.note else ""),
                          markup=False, highlight=False, soft_wrap=True)
    console.print(f"Full log: {run.run_dir.log_file}", markup=False, highlight=False)
    console.print(f"Events:   {run.run_dir.events_file}", markup=False, highlight=False)
    if throwaway:
        return
    if run.state == "precheck_failed":
        console.print(f"Fix what the precheck found (or waive a check in [precheck] waive), then run again: "
                      f"./install.sh {config_arg}", markup=False, highlight=False)
        return
    if run.state in ("failed", "canceled") and run.options.operation != "install":
        own = next((r.phase for r in run.results if r.phase != "verify" and r.status != "successful"), None)
        if own is not None:  # its own phase did not end (restore: not its verify, which --from resumes)
            gone = " (what is gone stays gone)" if run.options.operation == "uninstall" else ""
            console.print(f"Run it again after fixing the cause{gone}: ./install.sh {config_arg} "
                          f"{run.options.again or run.options.operation}", markup=False, highlight=False,
                          soft_wrap=True)
            return
    if run.state in ("failed", "canceled"):
        stopped = next((r.phase for r in run.results if r.status in ("failed", "canceled", "timeout", "running")),
                       None) or next((r.phase for r in run.results if r.status == "skipped"), None)
        if stopped:
            console.print(f"Resume after fixing the cause: ./install.sh {config_arg} --from {stopped}",
                          markup=False, highlight=False)
