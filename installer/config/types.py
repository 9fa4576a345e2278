"""Value types of config.cfg keys. Each parser raises ValueError with the operator's words:
what was expected. INI values are strings; these turn them into typed values."""

import ipaddress
import posixpath
import re
import zoneinfo
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr, ValidationInfo

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def int_in(low: int, high: int, what: str = "an integer"):
    def parse(value: Any) -> int:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"expected {what} from {low} to {high}")
        number = int(text)
        if not low <= number <= high:
            raise ValueError(f"expected {what} from {low} to {high}")
        return number

    return parse


def is_ipv6(text: str) -> bool:
    """An IPv6 address as operators write them: 2001:db8::5, [2001:db8::5], fe80::1%eth0, with or
    without a /prefix. The cluster is IPv4 only: every parser says so in words."""
    text = str(text).strip().strip("[]")
    address = text.split("/", 1)[0].split("%", 1)[0].strip("[]")
    if ":" not in address:
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


IPV6_REFUSED = "IPv6 is not supported: give an IPv4 address such as 10.0.0.11"


def refuse_ipv6(text: str) -> None:
    if is_ipv6(text):
        raise ValueError(IPV6_REFUSED)


def parse_ipv4(value: Any) -> ipaddress.IPv4Address:
    text = str(value).strip()
    refuse_ipv6(text)
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError("expected an IPv4 address such as 10.0.0.11") from None
    if address.is_unspecified or address.is_multicast or address.is_loopback or text.endswith(".255"):
        raise ValueError("expected a host address (not 0.0.0.0, loopback, multicast or broadcast)")
    return address


def parse_vip(value: Any) -> ipaddress.IPv4Interface:
    """An address, with its network prefix when known: 10.0.0.100 or 10.0.0.100/24."""
    text = str(value).strip()
    address, _, prefix = text.partition("/")
    parse_ipv4(address)
    if prefix and (not re.fullmatch(r"\d{1,2}", prefix) or not 8 <= int(prefix) <= 32):
        raise ValueError("expected an IPv4 address with an optional prefix length 8-32, such as 10.0.0.100/24")
    return ipaddress.IPv4Interface(text if prefix else f"{address}/32")


def is_hostname(text: str) -> bool:
    """RFC 1123: dot-separated labels of a-z, 0-9 and '-', not starting or ending with '-',
    at most 253 characters, not all-numeric (that would read as an address)."""
    if not text or len(text) > 253 or re.fullmatch(r"[0-9.]+", text):
        return False
    return all(_LABEL.match(label) for label in text.split("."))


def parse_hostname(value: Any) -> str:
    text = str(value).strip().lower()
    refuse_ipv6(text)
    if not is_hostname(text):
        raise ValueError("expected a hostname (RFC 1123: letters, digits and '-', labels of 1-63 characters)")
    return text


def parse_optional_domain(value: Any) -> str:
    text = str(value or "").strip().lower()
    return parse_hostname(text) if text else ""


def parse_optional_hostname(value: Any) -> str:
    """A host name (RFC 1123) or empty; an address is not a name (empty means: the host's IP)."""
    text = str(value or "").strip().lower()
    if not text:
        return ""
    refuse_ipv6(text)
    if re.fullmatch(r"[0-9.]+", text):
        raise ValueError("expected a host name, not an address (leave it empty to use the host's IP)")
    return parse_hostname(text)


def parse_name(value: Any) -> str:
    text = str(value).strip().lower()
    if not _LABEL.match(text):
        raise ValueError("expected a name of letters, digits and '-' (1-63 characters, no '-' at either end)")
    return text


def parse_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return value
    return [item.strip() for item in re.split(r"[,\s]+", str(value or "")) if item.strip()]


_JINJA = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")


def refuse_template_markers(text: str) -> str:
    """Paths on the controller reach Ansible's file lookups, which evaluate Jinja in them: a
    path may not hold {{, {%, {# (nor their closing pairs)."""
    if _JINJA.search(text):
        raise ValueError("holds a Jinja template marker ({{, {% or {#): not allowed in a file path")
    return text


def parse_path(value: Any, info: ValidationInfo) -> Path:
    """A path; relative ones are taken from the config file's folder, not the working directory."""
    text = str(value).strip()
    if not text:
        raise ValueError("expected a path")
    refuse_template_markers(text)
    path = Path(text).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


