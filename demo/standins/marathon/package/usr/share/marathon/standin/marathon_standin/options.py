"""Marathon's command line as Scallop 3.3.2 parses it (demo/standins/reference/marathon/flags.txt).

Errors end the process like ScallopConf.errorMessageHandler: "[scallop] Error: <msg>" on stderr
(the name in red when a console is attached), exit code 1.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAGS_DIR_ENV = "STANDIN_MARATHON_FLAGS_DIR"

# Options whose Scala type is Int (Integer.parseInt range, "bad Int value"). Every other option
# with a numeric default is a Long. flags.txt does not carry the Scala types; these follow
# MarathonConf & co. (counts, ports, sizes are Int; durations are Long).
INT_OPTIONS = frozenset({
    "app_info_module_execution_context_size", "default_info_service_execution_context_size",
    "deployment_manager_request_timeout", "event_stream_max_outstanding_messages",
    "group_manager_execution_context_size", "group_manager_request_timeout", "group_versions_cache_size",
    "http_max_concurrent_requests", "http_port", "https_port", "instance_tracker_num_parallel_loads",
    "instance_tracker_num_parallel_updates", "instance_tracker_update_queue_size", "kill_chunk_size",
    "killsPerBatch", "launch_queue_request_timeout", "launch_tokens", "leader_proxy_connection_timeout",
    "leader_proxy_max_open_connections", "leader_proxy_read_timeout", "local_port_max", "local_port_min",
    "max_apps", "max_concurrent_marathon_health_checks", "max_instances_per_offer", "max_parallel_offers",
    "max_parallel_status_updates", "max_queued_offers", "max_queued_root_group_updates",
    "max_queued_status_updates", "max_running_deployments", "mesos_heartbeat_failure_threshold",
    "metrics_datadog_port", "metrics_histogram_reservoir_resetting_chunks",
    "metrics_histogram_reservoir_significant_digits", "metrics_statsd_port",
    "scheduler_actions_execution_context_size", "storage_compaction_scan_batch_size",
    "storage_execution_context_size", "task_operation_notification_timeout", "task_tracker_request_timeout",
    "task_update_request_timeout", "zk_max_concurrency", "zk_max_node_size", "zk_max_versions",
    "zk_operation_base_retry_sleep_ms", "zk_operation_max_retries",
})
URL_OPTIONS = frozenset({"master", "zk"})  # MarathonConf/ZookeeperConf converters ("Expected exactly one url")

ZK_URL_RE = re.compile(
    r"^zk://(?:(?P<user>[^:@/,]+):(?P<password>[^@/,]+)@)?"
    r"(?P<hosts>[^:@/,]+(?::\d+)?(?:,[^:@/,]+(?::\d+)?)*)"
    r"(?P<path>(?:/[^/]+)+)$")
ZK_URL_ERROR = ("{url} is not a valid zk url; it should formatted like "
                "zk://user:pass@host1:port1,host2:port2/path, or zk://host1:port1,host2:port2/marathon")

FEATURES = ("vips", "task_killing", "external_volumes", "secrets", "gpu_resources", "maintenance_mode")
ENUMS = {  # name -> (allowed values, case-insensitive?)
    "new_group_enforce_role": (("Off", "Top"), True),
    "accepted_resource_roles_default_behavior": (("Any", "Unreserved", "Reserved"), True),
    "gpu_scheduling_behavior": (("restricted", "unrestricted"), False),
}

INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)
LONG_RANGE = (-(2 ** 63), 2 ** 63 - 1)
DIGITS = re.compile(r"^[+-]?[0-9]+$")


class ScallopError(Exception):
    """A command-line error Scallop reports as "[scallop] Error: <msg>"."""


class JvmError(Exception):
    """An exception the JVM would print as uncaught (a validator that throws)."""


class HelpRequested(Exception):
    pass


@dataclass
class Spec:
    name: str
    kind: str  # value | toggle | flag
    default: str
    hidden: bool


@dataclass
class ZkUrl:
    raw: str
    user: str | None
    password: str | None
    hosts: str
    path: str

    @classmethod
    def parse(cls, url: str) -> ZkUrl | None:
        m = ZK_URL_RE.match(url)
        if not m:
            return None
        return cls(url, m.group("user"), m.group("password"), m.group("hosts"), m.group("path"))

    @property
    def redacted(self) -> str:
        creds = "xxxxxxxx:xxxxxxxx@" if self.user is not None else ""
        return f"zk://{creds}{self.hosts}{self.path}"

    @property
    def auth(self) -> str | None:
        return f"{self.user}:{self.password}" if self.user is not None else None


@dataclass
class Options:
    values: dict
    supplied: set = field(default_factory=set)
    specs: dict = field(default_factory=dict)

    def __getitem__(self, name):
        return self.values[name]

    def get(self, name, default=None):
        return self.values.get(name, default)


def flags_file() -> Path:
    folder = os.environ.get(FLAGS_DIR_ENV)
    return Path(folder) / "flags.txt" if folder else HERE.parent / "flags.txt"


def load_specs(path: Path | None = None) -> list[Spec]:
    specs: list[Spec] = []
    hidden = False
    for line in (path or flags_file()).read_text().splitlines():
        if line.startswith("#"):
            if "hidden options" in line:
                hidden = True
            continue
        if not line.strip():
            continue
        parts = line.split("\t")
        name, kind = parts[0], parts[1]
        default = parts[2] if len(parts) > 2 else ""
        specs.append(Spec(name, kind, default, hidden))
    return specs


def env_to_args(environ) -> list[str]:
    """Main.envToArgs: MARATHON_<X>=v -> --<x> v (empty v -> --<x>), MARATHON_APP_* skipped."""
    args: list[str] = []
    for key in sorted(environ):
        if not key.startswith("MARATHON_") or key.startswith("MARATHON_APP_"):
            continue
        args.append("--" + key[len("MARATHON_"):].lower())
        if environ[key] != "":
            args.append(environ[key])
    return args


def _is_option_name(arg: str) -> bool:
    if arg.startswith("-"):
        return not (len(arg) > 1 and arg[1].isdigit())
    return False


def _lookup(specs: dict, name: str):
    spec = specs.get(name)
    if spec is not None:
        return spec
    if name.startswith("disable_"):
        spec = specs.get(name[len("disable_"):])
        if spec is not None and spec.kind == "toggle":
            return spec
    raise ScallopError(f"Unknown option '{name}'")


def _group(args: list[str], specs: dict) -> dict:
    """Splits the arguments into option invocations: {name: [(invocation, [args])]}."""
    grouped: dict = {}
    expanded = list(args)
    pos = 0
    while pos < len(expanded):
        tok = expanded[pos]
        if tok == "--":
            rest = expanded[pos + 1:]
            if rest:
                raise ScallopError("Excess arguments provided: '{}'".format(" ".join(rest)))
            break
        if not _is_option_name(tok):
            end = pos
            while end < len(expanded) and not _is_option_name(expanded[end]):
                end += 1
            raise ScallopError("Excess arguments provided: '{}'".format(" ".join(expanded[pos:end])))
        inline = []
        if tok.startswith("--") and "=" in tok:  # --name=value: the value belongs to the option
            tok, value = tok.split("=", 1)
            inline = [value]
        invocation = tok[2:] if tok.startswith("--") else tok[1:]
        if tok == "--help":
            spec = Spec("help", "flag", "", True)
        elif tok.startswith("--"):
            spec = _lookup(specs, invocation)
        else:
            raise ScallopError(f"Unknown option '{invocation}'")
        end = pos + 1
        while end < len(expanded) and not _is_option_name(expanded[end]):
            end += 1
        following = inline + expanded[pos + 1:end]
        if end == len(expanded):  # last option: the rest are trailing arguments
            take = max(len(inline), 1 if spec.kind == "value" else 0)
            excess = following[take:]
            following = following[:take]
            if excess:
                raise ScallopError("Excess arguments provided: '{}'".format(" ".join(excess)))
        grouped.setdefault(spec.name, []).append((invocation, following))
        pos = end
    return grouped


def _convert_number(spec: Spec, text: str):
    kind, (low, high) = ("Int", INT_RANGE) if spec.name in INT_OPTIONS else ("Long", LONG_RANGE)
    if not DIGITS.match(text) or not low <= int(text) <= high:
        raise ValueError(f"bad {kind} value")
    return int(text)


def _is_numeric(spec: Spec) -> bool:
    return spec.name in INT_OPTIONS or bool(DIGITS.match(spec.default)) or spec.default in (
        "<nproc>", "min(8,<nproc>)")


def _convert(spec: Spec, invocations: list):
    """The option's converter: value or ScallopError (WrongOptionFormat)."""
    args = [a for _, lst in invocations for a in lst]

    def wrong(reason):
        return ScallopError("Bad arguments for option '{}': '{}' - {}".format(spec.name, " ".join(args), reason))

    if spec.kind == "flag":
        if len(invocations) == 1 and not invocations[0][1]:
            return True
        raise wrong("too many arguments for flag option")
    if spec.kind == "toggle":
        if len(invocations) == 1 and not invocations[0][1]:
            return invocations[0][0] == spec.name
        raise wrong("wrong arguments format")
    if len(invocations) != 1 or len(invocations[0][1]) != 1:
        raise wrong("Expected exactly one url" if spec.name in URL_OPTIONS
                    else "you should provide exactly one argument for this option")
    value = invocations[0][1][0]
    if spec.name == "zk" or (spec.name == "master" and value.startswith("zk://")):
        parsed = ZkUrl.parse(value)
        if parsed is None:
            raise wrong(ZK_URL_ERROR.format(url=value))
        return value
    if _is_numeric(spec):
        try:
            return _convert_number(spec, value)
        except ValueError as e:
            raise wrong(str(e)) from None
    return value


