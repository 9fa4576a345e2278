"""Value types of config.cfg keys. Each parser raises ValueError with the operator's words:
what was expected. INI values are strings; these turn them into typed values."""

import ipaddress
import re
from pathlib import Path
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


def parse_ipv4(value: Any) -> ipaddress.IPv4Address:
    text = str(value).strip()
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
    if not is_hostname(text):
        raise ValueError("expected a hostname (RFC 1123: letters, digits and '-', labels of 1-63 characters)")
    return text


def parse_optional_domain(value: Any) -> str:
    text = str(value or "").strip().lower()
    return parse_hostname(text) if text else ""


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


def parse_absolute_remote_path(value: Any) -> str:
    """A path on the cluster hosts: must be absolute (nothing to resolve it against there)."""
    text = str(value).strip()
    if not text.startswith("/") or "\n" in text:
        raise ValueError("expected an absolute path on the hosts, such as /var/lib/mesos")
    return text.rstrip("/") or "/"


_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ns|us|ms|secs|mins|hrs|days|weeks)$")
_PAIR = re.compile(r"^[A-Za-z0-9_.\-/]+:[^:;\s]+$")
_RESOURCE = re.compile(r"^[A-Za-z0-9_.\-/()*]+:(\[[0-9, \-]+\]|\{[^{}]*\}|[0-9.]+)$")


def parse_duration(value: Any) -> str:
    """A Mesos duration: a number and a unit, such as 5mins or 1.5hrs (Mesos refuses '300')."""
    text = str(value).strip()
    if not _DURATION.match(text):
        raise ValueError("expected a Mesos duration such as 5mins, 90secs or 1hrs "
                         "(units: ns, us, ms, secs, mins, hrs, days, weeks)")
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


_FRONTEND = re.compile(r"^(?P<name>[a-z][a-z0-9-]*):(?P<port>[0-9]+):(?P<service>[a-z0-9][a-z0-9-]*)"
                       r"(:(?P<check>tcp|/[^\s,]*))?$")


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
    return text if text == "generate" else refuse_template_markers(text)


def choice(*allowed: str):
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"expected one of: {', '.join(allowed)}")
        return text

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
Secret = Annotated[SecretStr | None, BeforeValidator(parse_secret)]
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
