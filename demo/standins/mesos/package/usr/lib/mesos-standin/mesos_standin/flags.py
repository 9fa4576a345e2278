"""stout-compatible flag loading for the Mesos 1.11.0 stand-in.

Follows demo/standins/reference/mesos-1.11.0/flags-behaviour.md: command line and MESOS_* environment,
sorted processing with the first error winning, aliases, --no-x, file:// values, the exact
error texts, validators and the /flags rendering.
"""

import os
import re

DEFAULT_FLAGS_DIR = "/usr/share/mesos/standin"

NS = {
    "ns": 1,
    "us": 1000,
    "ms": 1000**2,
    "secs": 1000**3,
    "mins": 60 * 1000**3,
    "hrs": 3600 * 1000**3,
    "days": 86400 * 1000**3,
    "weeks": 7 * 86400 * 1000**3,
}
BYTE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

# Types that cannot be read from the default in the flag lists.
EXTRA_TYPES = {
    "master": {
        "port": "port",
        "quorum": "int",
        "logbufsecs": "int",
        "offer_constraints_re2_max_program_size": "int",
        "max_agent_ping_timeouts": "size",
        "max_completed_frameworks": "size",
        "max_completed_tasks_per_framework": "size",
        "max_unreachable_tasks_per_framework": "size",
        "max_operator_event_stream_subscribers": "size",
        "registry_max_agent_count": "size",
        "max_executors_per_agent": "size",
        "allocator_agent_recovery_factor": "double",
        "offer_timeout": "duration",
        "whitelist": "path",
        "credentials": "path",
        "zk": "secure",
    },
    "agent": {
        "port": "port",
        "logbufsecs": "int",
        "max_completed_executors_per_framework": "size",
        "ephemeral_ports_per_container": "size",
        "gc_disk_headroom": "double",
        "executor_reregistration_retry_interval": "duration",
        "default_container_shm_size": "bytes",
        "egress_rate_limit_per_container": "bytes",
        "credential": "path",
        "http_credentials": "path",
        "jwt_secret_key": "path",
        "master": "secure",
    },
}
# std::string flags whose default is the empty string: listed by /flags as "".
EMPTY_DEFAULTS = {"master": set(), "agent": {"frameworks_home"}}


class FlagError(Exception):
    pass


# --- value parsing and printing (stout parse.hpp, duration.hpp, bytes.hpp) ---


def _numify_double(text):
    if not re.fullmatch(r"\d+\.?\d*|\.\d+", text):
        raise FlagError(f"Failed to convert '{text}' to number")
    return float(text)


def parse_duration(text):
    """Duration::parse: returns nanoseconds."""
    index = 0
    while index < len(text):
        if text[index] in "0123456789.":
            index += 1
            continue
        value = _numify_double(text[:index])
        unit = text[index:]
        if unit not in NS:
            raise FlagError(
                f"Unknown duration unit '{unit}'; supported units are 'ns', 'us', 'ms', 'secs', 'mins', "
                "'hrs', 'days', and 'weeks'"
            )
        return int(value * NS[unit])
    raise FlagError(f"Invalid duration '{text}'")


def _fmt_double(value):
    text = f"{value:.15g}"
    return text


def format_duration(ns):
    """operator<<(ostream, Duration): the unit below which the value falls."""
    sign = ""
    if ns < 0:
        sign, ns = "-", -ns
    order = ["ns", "us", "ms", "secs", "mins", "hrs", "days", "weeks"]
    for unit, bigger in zip(order, [*order[1:], None]):
        if bigger is None or ns < NS[bigger]:
            if unit in ("ns", "us"):
                return f"{sign}{ns // NS[unit]}{unit}"
            return f"{sign}{_fmt_double(ns / NS[unit])}{unit}"
    raise AssertionError


def parse_bytes(text):
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() and char.isascii():
            index += 1
            continue
        if char == ".":
            raise FlagError(f"Fractional bytes '{text}'")
        number = text[:index]
        if not number:
            raise FlagError(f"Failed to convert '{number}' to number")
        unit = text[index:].upper()
        if unit not in BYTE_UNITS:
            raise FlagError(f"Unknown bytes unit '{unit}'; supported units are 'B', 'KB', 'MB', 'GB', and 'TB'")
        return int(number) * BYTE_UNITS[unit]
    raise FlagError(f"Invalid bytes '{text}'")


def format_bytes(value):
    if value == 0:
        return "0B"
    for unit in ("TB", "GB", "MB", "KB"):
        if value % BYTE_UNITS[unit] == 0:
            return f"{value // BYTE_UNITS[unit]}{unit}"
    return f"{value}B"


