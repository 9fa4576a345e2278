"""App definitions: JSON reading (400 "Invalid JSON"), validation (422 "Object is not valid"),
RAML defaults and the AppInfo representation (api-samples.md)."""

from __future__ import annotations

import datetime
import math
import re

SEGMENT = r"(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)"
SEGMENT_RE = re.compile(f"^(?:{SEGMENT})$")
SEGMENT_ERROR = "must fully match regular expression '^" + SEGMENT.replace("\\", "\\\\") + "$'"

# Field order of raml/AppConversion appWriter (types/app.raml); fields the stand-in knows.
APP_FIELDS = (
    "id", "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd", "constraints", "container",
    "cpus", "dependencies", "disk", "env", "executor", "fetch", "healthChecks", "instances", "labels",
    "maxLaunchDelaySeconds", "mem", "gpus", "ipAddress", "networks", "portDefinitions", "readinessChecks",
    "residency", "requirePorts", "secrets", "storeUrls", "taskKillGracePeriodSeconds", "upgradeStrategy", "uris",
    "user", "version", "versionInfo", "killSelection", "unreachableStrategy", "tty", "role", "resourceLimits",
)
STRING_FIELDS = ("id", "cmd", "executor", "user", "killSelection", "role", "version")
NUMBER_FIELDS = ("cpus", "mem", "disk", "gpus", "backoffFactor", "backoffSeconds", "maxLaunchDelaySeconds",
                 "taskKillGracePeriodSeconds")
INT_FIELDS = ("instances", "gpus", "backoffSeconds", "maxLaunchDelaySeconds", "taskKillGracePeriodSeconds")
ARRAY_FIELDS = ("acceptedResourceRoles", "args", "constraints", "dependencies", "fetch", "healthChecks", "networks",
                "portDefinitions", "readinessChecks", "storeUrls", "uris", "secrets")
OBJECT_FIELDS = ("container", "env", "labels", "upgradeStrategy", "unreachableStrategy", "ipAddress", "residency",
                 "resourceLimits", "versionInfo")
BOOL_FIELDS = ("requirePorts", "tty")
KILL_SELECTIONS = ("YOUNGEST_FIRST", "OLDEST_FIRST")
COUNTS = {"tasksStaged": 0, "tasksRunning": 0, "tasksHealthy": 0, "tasksUnhealthy": 0}


class InvalidJson(Exception):
    def __init__(self, details):
        super().__init__("Invalid JSON")
        self.details = details


class NotValid(Exception):
    def __init__(self, details):
        super().__init__("Object is not valid")
        self.details = details


def now_version() -> str:
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def canonical_id(raw: str) -> str:
    parts = [p for p in raw.split("/") if p]
    return "/" + "/".join(parts)


def _num(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def read_app(body, partial: bool = False) -> dict:
    """Play-JSON-like reading: wrong JSON types -> InvalidJson with per-path errors."""
    if not isinstance(body, dict):
        raise InvalidJson([{"path": "/", "errors": ["error.expected.jsobject"]}])
    details = []

    def err(path, code):
        details.append({"path": path, "errors": [code]})

    if "id" not in body and not partial:
        err("/id", "error.path.missing")
    for name in STRING_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            err(f"/{name}", "error.expected.jsstring")
    for name in NUMBER_FIELDS:
        v = body.get(name)
        if name in body and v is not None:
            if not _is_number(v):
                err(f"/{name}", "error.expected.jsnumber")
            elif name in INT_FIELDS and isinstance(v, float) and not v.is_integer():
                err(f"/{name}", "error.expected.int")
    if "instances" in body and body["instances"] is not None:
        v = body["instances"]
        if not _is_number(v):
            err("/instances", "error.expected.jsnumber")
        elif isinstance(v, float) and not v.is_integer():
            err("/instances", "error.expected.int")
    for name in ARRAY_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], list):
            err(f"/{name}", "error.expected.jsarray")
    for name in OBJECT_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], dict):
            err(f"/{name}", "error.expected.jsobject")
    for name in BOOL_FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], bool):
            err(f"/{name}", "error.expected.jsboolean")
    if isinstance(body.get("args"), list) and not all(isinstance(a, str) for a in body["args"]):
        err("/args", "error.expected.jsstring")
    if details:
        raise InvalidJson(details)
    return {k: v for k, v in body.items() if (k in APP_FIELDS or k == "ports") and v is not None}