def parse_optional_path(value: Any, info: ValidationInfo) -> Path | None:
    if value is None or not str(value).strip():
        return None
    return parse_path(value, info)


# Folders a component may not take as its own: the system's. Everything under the first
# group belongs to the kernel or the boot and package system.
SYSTEM_FOLDERS = frozenset(("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin",
                            "/sys", "/usr", "/var", "/var/lib", "/var/log", "/tmp", "/home", "/opt"))
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/boot", "/etc")
_REMOTE_PATH_CHARS = re.compile(r"^[A-Za-z0-9._+@/-]+$")


def _shown_chars(chars: set[str]) -> str:
    return ", ".join(repr(c) if c.isprintable() and c != " " else ("a blank" if c == " " else repr(c))
                     for c in sorted(chars))


def parse_absolute_remote_path(value: Any) -> str:
    """A folder on the cluster hosts that a component makes its own (and an uninstall removes):
    absolute, normalised, of plain characters (it lands in unit files, shell commands and
    configs), not / nor a system folder, nor inside /proc, /sys, /dev, /boot or /etc."""
    text = str(value).strip()
    if not text.startswith("/"):
        raise ValueError("expected an absolute path on the hosts, such as /var/lib/mesos")
    bad = {c for c in text if not _REMOTE_PATH_CHARS.match(c)}
    if bad:
        raise ValueError(f"holds {_shown_chars(bad)}: a folder on the hosts may hold only letters, digits and "
                         ". _ - + @ / (no blanks, quotes or shell characters)")
    if len(text) > 4095 or any(len(part) > 255 for part in text.split("/")):
        raise ValueError("is too long for a path (4095 characters, 255 per folder name)")
    stripped = text.rstrip("/") or "/"
    parts = stripped.split("/")[1:]
    if "//" in stripped or any(part in (".", "..") for part in parts):
        normal = posixpath.normpath(stripped)
        raise ValueError(f"expected a normalised path (no '.', '..' or '//'): write {normal}"
                         if ".." not in parts else "expected a normalised path: '..' is not allowed")
    if stripped == "/":
        raise ValueError("/ is the root folder, a system folder: give a folder of its own, such as "
                         "/var/lib/<component>")
    if stripped in SYSTEM_FOLDERS:
        inside = "/opt/<component>" if stripped == "/opt" else "/var/lib/<component>"
        raise ValueError(f"{stripped} is a system folder: give a folder of its own, such as {inside}")
    for tree in SYSTEM_TREES:
        if PurePosixPath(stripped).is_relative_to(tree):
            raise ValueError(f"is inside {tree}, a system folder: give a folder of its own, such as "
                             "/var/lib/<component>")
    return stripped


def parse_ssh_user(value: Any) -> str:
    """The login user over SSH: a POSIX user name (what useradd accepts on Debian and EL)."""
    text = str(value or "").strip()
    if not text:
        raise ValueError("expected a user name, such as root or ops")
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", text):
        raise ValueError("expected a POSIX user name: lowercase letters, digits, '_' and '-', starting with a "
                         "letter or '_', at most 32 characters")
    return text


_INTERPRETER = re.compile(r"^/[A-Za-z0-9._+/-]+$")


def parse_interpreter(value: Any) -> str:
    """auto, or the absolute path of Python on the hosts (it lands in the inventory and in the
    command line Ansible runs)."""
    text = str(value or "").strip()
    if text == "auto":
        return text
    if not text.startswith("/"):
        raise ValueError("expected auto, or an absolute path such as /usr/bin/python3")
    if not _INTERPRETER.match(text) or "//" in text or "/../" in f"{text}/" or "/./" in f"{text}/":
        raise ValueError("expected auto, or an absolute path of letters, digits and . _ - + / such as "
                         "/usr/bin/python3 (no blanks, quotes or shell characters)")
    return text


# Used only where the IANA database is missing (no /usr/share/zoneinfo and no tzdata package):
# then a name is checked for its shape, Area/Location, and the hosts' timedatectl judges it.
_TZ_SHAPE = re.compile(r"^(UTC|GMT|[A-Z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){1,2})$")