_INT = re.compile(r"[ \t\n\v\f\r]*[+-]?\d+")
_DOUBLE = re.compile(r"[ \t\n\v\f\r]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
CONVERT = "Failed to convert into required type"


def parse_value(kind, text):
    """Returns the typed value; raises FlagError with stout's message."""
    if kind == "bool":
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise FlagError("Expecting a boolean (e.g., true or false)")
    if kind == "duration":
        return parse_duration(text)
    if kind == "bytes":
        return parse_bytes(text)
    if kind in ("int", "size", "port"):
        if not _INT.fullmatch(text):
            raise FlagError(CONVERT)
        value = int(text)
        limits = {"int": (-(2**31), 2**31 - 1), "size": (0, 2**64 - 1), "port": (0, 65535)}[kind]
        if not limits[0] <= value <= limits[1]:
            raise FlagError(CONVERT)
        return value
    if kind == "double":
        if not _DOUBLE.fullmatch(text):
            raise FlagError(CONVERT)
        return float(text)
    if kind == "path" and text.startswith("file://"):
        return text[len("file://") :]  # stout Path(): the "file://" prefix is removed
    return text


def format_value(kind, value):
    if kind == "bool":
        return "true" if value else "false"
    if kind == "duration":
        return format_duration(value)
    if kind == "bytes":
        return format_bytes(value)
    if kind == "double":
        return f"{value:g}"
    return str(value)


def _fetch(kind, text):
    """stout flags fetch.hpp: file:// values are read, except for Path flags."""
    if text.startswith("file://") and kind != "path":
        path = text[len("file://") :]
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                content = handle.read()
        except OSError as exc:
            raise FlagError(f"Error reading file '{path}': {exc.strerror}") from None
        return parse_value(kind, content)
    return parse_value(kind, text)


# --- flag definitions ---


class Flag:
    def __init__(self, name, boolean, default_text, kind):
        self.name = name
        self.boolean = boolean
        self.kind = kind
        self.alias = None
        self.default_text = default_text
        self.default = parse_value(kind, default_text) if default_text is not None else None


def flags_dir():
    return os.environ.get("STANDIN_MESOS_FLAGS_DIR") or DEFAULT_FLAGS_DIR


def _guess_kind(default):
    if default:
        try:
            parse_duration(default)
            return "duration"
        except FlagError:
            pass
        if re.fullmatch(r"\d+[KMGT]?B", default):
            return "bytes"
    return "string"


def load_definitions(role):
    """role: 'master' or 'agent'. Reads <dir>/<role>-flags.txt; sections of builds the captured
    binary was not part of ("NOT in the captured real binary") are left out."""
    path = os.path.join(flags_dir(), f"{role}-flags.txt")
    flags, aliases = {}, {}
    skip = False
    rows = []
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if line.startswith("# ---"):
                skip = "NOT in the captured" in line
                continue
            if line.startswith("# alias\t"):
                _, alias, canonical = line.split("\t")
                aliases[alias] = canonical
                continue
            if not line or line.startswith("#") or skip:
                continue
            name, kind, default = [*line.split("\t"), "", ""][:3]
            rows.append((name, kind, default))
    aliases = {a: c for a, c in aliases.items() if any(r[0] == c for r in rows)}
    for name, kind, default in rows:
        if name in aliases:
            continue
        boolean = kind == "bool"
        ftype = "bool" if boolean else EXTRA_TYPES[role].get(name) or _guess_kind(default)
        default_text = None if default == "" and name not in EMPTY_DEFAULTS[role] else default
        flags[name] = Flag(name, boolean, default_text, ftype)
    for alias, canonical in aliases.items():
        flags[canonical].alias = alias
    return flags, aliases


class Flags:
    """Loaded flags: .values[canonical] (typed), .raw[canonical] (text for secure/path flags),
    .loaded_name[canonical], .warnings."""

    def __init__(self, role, program):
        self.role = role
        self.program = program  # usage header name (basename of argv[0])
        self.defs, self.aliases = load_definitions(role)
        self.values = {n: f.default for n, f in self.defs.items() if f.default is not None}
        self.loaded_name = {}
        self.shown = {}  # canonical -> text shown by /flags when it differs from the value
        self.warnings = []

    def get(self, name, default=None):
        value = self.values.get(name)
        return default if value is None else value

    def is_set(self, name):
        return name in self.loaded_name

    # FlagsBase::load(prefix, argc, argv)
    def load(self, argv, environ):
        values = []
        for raw in argv[1:]:
            arg = raw.strip(" \t\n\r")
            if arg == "--":
                break
            if not arg.startswith("--"):
                continue
            if "=" in arg:
                name, value = arg[2:].split("=", 1)
            else:
                name, value = arg[2:], None
            values.append((name.lower(), value))
        given = {n for n, _ in values}
        for key, value in environ.items():
            if not key.startswith("MESOS_"):
                continue
            name = key[len("MESOS_") :].lower()
            known = (
                name in self.defs
                or name in self.aliases
                or (name.startswith("no-") and name[3:] in self.defs)
            )
            if known and name not in given:
                values.append((name, value))
        values.sort(key=lambda item: item[0])
        self._load(values)

    def _load(self, values):
        for name, value in values:
            negated = name.startswith("no-")
            flag_name = name[3:] if negated else name
            canonical = self.aliases.get(flag_name, flag_name)
            flag = self.defs.get(canonical)
            if flag is None:
                raise FlagError(
                    f"Failed to load unknown flag '{flag_name}'" + (f" via '{name}'" if negated else "")
                )
            if canonical in self.loaded_name:
                raise FlagError(
                    f"Flag '{flag_name}' is already loaded via name '{self.loaded_name[canonical]}'"
                )
            if not flag.boolean:
                if negated:
                    raise FlagError(f"Failed to load non-boolean flag '{flag_name}' via '{name}'")
                if value is None:
                    raise FlagError(f"Failed to load non-boolean flag '{flag_name}': Missing value")
                text = value
            elif value is None or value == "":
                text = "false" if negated else "true"
            elif not negated:
                text = value
            else:
                raise FlagError(f"Failed to load boolean flag '{flag_name}' via '{name}' with value '{value}'")
            try:
                parsed = _fetch(flag.kind, text)
            except FlagError as exc:
                raise FlagError(f"Failed to load flag '{flag_name}': Failed to load value '{text}': {exc}") from None
            self.values[canonical] = parsed
            if flag.kind == "secure":
                self.shown[canonical] = text
            self.loaded_name[canonical] = flag_name
            if flag_name != canonical:
                self.warnings.append(f"Loaded deprecated flag '{flag_name}'")
        for name in sorted(self.defs):
            if self.role == "agent" and name == "work_dir" and name not in self.loaded_name:
                raise FlagError("Flag 'work_dir' is required, but it was not provided")
            self._validate(name)

    def _validate(self, name):
        value = self.values.get(name)
        if value is None:
            return
        if name == "agent_ping_timeout" and self.role == "master":
            if not NS["secs"] <= value <= 15 * NS["mins"]:
                raise FlagError("Expected `--agent_ping_timeout` to be between 1secs and 15mins")
        elif name == "max_agent_ping_timeouts" and self.role == "master":
            if value < 1:
                raise FlagError("Expected `--max_agent_ping_timeouts` to be at least 1")
        elif name == "registry_strict" and self.role == "master" and value:
            raise FlagError(
                "Support for '--registry_strict' has been disabled and will be removed in a future version of Mesos"
            )

    # GET /flags: {name: text} for flags that have a value, aliases under the alias name.
    def rendered(self):
        out = {}
        for name, flag in self.defs.items():
            if name not in self.values or self.values[name] is None:
                continue
            shown = self.loaded_name.get(name, name)
            if name in self.shown:
                out[shown] = self.shown[name]
            else:
                out[shown] = format_value(flag.kind, self.values[name])
        return dict(sorted(out.items()))

    def command_line(self):
        return " ".join(f'--{k}="{v}"' for k, v in self.rendered().items())

    def usage(self):
        lines = [f"Usage: {self.program} [options]", ""]
        col1 = {}
        for name, flag in sorted(self.defs.items()):
            if flag.boolean:
                text = f"  --[no-]{name}"
                if flag.alias:
                    text += f", --[no-]{flag.alias}"
            else:
                text = f"  --{name}=VALUE"
                if flag.alias:
                    text += f", --{flag.alias}=VALUE"
            col1[name] = text
        width = max(len(t) for t in col1.values())
        for name, flag in sorted(self.defs.items()):
            help_text = ""
            if flag.default_text is not None:
                help_text = f"(default: {flag.default_text})"
            lines.append((col1[name] + " " * (5 + width - len(col1[name])) + help_text).rstrip())
        return "\n".join(lines) + "\n"
