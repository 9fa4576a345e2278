"""Benchmark: the precheck against 2, 6 and 12 test-bed containers. Prints wall time and time
per host, writes bench/results/precheck_scale.json. Numbers, not a pass/fail test.
Target: 12 hosts under 20 s on a 2-core machine, time per host falling as hosts are added.

    .venv/bin/python -m bench.precheck_scale [--sizes 2,6,12]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from installer.runner import Run, RunOptions
from tests.integration import nodes

NETWORK, SUBNET, PREFIX = "dcos-bench-precheck", "172.29.90.0/24", "172.29.90."
RESULTS = Path(__file__).resolve().parent / "results"


def config_for(size: int, names: list[str]) -> str:
    masters = 1 if size < 6 else 3
    lines = ["[cluster]", "name = bench", "ssh_user = dcos", "ssh_key_file = id_ed25519", "",
             "[installer]", f"{names[0]} = {PREFIX}{10}", "", "[masters]"]
    lines += [f"{names[i]} = {PREFIX}{10 + i}" for i in range(1, 1 + masters)]
    lines += ["", "[agents]"]
    lines += [f"{names[i]} = {PREFIX}{10 + i}" for i in range(1 + masters, size)] or [names[1]]
    return "\n".join(lines) + "\n"


def measure(size: int, folder: Path, key: Path) -> dict:
    names = [f"bench-pc-{i}" for i in range(size)]
    nodes.start({name: f"{PREFIX}{10 + i}" for i, name in enumerate(names)}, NETWORK, SUBNET, key)
    try:
        config = folder / f"config-{size}.cfg"
        config.write_text(config_for(size, names))
        started = time.time()
        run = Run.start(config, RunOptions(precheck_only=True, runs_dir=folder / "runs"))
        gather = None
        for ev in run.events(timeout=600):
            if ev["type"] == "precheck_end":
                gather = ev["duration"]
        wall = time.time() - started
        return {"hosts": size, "wall_s": round(wall, 2), "precheck_s": gather,
                "per_host_s": round(wall / size, 2), "exit_code": run.wait()}
    finally:
        nodes.remove(names, NETWORK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2,6,12")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-precheck-") as tmp:
        folder = Path(tmp)
        key = nodes.ssh_keypair(folder)
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, folder, key))
            print(f"{rows[-1]['hosts']:>3} hosts: {rows[-1]['wall_s']:6.2f} s wall "
                  f"({rows[-1]['precheck_s']} s gather+evaluate), {rows[-1]['per_host_s']:.2f} s/host", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "precheck_scale.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n{'hosts':>5} {'wall s':>8} {'s/host':>8}")
    for row in rows:
        print(f"{row['hosts']:>5} {row['wall_s']:>8.2f} {row['per_host_s']:>8.2f}")


if __name__ == "__main__":
    main()