def validate_app(app: dict, check_run_spec: bool = True) -> None:
    """AppValidation (accord) subset -> NotValid with per-path errors."""
    details = []

    def err(path, msg):
        details.append({"path": path, "errors": [msg]})

    app_id = app.get("id")
    if app_id is not None:
        segments = [p for p in app_id.split("/") if p]
        if not segments:
            err("/id", "Path must contain at least one path element")
        for seg in segments:
            if not SEGMENT_RE.match(seg):
                err("/id", SEGMENT_ERROR)
                break
    if "instances" in app and app["instances"] < 0:
        err("/instances", f"got {_num(app['instances'])}, expected 0 or more")
    for name in ("cpus", "mem", "disk", "gpus"):
        if name in app and app[name] < 0:
            err(f"/{name}", f"got {float(app[name])}, expected 0.0 or more")
    if "backoffFactor" in app and app["backoffFactor"] < 1:
        err("/backoffFactor", f"got {float(app['backoffFactor'])}, expected 1.0 or more")
    if "backoffSeconds" in app and app["backoffSeconds"] < 0:
        err("/backoffSeconds", f"got {app['backoffSeconds']}, expected 0 or more")
    if "maxLaunchDelaySeconds" in app and app["maxLaunchDelaySeconds"] < 0:
        err("/maxLaunchDelaySeconds", f"got {app['maxLaunchDelaySeconds']}, expected 0 or more")
    strategy = app.get("upgradeStrategy") or {}
    for key in ("minimumHealthCapacity", "maximumOverCapacity"):
        v = strategy.get(key)
        if v is None:
            continue
        if not _is_number(v):
            err(f"/upgradeStrategy/{key}", "error.expected.jsnumber")
        elif v > 1:
            err(f"/upgradeStrategy/{key}", "is greater than 1")
        elif v < 0:
            err(f"/upgradeStrategy/{key}", "is less than 0")
    if "killSelection" in app and app["killSelection"] not in KILL_SELECTIONS:
        err("/killSelection", "error.unknown.enum.literal")
    if check_run_spec and not (app.get("cmd") or app.get("args") or app.get("container")):
        err("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
    if details:
        raise NotValid(details)


def with_defaults(app: dict, role: str) -> dict:
    """RAML defaults (types/app.raml); port 0 in portDefinitions is kept (assigned on deployment)."""
    out = dict(app)
    ports = out.pop("ports", None)
    out.setdefault("backoffFactor", 1.15)
    out.setdefault("backoffSeconds", 1)
    out.setdefault("cpus", 1)
    out.setdefault("disk", 0)
    out.setdefault("executor", "")
    out.setdefault("instances", 1)
    out.setdefault("labels", {})
    out.setdefault("maxLaunchDelaySeconds", 300)
    out.setdefault("mem", 128)
    out.setdefault("gpus", 0)
    out.setdefault("networks", [{"mode": "host"}])
    if "portDefinitions" not in out:
        if isinstance(ports, list):
            out["portDefinitions"] = [{"port": p, "protocol": "tcp"} for p in ports]
        else:
            out["portDefinitions"] = [{"port": 0, "name": "default", "protocol": "tcp"}]
    else:
        out["portDefinitions"] = [dict(pd, protocol=pd.get("protocol", "tcp")) if isinstance(pd, dict) else pd
                                  for pd in out["portDefinitions"]]
    out.setdefault("requirePorts", False)
    strategy = dict(out.get("upgradeStrategy") or {})
    strategy.setdefault("maximumOverCapacity", 1)
    strategy.setdefault("minimumHealthCapacity", 1)
    out["upgradeStrategy"] = {"maximumOverCapacity": _num(strategy["maximumOverCapacity"]),
                              "minimumHealthCapacity": _num(strategy["minimumHealthCapacity"])}
    out.setdefault("killSelection", "YOUNGEST_FIRST")
    unreachable = dict(out.get("unreachableStrategy") or {})
    unreachable.setdefault("inactiveAfterSeconds", 0)
    unreachable.setdefault("expungeAfterSeconds", 0)
    out["unreachableStrategy"] = unreachable
    out.setdefault("role", role)
    for name in ("cpus", "mem", "disk", "backoffFactor"):
        out[name] = _num(out[name])
    for name in ("env", "args", "constraints", "uris", "fetch", "healthChecks", "dependencies", "storeUrls",
                 "readinessChecks", "acceptedResourceRoles", "secrets"):
        if name in out and not out[name]:
            del out[name]  # omitEmpty
    return out


def assign_ports(app: dict, others: list, low: int, high: int) -> dict:
    """Service ports for port 0 from --local_port_min..--local_port_max, unique across apps."""
    used = {pd.get("port") for a in others if a["id"] != app["id"]
            for pd in a.get("portDefinitions", []) if isinstance(pd, dict)}
    out = dict(app)
    defs = []
    candidate = low
    for pd in app.get("portDefinitions", []):
        if isinstance(pd, dict) and pd.get("port") == 0:
            while candidate in used and candidate <= high:
                candidate += 1
            used.add(candidate)
            defs.append(dict(pd, port=candidate))
        else:
            defs.append(pd)
    out["portDefinitions"] = defs
    return out


def ordered(app: dict) -> dict:
    out = {k: app[k] for k in APP_FIELDS if k in app}
    out.update({k: v for k, v in app.items() if k not in out})
    return out


def app_info(app: dict, deployments: list, counts: dict | None = None, tasks: list | None = None) -> dict:
    info = ordered(app)
    info.update(counts or COUNTS)
    info["deployments"] = [{"id": d} for d in deployments]
    if tasks is not None:
        info["tasks"] = tasks
    return info
