"""Benchmark: the whole install into the air-gapped container cluster of --demo (installer,
three masters, N agents), for N = 2, 4, 8. For each size:

- the precheck, the first install per phase, and its slowest tasks;
- the converged re-run (changed must be 0) and its ratio to the first install;
- one agent added to the finished cluster the way `./install.sh --demo --agents N+1` does it
  (one container more, one run of every phase), its ratio to the first install, and the old
  hosts it changed anything on (each should be only where the new host must be named);
- the floor (--floor): the same packages installed and the same package units started by a
  plain parallel script (apt-get on fresh containers of the same image, from the cluster's
  own repository, one thread per host), and each figure's ratio to it: how much of the time
  is the installer's.

Prints a table; writes .cache/bench/install.json (--keep: also each run folder, under
.cache/bench/runs-<agents>/, and the last cluster). Numbers, not a pass/fail test.

Targets (#23, 2-core machine): first install under 10 minutes and at 8 agents at most 1.3x
the time of 2; converged re-run at most 15% of the first install; one agent added at most
25% of it.

    .venv/bin/python -m bench.install [--agents 2,4,8] [--floor] [--keep]
"""

import argparse
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from installer.demo import IMAGE, DemoCluster, Node, add_nodes, docker, ensure_testbed, prepare, ssh_keypair

TOP = Path(__file__).resolve().parent.parent
RESULTS = TOP / ".cache" / "bench"
BUNDLE = TOP / ".cache" / "test-bundles" / "e2e"
SUBNET = "172.29.91.0/24"
FLOOR_OFFSET = 100  # the floor's fresh containers: .110, .111, ... beside the cluster's .10-.99


