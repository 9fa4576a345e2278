"""Makes the repository's packages (installer, precheck) importable from tests, and prints the
times the end-to-end test measured at the end of the session (workers' output is not shown)."""

import json
from pathlib import Path

E2E_RESULTS = Path(__file__).resolve().parent / ".cache" / "test-logs" / "e2e-cluster.json"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        session.config._e2e_mtime = E2E_RESULTS.stat().st_mtime if E2E_RESULTS.exists() else None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not E2E_RESULTS.exists() or getattr(config, "_e2e_mtime", None) == E2E_RESULTS.stat().st_mtime:
        return  # not written by this session
    terminalreporter.section("end-to-end cluster: measured")
    for key, value in json.loads(E2E_RESULTS.read_text()).items():
        terminalreporter.write_line(f"{key}: {json.dumps(value)}")