@cache
def _timezones() -> frozenset[str]:
    try:
        return frozenset(zoneinfo.available_timezones())
    except Exception:  # any failure: treat as the fallback
        return frozenset()


def parse_timezone(value: Any) -> str:
    """Empty, or a timezone of the IANA database, such as UTC or Europe/Berlin."""
    text = str(value or "").strip()
    if not text:
        return ""
    known = _timezones()
    if known:
        if text in known:
            return text
        import difflib

        folded = {name.lower(): name for name in known}
        guess = folded.get(text.lower()) or next(iter(difflib.get_close_matches(text, sorted(known), n=1)), None)
        raise ValueError("expected a timezone of the IANA database, such as UTC or Europe/Berlin"
                         + (f" (did you mean {guess}?)" if guess else "") + "; empty: leave it")
    if not _TZ_SHAPE.match(text) or ".." in text or len(text) > 64:
        raise ValueError("expected a timezone such as UTC or Europe/Berlin; empty: leave it")
    return text


_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")


def parse_version(value: Any) -> str:
    """Empty, or a package version as Debian and RPM write it: 1.11.0-2.0.1, 2:1.4.2~rc1."""
    text = str(value or "").strip()
    if not text:
        return ""
    if len(text) > 64 or not _VERSION.match(text):
        raise ValueError("expected a package version such as 1.11.0-2.0.1 (starting with a digit; letters, "
                         "digits and . + ~ : -; at most 64 characters); empty: the one in the bundle")
    return text


def parse_ntp_servers(value: Any) -> list[str]:
    """NTP servers, comma-separated: host names (RFC 1123) or IPv4 addresses."""
    out = []
    for item in parse_list(value):
        if is_ipv6(item):
            raise ValueError(f"IPv6 is not supported (got '{item[:60]}'): give host names or IPv4 addresses")
        if re.fullmatch(r"[0-9.]+", item):
            try:
                address = ipaddress.IPv4Address(item)
            except ValueError:
                raise ValueError(f"expected an IPv4 address such as 192.0.2.1 (got '{item[:60]}')") from None
            if address.is_unspecified or address.is_multicast or item.endswith(".255"):
                raise ValueError(f"expected a server's address (not 0.0.0.0, multicast or broadcast), got '{item}'")
            out.append(item)
        elif is_hostname(item.lower()):
            out.append(item.lower())
        else:
            raise ValueError(f"expected NTP servers as host names (RFC 1123) or IPv4 addresses, comma-separated, "
                             f"such as 0.pool.ntp.org, 192.0.2.1 (got '{item[:60]}')")
    return out


_INTERFACE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")


def parse_interface(value: Any) -> str:
    """Empty, or a Linux network interface name (at most 15 characters, no '/' or blanks)."""
    text = str(value or "").strip()
    if not text:
        return ""
    refuse_ipv6(text)
    if text in (".", "..") or not _INTERFACE.match(text):
        raise ValueError("expected a network interface name such as eth0 or ens192 (letters, digits and . _ - : @, "
                         "at most 15 characters); empty: the one holding the host's IP")
    return text


_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$")


def parse_image(value: Any) -> str:
    """Empty, or a Docker image of the private registry: name[:tag], such as cadvisor/cadvisor:v0.38.7."""
    text = str(value or "").strip()
    if not text:
        return ""
    if len(text) > 255 or not _IMAGE.match(text) or "//" in text or text.endswith("/"):
        raise ValueError("expected an image name such as cadvisor/cadvisor:v0.38.7 (lowercase name, optional "
                         ":tag, no registry address); empty: the package")
    return text


_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ns|us|ms|secs|mins|hrs|days|weeks)$")
# Mesos' grammar: text values of [a-zA-Z0-9_/.-], scalars, ranges [a-b, c-d] and sets {a,b}.
_PAIR = re.compile(r"^[A-Za-z0-9_.\-/]+:([A-Za-z0-9_./-]+|\[[0-9, \-]+\]|\{[A-Za-z0-9_./, -]*\})$")
_RESOURCE = re.compile(r"^[A-Za-z0-9_.\-/()*]+:(\[[0-9, \-]+\]|\{[A-Za-z0-9_./, -]*\}|[0-9.]+)$")


