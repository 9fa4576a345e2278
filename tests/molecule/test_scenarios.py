"""Every molecule scenario under molecule/: create, converge, idempotence (changed=0),
verify (testinfra), destroy. One pytest test per scenario; the full log of each is kept
under .cache/test-logs/."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
LOGS = TOP / ".cache" / "test-logs"
SCENARIOS = sorted(p.parent.name for p in (TOP / "molecule").glob("*/molecule.yml"))

pytestmark = pytest.mark.molecule


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"molecule-{scenario}.log"
    env = dict(os.environ, NO_COLOR="1", PY_COLORS="0", ANSIBLE_FORCE_COLOR="0")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    with log.open("w") as out:
        proc = subprocess.run(
            ["molecule", "test", "-s", scenario],
            cwd=TOP, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
        )
    text = log.read_text()
    assert proc.returncode == 0, f"molecule test -s {scenario} failed (log: {log}):\n{text[-6000:]}"
    # Idempotence is part of the sequence; make sure it really ran and passed.
    assert f"[{scenario} > idempotence] Executed: Successful" in text, text[-3000:]
    assert f"[{scenario} > verify] Executed: Successful" in text, text[-3000:]