def _default(spec: Spec, environ):
    d = spec.default
    nproc = os.cpu_count() or 1
    if spec.kind in ("toggle", "flag"):
        return d == "true"
    if d.startswith("$"):
        return environ.get(d[1:]) or None
    if d == "<InetAddress.getLocalHost.getHostName>":
        return socket.gethostname()
    if d == "<java user.name>":
        try:
            return pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            return "?"
    if d == "<nproc>":
        return nproc
    if d == "min(8,<nproc>)":
        return min(8, nproc)
    if d == "":
        return None
    if _is_numeric(spec):
        return int(d)
    return d


def _validate(name: str, value, values: dict):
    if name in ENUMS and value is not None:
        allowed, insensitive = ENUMS[name]
        for choice in allowed:
            if value == choice or (insensitive and value.lower() == choice.lower()):
                return choice
        raise ScallopError(f"Validation failure for '{name}' option parameters: {value}")
    if name == "default_accepted_resource_roles" and value is not None:
        raise JvmError("java.lang.IllegalArgumentException: The flag '--default_accepted_resource_roles' has been "
                       "removed in Marathon 1.10.0; use --accepted_resource_roles_default_behavior, instead.")
    if name == "enable_features" and value is not None:
        unknown = [f for f in split_list(value) if f not in FEATURES]
        if unknown:
            raise JvmError("java.lang.IllegalArgumentException: requirement failed: Unknown features specified: "
                           "{}. Available features are: {}".format(", ".join(unknown), ", ".join(FEATURES)))
    return value