def parse_duration(value: Any) -> str:
    """A Mesos duration: a number and a unit, such as 5mins or 1.5hrs (Mesos refuses '300')."""
    text = str(value).strip()
    match = _DURATION.match(text)
    if not match:
        raise ValueError("expected a Mesos duration such as 5mins, 90secs or 1hrs "
                         "(units: ns, us, ms, secs, mins, hrs, days, weeks)")
    if float(text[: match.start(2)]) == 0:
        raise ValueError("must be longer than 0, such as 5mins")
    return text


def parse_attributes(value: Any) -> str:
    """Mesos agent attributes: name:value pairs separated by ';', such as rack:r1;zone:a."""
    text = str(value or "").strip()
    if text and not all(_PAIR.match(part) for part in text.split(";")):
        raise ValueError("expected name:value pairs separated by ';', such as rack:r1;zone:a")
    return text


def parse_resources(value: Any) -> str:
    """Mesos agent resources: cpus:4;mem:8192;ports:[31000-32000]; empty: detected by Mesos."""
    text = str(value or "").strip()
    if text and not all(_RESOURCE.match(part.strip()) for part in text.split(";")):
        raise ValueError("expected name:value pairs separated by ';', such as cpus:4;mem:8192;ports:[31000-32000]")
    return text


def parse_containerizers(value: Any) -> list[str]:
    items = parse_list(value)
    if not items or any(item not in ("docker", "mesos") for item in items) or len(set(items)) != len(items):
        raise ValueError("expected docker, mesos or both, comma-separated")
    return items


# The check path lands in haproxy.cfg (option httpchk GET <path>): plain URL characters only.
_FRONTEND = re.compile(r"^(?P<name>[a-z][a-z0-9-]{0,62}):(?P<port>[0-9]{1,5}):(?P<service>[a-z0-9][a-z0-9-]{0,62})"
                       r"(:(?P<check>tcp|/[A-Za-z0-9._~/%?=&+-]*))?$")


def parse_frontends(value: Any) -> list[dict[str, Any]]:
    """More HAProxy frontends: name:port:service[:check], check a path (HTTP) or tcp (default)."""
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    out = []
    for item in parse_list(value):
        match = _FRONTEND.match(item)
        if not match or not 1 <= int(match["port"]) <= 65535:
            raise ValueError(f"expected name:port:service[:/check-path|tcp], such as grafana:3000:grafana:/api/health"
                             f" (got '{item}')")
        if any(fe["name"] == match["name"] for fe in out):
            raise ValueError(f"frontend {match['name']!r} is given twice: each needs its own name")
        out.append({"name": match["name"], "port": int(match["port"]), "service": match["service"],
                    "check": match["check"] or "tcp"})
    return out


_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")


def parse_user(value: Any) -> str:
    """A user name of HTTP basic auth, htpasswd or ZooKeeper digest: letters, digits, '_', '.',
    '@', '-'; never empty (the control plane always authenticates)."""
    text = str(value or "").strip()
    if not text:
        raise ValueError("expected a user name (authentication is always on)")
    if not _USER.match(text):
        raise ValueError("expected a user name of letters, digits, '_', '.', '@' and '-' (1-64 characters, "
                         "no ':' or blanks)")
    return text


def parse_networks(value: Any) -> list[str]:
    """IPv4 networks in CIDR form, comma-separated: 10.0.0.0/24, 192.168.5.7 (a /32)."""
    out = []
    for item in parse_list(value):
        if ":" in item:
            raise ValueError(f"IPv6 is not supported (got '{item[:60]}'): give IPv4 networks such as 10.0.0.0/24")
        try:
            network = ipaddress.IPv4Network(item, strict=False)
        except ValueError:
            raise ValueError(f"expected IPv4 networks in CIDR form such as 10.0.0.0/24, comma-separated "
                             f"(got '{item[:60]}')") from None
        out.append(str(network))
    return out


def parse_file_or_generate(value: Any) -> str:
    """A certificate or key file on this machine, or 'generate'."""
    text = str(value or "").strip()
    if not text:
        raise ValueError("expected a file, or 'generate'")
    if text.lower() == "generate":
        return "generate"
    return refuse_template_markers(text)


def choice(*allowed: str):
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"expected one of: {', '.join(allowed)}")
        return text

    return parse


