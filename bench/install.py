"""Benchmark: the whole install into the air-gapped container cluster of --demo (installer,
three masters, N agents), for N = 2, 4, 8. For each size: precheck time, first install time
per phase, second-run time and its ratio to the first (with the changed count, which must be
0), and the slowest tasks of the first install. Prints a table, writes
bench/results/install.json. Numbers, not a pass/fail test.

Targets (2-core machine): first install under 10 minutes; second run under 15% of the first
with changed=0; 8 agents under 1.3x the time of 2.

    .venv/bin/python -m bench.install [--agents 2,4,8] [--keep]
"""

import argparse
import itertools
import json
import subprocess
import tempfile
import time
from pathlib import Path

from installer.demo import DemoCluster, ensure_testbed, prepare

TOP = Path(__file__).resolve().parent.parent
RESULTS = TOP / "bench" / "results"
BUNDLE = TOP / ".cache" / "test-bundles" / "e2e"


def _run(config: Path, runs: Path) -> tuple[float, dict, list[dict]]:
    start = time.time()
    proc = subprocess.run([str(TOP / "install.sh"), str(config), "--runs-dir", str(runs), "--yes"],
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    wall = time.time() - start
    latest = (runs / "latest").resolve()
    if proc.returncode != 0:
        raise SystemExit(f"install failed (exit {proc.returncode}); log: {latest / 'install.log'}\n"
                         f"{proc.stdout[-3000:]}")
    events = [json.loads(line) for line in (latest / "events.jsonl").read_text().splitlines()]
    return wall, json.loads((latest / "summary.json").read_text()), events


def slowest_tasks(events: list[dict], top: int = 8) -> list[dict]:
    """Task time = from its start to the next task's (or its phase's end), from the events."""
    marks = [e for e in events if e["type"] in ("task_start", "phase_end")]
    spans: dict[str, float] = {}
    for this, nxt in itertools.pairwise(marks):
        if this["type"] == "task_start":
            key = f"{this['phase']}: {this['task']}"
            spans[key] = spans.get(key, 0.0) + nxt["time"] - this["time"]
    return [{"task": k, "seconds": round(v, 1)} for k, v in sorted(spans.items(), key=lambda kv: -kv[1])[:top]]


def measure(agents: int, folder: Path, keep: bool) -> dict:
    cluster = DemoCluster(prefix="dcos-bench", subnet="172.29.91.0/24", agents=agents, label="dcos-testbed=1",
                          name="bench")
    config = prepare(cluster, folder, bundle=BUNDLE)
    runs = folder / "runs"
    try:
        first_wall, first, events = _run(config, runs)
        precheck = next(e["duration"] for e in events if e["type"] == "precheck_end")
        second_wall, second, _ = _run(config, runs)
    finally:
        if not keep:
            cluster.destroy()
    changed = sum(c["changed"] for p in second["phases"] for c in p["counts"].values())
    return {
        "agents": agents, "hosts": len(cluster.nodes), "precheck_s": precheck,
        "first_s": round(first_wall, 1), "phases_s": {p["phase"]: p["duration"] for p in first["phases"]},
        "second_s": round(second_wall, 1), "second_ratio": round(second_wall / first_wall, 3),
        "second_changed": changed, "second_phases_s": {p["phase"]: p["duration"] for p in second["phases"]},
        "slowest_tasks": slowest_tasks(events),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="2,4,8", help="comma-separated agent counts")
    parser.add_argument("--keep", action="store_true", help="keep the last cluster (containers dcos-bench-*)")
    args = parser.parse_args()
    ensure_testbed()
    rows = []
    for agents in (int(a) for a in args.agents.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
            rows.append(measure(agents, Path(tmp), args.keep))
        row = rows[-1]
        print(f"{agents} agents: first {row['first_s']} s, second {row['second_s']} s "
              f"({row['second_ratio']:.0%}, changed={row['second_changed']})", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "install.json").write_text(json.dumps(rows, indent=2) + "\n")
    phases = list(rows[0]["phases_s"])
    base = rows[0]
    print(f"\n{'phase':<10}" + "".join(f"{str(r['agents']) + ' agents':>11}" for r in rows) + f"{'growth':>9}")
    for phase in ["precheck", *phases, "total", "second run"]:
        def cell(row, phase=phase):
            if phase == "precheck":
                return row["precheck_s"]
            if phase == "total":
                return row["first_s"]
            if phase == "second run":
                return row["second_s"]
            return row["phases_s"].get(phase, 0.0)
        growth = cell(rows[-1]) / cell(base) if cell(base) else 0
        print(f"{phase:<10}" + "".join(f"{cell(r):>11.1f}" for r in rows) + f"{growth:>8.2f}x")
    print(f"\nslowest tasks of the first install, {base['agents']} agents:")
    for task in base["slowest_tasks"]:
        print(f"  {task['seconds']:>6.1f} s  {task['task']}")
    print(f"\nresults: {RESULTS / 'install.json'}")


if __name__ == "__main__":
    main()
