"""What the end-to-end modules share: one HTTP request from this machine or from a node (the
firewall keeps the cluster's internal ports away from this machine), waiting for a condition,
HTTP Basic headers, running install.sh against a config, reading a run's summary and
searching the run records."""

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def install(config: Path, runs: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    start = time.time()
    proc = subprocess.run([str(TOP / "install.sh"), str(config), "--runs-dir", str(runs), *args],
                          capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    proc.duration = time.time() - start  # type: ignore[attr-defined]
    return proc


_HTTP_IN_NODE = r"""
import json, ssl, sys, urllib.error, urllib.request
r = json.loads(sys.stdin.read())
req = urllib.request.Request(r["url"], data=r["body"].encode() if r["body"] is not None else None,
                             method=r["method"], headers=r["headers"])
class Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
ctx = ssl.create_default_context(cafile=r["cafile"]) if r["cafile"] else None
opener = urllib.request.build_opener(Keep, urllib.request.HTTPSHandler(context=ctx))
try:
    with opener.open(req, timeout=r["timeout"]) as resp:
        status, raw, hdrs = resp.status, resp.read(), dict(resp.headers)
except urllib.error.HTTPError as exc:
    status, raw, hdrs = exc.code, exc.read(), dict(exc.headers)
except OSError as exc:
    status, raw, hdrs = -1, str(exc).encode(), {}
print(json.dumps({"status": status, "body": raw.decode(errors="replace"), "headers": hdrs}))
"""


def http(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None,
          timeout: float = 5, cafile: str | None = None, via=None, full: bool = False):
    """(status, JSON or text[, headers]) of a request from this machine, or from the node `via`
    (status -1: no connection, such as a port the firewall drops)."""
    import ssl

    headers = {"Content-Type": "application/json", **(headers or {})}
    data = json.dumps(body) if body is not None else None
    if via is not None:
        out = json.loads(via.python(_HTTP_IN_NODE, stdin=json.dumps(
            {"url": url, "method": method, "body": data, "headers": headers, "timeout": timeout, "cafile": cafile}),
            timeout=int(timeout) + 30))
        status, raw, got = out["status"], out["body"].encode(), out["headers"]
    else:
        req = urllib.request.Request(url, data=data.encode() if data else None, method=method, headers=headers)
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
                raw, status, got = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw, status, got = exc.read(), exc.code, dict(exc.headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    got = {name.lower(): value for name, value in got.items()}  # HAProxy sends them lower-case
    return (status, parsed, got) if full else (status, parsed)


def auth(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def wait(check, timeout: float, interval: float = 0.25, what: str = "") -> float:
    """Seconds until check() is true; fails after timeout."""
    start = time.time()
    last = None
    while time.time() - start < timeout:
        try:
            if check():
                return time.time() - start
        except (OSError, ValueError, KeyError, subprocess.SubprocessError, RuntimeError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what or check} not true within {timeout}s (last error: {last})")




def summary(runs: Path) -> dict:
    """summary.json of the newest run under runs/."""
    return json.loads(((runs / "latest").resolve() / "summary.json").read_text())


def changed(runs: Path) -> dict:
    """{(phase, host): changed} of the newest run, the hosts that changed only."""
    found = summary(runs)
    # The counts must be there before "nothing changed" means anything: a phase counted its
    # hosts, or the survey found every host of it converged and did not start it.
    assert found["phases"] and all(p["counts"] or p.get("converged") for p in found["phases"]), found["phases"]
    return {(p["phase"], host): c["changed"] for p in found["phases"] for host, c in p["counts"].items()
            if c["changed"]}


def run_record_leaks(runs: Path, needles: dict[str, str]) -> tuple[list, list]:
    """Every file under runs/ but the secrets store and the state: (name, file) for each needle
    found in it, and (file, mode) for each file another user may read."""
    found, modes = [], []
    for path in runs.rglob("*"):
        if path.is_symlink() or not path.is_file() or path.relative_to(runs).parts[0] in ("secrets", "state"):
            continue
        data = path.read_bytes()
        found += [(name, str(path.relative_to(runs))) for name, value in needles.items() if value.encode() in data]
        if path.stat().st_mode & 0o077:
            modes.append((str(path.relative_to(runs)), oct(path.stat().st_mode & 0o777)))
    return found, modes
