"""Maintenance primitives of the master (src/master/maintenance.cpp, the /maintenance/schedule,
/machine/down, /machine/up and /maintenance/status handlers of src/master/http.cpp), after
demo/standins/reference/mesos-1.11.0/maintenance.md. Pure helpers: the master keeps the state."""

import json
import socket

DRAINING = "DRAINING"
DOWN = "DOWN"

# Task states (mesos.proto TaskState) the master treats as terminal (protobuf::isTerminalState).
TERMINAL_STATES = (
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
)
ACTIVE_STATES = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")


class Invalid(Exception):
    """A BadRequest of the real handler; the text is the response body."""


def machine_json(machine_id):
    """stringify(JSON::protobuf(MachineID)): only the set fields, in field order, no spaces."""
    out = {}
    for name in ("hostname", "ip"):
        if machine_id.get(name):
            out[name] = machine_id[name]
    return json.dumps(out, separators=(",", ":"))


def machine_key(machine_id):
    """MachineID equality: the hostname is not case-sensitive; an omitted field is ""."""
    return (str(machine_id.get("hostname") or "").lower(), str(machine_id.get("ip") or ""))


def _valid_machine(machine_id):
    """maintenance::validation::machine."""
    if not isinstance(machine_id, dict):
        raise Invalid("Expecting a JSON object for a MachineID")
    for name in ("hostname", "ip"):
        if machine_id.get(name) is not None and not isinstance(machine_id.get(name), str):
            raise Invalid(f"Failed to convert JSON into MachineID: Field '{name}' is not a string")
    if not machine_id.get("hostname") and not machine_id.get("ip"):
        raise Invalid("Both 'hostname' and 'ip' for a machine are empty")
    if machine_id.get("ip"):
        try:
            socket.inet_pton(socket.AF_INET, machine_id["ip"])
        except OSError:
            raise Invalid(f"Failed to parse IP address '{machine_id['ip']}'") from None
    return {k: machine_id[k] for k in ("hostname", "ip") if machine_id.get(k)}


def parse_machines(body):
    """The body of /machine/down and /machine/up: a JSON array of MachineIDs, validated as
    maintenance::validation::machines does. Returns the machine ids; raises Invalid."""
    try:
        ids = json.loads(body or b"")
    except ValueError as exc:
        raise Invalid(f"Failed to parse JSON: {exc}") from None
    if not isinstance(ids, list):
        raise Invalid("Expecting a JSON array")
    return validate_machines(ids)


def validate_machines(ids):
    if len(ids) == 0:
        raise Invalid("List of machines is empty")
    return _unique_machines(ids, set())


def _unique_machines(ids, seen):
    """The valid MachineIDs of ids; one already in seen (which grows) is refused."""
    out = []
    for raw in ids:
        machine_id = _valid_machine(raw)
        key = machine_key(machine_id)
        if key in seen:
            raise Invalid(f"Machine '{machine_json(machine_id)}' appears more than once in the schedule")
        seen.add(key)
        out.append(machine_id)
    return out


def validate_schedule(schedule, machines):
    """maintenance::validation::schedule against the master's machines {key: entry}. Returns
    [(machine_id, unavailability)] in schedule order; raises Invalid."""
    windows = schedule.get("windows", [])
    if not isinstance(windows, list):
        raise Invalid("Failed to convert JSON into Schedule: Field 'windows' is not an array")
    out = []
    seen = set()
    for window in windows:
        if not isinstance(window, dict):
            raise Invalid("Failed to convert JSON into Schedule: a window is not an object")
        ids = window.get("machine_ids") or []
        if not isinstance(ids, list) or len(ids) == 0:
            raise Invalid("List of machines in the maintenance window is empty")
        unavailability = window.get("unavailability") or {}
        duration = ((unavailability.get("duration") or {}).get("nanoseconds")) or 0
        if isinstance(duration, (int, float)) and duration < 0:
            raise Invalid("Unavailability 'duration' is negative")
        out.extend((machine_id, unavailability) for machine_id in _unique_machines(ids, seen))
    for key, entry in machines.items():
        if entry["mode"] == DOWN and key not in seen:
            raise Invalid(
                f"Machine '{machine_json(entry['id'])}' is deactivated and cannot be removed from the schedule"
            )
    return out


def remove_from_schedule(schedule, keys):
    """StopMaintenance: drop the machines from every window, empty windows, an empty schedule."""
    windows = []
    for window in schedule.get("windows", []):
        ids = [m for m in window.get("machine_ids", []) if machine_key(m) not in keys]
        if ids:
            windows.append(dict(window, machine_ids=ids))
    return dict(schedule, windows=windows) if windows else {}


def cluster_status(machines):
    """mesos::maintenance::ClusterStatus as JSON::protobuf renders it: empty lists are left out."""
    status = {}
    draining = [{"id": e["id"]} for e in machines.values() if e["mode"] == DRAINING]
    down = [e["id"] for e in machines.values() if e["mode"] == DOWN]
    if draining:
        status["draining_machines"] = draining
    if down:
        status["down_machines"] = down
    return status