PASSWORD_CHARS = "._+=~^*?!-"
_PASSWORD = re.compile(r"^[A-Za-z0-9._+=~^*?!-]+$")
PASSWORD_RULE = f"letters, digits and {' '.join(PASSWORD_CHARS)}"


def password(low: int, high: int, note: str = ""):
    """A password the operator gives, or empty (generated once). It lands in systemd environment
    files, curl configs, haproxy.cfg, keepalived.conf, my.cnf, zk://user:password@ URLs and
    HTTP Basic headers: only characters none of them quotes or splits. Never echoed: the
    messages say what is wrong, never which character or how long."""

    def parse(value: Any) -> SecretStr | None:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        rule = (f"allowed: {low} to {high} characters, only {PASSWORD_RULE}{note}; "
                "empty: one is generated")
        if not _PASSWORD.match(text):
            raise ValueError(f"holds a character that is not allowed (a blank, a quote, '$', '#', '%', ':', ...); "
                             f"{rule}")
        if len(text) < low:
            raise ValueError(f"too short: at least {low} characters; {rule}")
        if len(text) > high:
            raise ValueError(f"too long: at most {high} characters; {rule}")
        return SecretStr(text)

    return parse


def parse_secret(value: Any) -> SecretStr | None:
    """A secret; empty means: generate one on the first run and keep it."""
    text = "" if value is None else str(value)
    if not text.strip():
        return None
    if any(ch in text for ch in "\n\r\x00"):
        raise ValueError("expected a single line")
    return SecretStr(text)


Bool = Annotated[bool, BeforeValidator(parse_bool)]
Port = Annotated[int, BeforeValidator(int_in(1, 65535, "a port number"))]
IPv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(parse_ipv4)]
Vip = Annotated[ipaddress.IPv4Interface, BeforeValidator(parse_vip)]
Hostname = Annotated[str, BeforeValidator(parse_hostname)]
Domain = Annotated[str, BeforeValidator(parse_optional_domain)]
Name = Annotated[str, BeforeValidator(parse_name)]
StrList = Annotated[list[str], BeforeValidator(parse_list)]
LocalPath = Annotated[Path, BeforeValidator(parse_path)]
OptionalLocalPath = Annotated[Path | None, BeforeValidator(parse_optional_path)]
RemotePath = Annotated[str, BeforeValidator(parse_absolute_remote_path)]
# Every secret is typed SecretStr | None (installer.config.redact finds them by that type).
Secret = Annotated[SecretStr | None, BeforeValidator(parse_secret)]
Password = Annotated[SecretStr | None, BeforeValidator(password(12, 128))]
VrrpPassword = Annotated[SecretStr | None, BeforeValidator(password(8, 64, " (VRRP uses the first 8)"))]
SshUser = Annotated[str, BeforeValidator(parse_ssh_user)]
Interpreter = Annotated[str, BeforeValidator(parse_interpreter)]
Timezone = Annotated[str, BeforeValidator(parse_timezone)]
Version = Annotated[str, BeforeValidator(parse_version)]
NtpServers = Annotated[list[str], BeforeValidator(parse_ntp_servers)]
Interface = Annotated[str, BeforeValidator(parse_interface)]
Image = Annotated[str, BeforeValidator(parse_image)]
OptionalHostname = Annotated[str, BeforeValidator(parse_optional_hostname)]
Duration = Annotated[str, BeforeValidator(parse_duration)]
Attributes = Annotated[str, BeforeValidator(parse_attributes)]
Resources = Annotated[str, BeforeValidator(parse_resources)]
User = Annotated[str, BeforeValidator(parse_user)]
Networks = Annotated[list[str], BeforeValidator(parse_networks)]
FileOrGenerate = Annotated[str, BeforeValidator(parse_file_or_generate)]
Containerizers = Annotated[list[str], BeforeValidator(parse_containerizers)]
Frontends = Annotated[list[dict[str, Any]], BeforeValidator(parse_frontends)]


def Int(low: int, high: int, what: str = "an integer"):
    return Annotated[int, BeforeValidator(int_in(low, high, what))]


def Choice(*allowed: str):
    return Annotated[str, BeforeValidator(choice(*allowed))]