def _run(config: Path, runs: Path) -> tuple[float, dict, list[dict]]:
    start = time.time()
    proc = subprocess.run([str(TOP / "install.sh"), str(config), "--runs-dir", str(runs), "--yes"],
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    wall = time.time() - start
    latest = (runs / "latest").resolve()
    if proc.returncode != 0:
        # the precheck's failures first: the output's tail is its table's last rows, and the
        # run's folder goes with the bench's temporary one
        report = latest / "precheck.json"
        failed = [f"  {r['check']}@{r['host']}: {r['message']}"
                  for r in (json.loads(report.read_text())["results"] if report.is_file() else [])
                  if r.get("status") == "FAIL"]
        raise SystemExit(f"install failed (exit {proc.returncode}); log: {latest / 'install.log'}\n"
                         + "".join(f"{line}\n" for line in failed) + proc.stdout[-3000:])
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


def _changed_hosts(summary: dict) -> dict[str, int]:
    """Host -> tasks changed over the run's phases, for the hosts that changed anything."""
    out: dict[str, int] = {}
    for phase in summary["phases"]:
        for host, counts in phase["counts"].items():
            if counts.get("changed"):
                out[host] = out.get(host, 0) + counts["changed"]
    return out


def _cluster(agents: int) -> DemoCluster:
    return DemoCluster(prefix="dcos-bench", subnet=SUBNET, agents=agents, label="dcos-testbed=1", name="bench")


def _lines(node: Node, script: str) -> set[str]:
    return {line.strip() for line in node.sh(script, check=False, timeout=120).splitlines() if line.strip()}


def _added_by_install(node: Node, baseline: set[str]) -> tuple[list[str], list[str]]:
    """The packages the install added to this host (against the image), and the running units
    those packages ship (what the floor starts)."""
    packages = sorted(_lines(node, "dpkg-query -W -f '${Package}\\n'") - baseline)
    running = _lines(node, "systemctl list-units --type=service --state=running --no-legend --plain "
                           "| awk '{print $1}'")
    shipped = _lines(node, "for p in " + " ".join(packages) + "; do dpkg -L $p 2>/dev/null; done "
                     "| grep -E '^/(usr/)?lib/systemd/system/[^/]+\\.service$' | xargs -r -n1 basename") \
        if packages else set()
    return packages, sorted(running & shipped)


def floor(cluster: DemoCluster, folder: Path) -> dict:
    """The same packages installed and package units started by a plain script, in parallel on
    fresh containers of the same image, from the installed cluster's own repository."""
    baseline = set(docker("run", "--rm", IMAGE, "dpkg-query", "-W", "-f", "${Package}\n").stdout.split())
    wanted = {node.name: _added_by_install(node, baseline) for node in cluster.nodes}
    source = cluster.node("master1")
    sources = source.sh("cat /etc/apt/sources.list.d/dcos.sources")
    keyring = next(line.split(":", 1)[1].strip() for line in sources.splitlines() if line.startswith("Signed-By:"))
    key_b64 = source.sh(f"base64 -w0 {keyring}").strip()
    base = cluster.nodes[0].ip.rsplit(".", 1)[0]
    fresh = [Node(f"dcos-bench-floor-{n.name}", n.name, f"{base}.{FLOOR_OFFSET + i}") for i, n in
             enumerate(cluster.nodes)]
    add_nodes(fresh, cluster.network, ssh_keypair(folder), cluster.label)
    # The installer host's firewall admits config.cfg's hosts only: the fresh ones are let in to
    # its repository for the measurement (in the running table; its file is left alone).
    admit = "{ " + ", ".join(node.ip for node in fresh) + " }"
    installer = cluster.node("installer")
    installer.sh(f"nft list table inet dcos_installer >/dev/null 2>&1 || exit 0; "
                 f"nft add element inet dcos_installer cluster_sources '{admit}'")
    setup = (f"rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; mkdir -p $(dirname {keyring}); "
             f"echo {key_b64} | base64 -d > {keyring}; cat > /etc/apt/sources.list.d/dcos.sources")

    def install(node: Node) -> dict:
        packages, units = wanted[node.name]
        docker("exec", "-i", node.container, "sh", "-c", setup, stdin=sources)
        start = time.time()
        proc = docker("exec", node.container, "sh", "-c",
                      "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                      "--no-install-recommends " + " ".join(packages) + " >/dev/null"
                      + (" && systemctl start " + " ".join(units) if units else ""), check=False, timeout=3600)
        return {"host": node.name, "seconds": round(time.time() - start, 1), "packages": len(packages),
                "units": units, "ok": proc.returncode == 0, "error": proc.stderr[-300:] if proc.returncode else ""}

    try:
        start = time.time()
        with ThreadPoolExecutor(max_workers=len(fresh)) as pool:
            hosts = list(pool.map(install, fresh))
        wall = time.time() - start
    finally:
        for node in fresh:
            docker("rm", "-f", "-v", node.container, check=False)
        installer.sh(f"nft delete element inet dcos_installer cluster_sources '{admit}' 2>/dev/null || true",
                     check=False)
    failed = [h for h in hosts if not h["ok"]]
    if failed:  # a floor of installs that failed is no floor
        raise SystemExit("the floor's plain install failed on " + ", ".join(h["host"] for h in failed) + ":\n"
                         + failed[0]["error"])
    return {"seconds": round(wall, 1), "hosts": hosts}


def measure(agents: int, folder: Path, keep: bool, with_floor: bool) -> dict:
    cluster = _cluster(agents)
    bigger = _cluster(agents + 1)
    config = prepare(cluster, folder, bundle=BUNDLE)
    runs = folder / "runs"
    result: dict = {"agents": agents, "hosts": len(cluster.nodes)}
    try:
        first_wall, first, events = _run(config, runs)
        second_wall, second, second_events = _run(config, runs)
        # One agent more, as --demo --agents N+1 does it: one container added, one run.
        config = prepare(bigger, folder, bundle=BUNDLE, reuse=True)
        grow_wall, grow, _ = _run(config, runs)
        new = bigger.nodes[-1].name
        result.update({
            "precheck_s": next(e["duration"] for e in events if e["type"] == "precheck_end"),
            "first_s": round(first_wall, 1), "phases_s": {p["phase"]: p["duration"] for p in first["phases"]},
            "second_s": round(second_wall, 1), "second_ratio": round(second_wall / first_wall, 3),
            "second_changed": sum(_changed_hosts(second).values()),
            "second_phases_s": {p["phase"]: p["duration"] for p in second["phases"]},
            "second_slowest_tasks": slowest_tasks(second_events),
            "grow_s": round(grow_wall, 1), "grow_ratio": round(grow_wall / first_wall, 3),
            "grow_phases_s": {p["phase"]: p["duration"] for p in grow["phases"]},
            "grow_changed_old_hosts": {h: c for h, c in _changed_hosts(grow).items() if h != new},
            "slowest_tasks": slowest_tasks(events),
        })
        if with_floor:
            result["floor"] = floor(bigger, folder)
            result["first_to_floor"] = round(first_wall / result["floor"]["seconds"], 2)
    finally:
        if keep:
            kept = RESULTS / f"runs-{agents}"
            shutil.rmtree(kept, ignore_errors=True)
            # (gpg-agent's sockets under secrets/ cannot be copied, nor are they worth keeping)
            shutil.copytree(runs, kept, symlinks=True, ignore=shutil.ignore_patterns("S.gpg-agent*"))
        else:
            bigger.destroy()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="2,4,8", help="comma-separated agent counts")
    parser.add_argument("--keep", action="store_true",
                        help="keep each size's run folders (.cache/bench/runs-<agents>/) and the last cluster "
                             "(containers dcos-bench-*)")
    parser.add_argument("--floor", action="store_true",
                        help="also measure the floor: the same packages and units by a plain parallel script")
    args = parser.parse_args()
    ensure_testbed()
    rows = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    for agents in (int(a) for a in args.agents.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
            rows.append(measure(agents, Path(tmp), args.keep, args.floor))
        row = rows[-1]
        floor_note = f", floor {row['floor']['seconds']} s" if "floor" in row else ""
        print(f"{agents} agents: first {row['first_s']} s, re-run {row['second_s']} s "
              f"({row['second_ratio']:.0%}, changed={row['second_changed']}), one agent added {row['grow_s']} s "
              f"({row['grow_ratio']:.0%}; old hosts changed: {row['grow_changed_old_hosts'] or 'none'})"
              f"{floor_note}", flush=True)
        (RESULTS / "install.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "install.json").write_text(json.dumps(rows, indent=2) + "\n")
    phases = list(rows[0]["phases_s"])
    base = rows[0]
    print(f"\n{'phase':<10}" + "".join(f"{str(r['agents']) + ' agents':>11}" for r in rows) + f"{'growth':>9}")
    extra = {"precheck": "precheck_s", "total": "first_s", "re-run": "second_s", "add agent": "grow_s"}
    for phase in ["precheck", *phases, "total", "re-run", "add agent"] + (["floor"] if "floor" in base else []):
        def cell(row, phase=phase):
            if phase == "floor":
                return row["floor"]["seconds"]
            if phase in extra:
                return row[extra[phase]]
            return row["phases_s"].get(phase, 0.0)
        growth = cell(rows[-1]) / cell(base) if cell(base) else 0
        print(f"{phase:<10}" + "".join(f"{cell(r):>11.1f}" for r in rows) + f"{growth:>8.2f}x")
    print(f"\nslowest tasks of the first install, {base['agents']} agents:")
    for task in base["slowest_tasks"]:
        print(f"  {task['seconds']:>6.1f} s  {task['task']}")
    print(f"\nresults: {RESULTS / 'install.json'}")


if __name__ == "__main__":
    main()