def split_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def parse(argv: list[str], environ=None, specs_list: list[Spec] | None = None) -> Options:
    environ = os.environ if environ is None else environ
    specs_list = specs_list if specs_list is not None else load_specs()
    specs = {s.name: s for s in specs_list}
    args = env_to_args(environ) + list(argv)
    if args and args[0] == "--help":
        raise HelpRequested
    grouped = _group(args, specs)
    values: dict = {}
    supplied: set = set()
    for spec in specs_list:
        if spec.name in grouped:
            values[spec.name] = _convert(spec, grouped[spec.name])
            supplied.add(spec.name)
        else:
            values[spec.name] = _default(spec, environ)
    if "master" not in supplied:
        raise ScallopError("Required option 'master' not found")
    for spec in specs_list:
        values[spec.name] = _validate(spec.name, values[spec.name], values)
    _check_dependencies(supplied)
    return Options(values, supplied, specs)


def _check_dependencies(supplied: set) -> None:
    """MarathonConf: dependsOnAll(mesosAuthentication, List(mesosAuthenticationPrincipal)) and
    mutuallyExclusive(mesosAuthenticationSecret, mesosAuthenticationSecretFile), with Scallop's texts."""
    if "mesos_authentication" in supplied and "mesos_authentication_principal" not in supplied:
        raise ScallopError("When specifying 'mesos_authentication', all of the following options must also be "
                           "provided: mesos_authentication_principal")
    if {"mesos_authentication_secret", "mesos_authentication_secret_file"} <= supplied:
        raise ScallopError("There should be only one or zero of the following options: "
                           "mesos_authentication_secret, mesos_authentication_secret_file")


def help_text(specs_list: list[Spec]) -> str:
    lines = ["Usage: marathon [options]", "", "TEST STAND-IN for Marathon 1.10.26 (not the real Marathon)", ""]
    for spec in sorted((s for s in specs_list if not s.hidden), key=lambda s: s.name.lower()):
        if spec.kind == "toggle":
            lines.append(f"      --{spec.name}")
            lines.append(f"      --disable_{spec.name}    (default = {spec.default})")
        elif spec.kind == "flag":
            lines.append(f"      --{spec.name}")
        else:
            default = f"  (default = {spec.default})" if spec.default else ""
            lines.append(f"      --{spec.name}  <arg>{default}")
    lines.append("  -h, --help   Show help message")
    return "\n".join(lines)


def report_error(message: str) -> None:
    console = sys.stdin.isatty() and sys.stdout.isatty() and sys.stderr.isatty()
    name = "\x1b[31mscallop\x1b[0m" if console else "scallop"
    sys.stderr.write(f"[{name}] Error: {message}\n")
    sys.stderr.flush()


def parse_or_exit(argv: list[str]) -> Options:
    specs_list = load_specs()
    try:
        return parse(argv, specs_list=specs_list)
    except HelpRequested:
        sys.stdout.write(help_text(specs_list) + "\n")
        sys.stdout.flush()
        sys.exit(0)
    except ScallopError as e:
        report_error(str(e))
        sys.exit(1)
    except JvmError as e:
        sys.stderr.write(f'Exception in thread "main" {e}\n')
        sys.stderr.flush()
        sys.exit(1)
