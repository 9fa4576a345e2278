"""The precheck report: problems first (FAIL, then WARN, with what to do), then a host x
check matrix; and precheck.json."""

from typing import Any

from rich.console import Console
from rich.table import Table

from installer.precheck.model import Result, Status

_SHORT = {Status.PASS: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL"}
_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def summary(results: list[Result]) -> dict[str, int]:
    counts = {"pass": 0, "warn": 0, "fail": 0, "waived": 0}
    for r in results:
        if r.waived:
            counts["waived"] += 1
        else:
            counts[r.status.name.lower()] += 1
    return counts


def as_json(results: list[Result], duration: float, hosts: list[str]) -> dict[str, Any]:
    return {"summary": summary(results), "duration": round(duration, 2), "hosts": hosts,
            "results": [r.as_dict() for r in results]}


def render(console: Console, results: list[Result], hosts: list[str]) -> None:
    problems = [r for r in results if r.status != Status.PASS]
    if problems:
        table = Table(title="Precheck problems", title_justify="left")
        for column in ("status", "host", "check", "found", "what to do"):
            table.add_column(column, overflow="fold")
        for r in problems:
            label = f"{r.status.name} (waived)" if r.waived else r.status.name
            table.add_row(label, r.host, r.check, r.message, r.fix, style="dim" if r.waived else _STYLE[r.status])
        console.print(table)
    checks = list(dict.fromkeys(r.check for r in sorted(results, key=lambda r: r.check)))
    by_key = {(r.check, r.host): r for r in results}
    # Checks with problems first, then the rest.
    checks.sort(key=lambda c: min((by_key[(c, h)].status for h in hosts if (c, h) in by_key), default=Status.PASS))
    matrix = Table(title="Precheck", title_justify="left")
    matrix.add_column("check")
    for host in hosts:
        matrix.add_column(host, justify="center")
    for name in checks:
        cells = []
        for host in hosts:
            r = by_key.get((name, host))
            if r is None:
                cells.append("-")
            else:
                cells.append(f"[{'dim' if r.waived else _STYLE[r.status]}]{_SHORT[r.status]}"
                             f"{'*' if r.waived else ''}[/]")
        matrix.add_row(name, *cells)
    console.print(matrix)
    counts = summary(results)
    console.print(f"precheck: {counts['fail']} failed, {counts['warn']} warnings, {counts['pass']} passed"
                  + (f", {counts['waived']} waived (*)" if counts["waived"] else ""), highlight=False)
