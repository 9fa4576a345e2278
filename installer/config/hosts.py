"""Host sections: each entry is `name = ip`, a bare `ip`, or a bare `name` already given an
IP in another host section (lb hosts are usually masters)."""

import re
from dataclasses import replace

from installer.config.errors import ConfigError
from installer.config.model import Config, Host
from installer.config.reader import RawEntry
from installer.config.redact import looks_like_secret
from installer.config.schema import HOST_SECTIONS
from installer.config.types import IPV6_REFUSED, is_hostname, is_ipv6, parse_ipv4


def _is_ipv4(text: str) -> bool:
    try:
        parse_ipv4(text)
    except ValueError:
        return False
    return True


def _pasted_secret(entry: RawEntry) -> bool:
    """Whether the key of a host line, as written, reads like a password pasted there by
    mistake: like a secret (symbols, random), or long with upper and lower case and digits (a
    host name is written in lowercase)."""
    written = re.split(r"\s*[=:]", entry.text, maxsplit=1)[0].strip() if entry.text else entry.key
    return looks_like_secret(written, loose=True) or (
        len(written) >= 10 and any(c.isupper() for c in written) and any(c.islower() for c in written)
        and any(c.isdigit() for c in written))


def _define(cfg: Config, section: str, entry: RawEntry) -> tuple[Host | None, list[ConfigError]]:
    """Parse one entry that carries an IP (name = ip, or a bare ip). Bare names return None."""
    path = cfg.path
    key, value = entry.key.strip(), (entry.value or "").strip()
    # configparser splits a bare IPv6 address at its first ':' (2001:db8::5 reads as 2001 = db8::5).
    if value and is_ipv6(f"{key}:{value}"):
        return None, [ConfigError(path, IPV6_REFUSED, entry.line, section, f"{key}:{value}")]
    if is_ipv6(key) or (value and is_ipv6(value.split()[0])):
        return None, [ConfigError(path, IPV6_REFUSED, entry.line, section, key, value or None)]
    # A secret pasted here by mistake is never shown (redact hides a secret-looking key or value).
    secret = any(looks_like_secret(part, loose=True) for part in value.split())
    if value:
        errors = []
        if not is_hostname(key):
            errors.append(ConfigError(path, "expected a hostname (RFC 1123) before '='", entry.line, section, key,
                                      hint="write name = ip, or the ip alone"))
        address, *options = value.split()
        try:
            ip = parse_ipv4(address)
        except ValueError as exc:
            errors.append(ConfigError(path, str(exc), entry.line, section, key, value, secret=secret))
            return None, errors
        ssh = None
        for option in options:
            name, _, target = option.partition("=")
            if name == "ssh" and is_ipv6(target):
                errors.append(ConfigError(path, f"ssh={target}: {IPV6_REFUSED}", entry.line, section, key, value))
            elif name != "ssh" or not target or not (is_hostname(target.lower()) or _is_ipv4(target)):
                shown = "text that looks like a secret" if looks_like_secret(option, loose=True) else repr(option)
                errors.append(ConfigError(path, f"unexpected {shown} after the address", entry.line, section,
                                          key, value, hint="name = ip, or name = ip ssh=<address Ansible uses>",
                                          secret=secret))
            else:
                ssh = target.lower()
        return (None if errors else Host(ip=ip, name=key, ssh_address=ssh)), errors
    try:
        return Host(ip=parse_ipv4(key)), []
    except ValueError:
        if is_hostname(key):
            return None, []  # a reference, resolved once every definition is known
        return None, [ConfigError(path, "expected an IPv4 address, a hostname = IPv4 address, or the name of a "
                                  "host defined in another section", entry.line, section, key)]


def _unresolved(cfg: Config, section: str, entry: RawEntry) -> list[ConfigError]:
    """A bare name no section gives an IP."""
    name = entry.key.strip().lower()
    if name in cfg.broken_hosts:
        cfg.broken_sections.add(section)  # its definition was refused: said there
        return []
    if _pasted_secret(entry):
        return [ConfigError(cfg.path, "host has no IP (and reads like a password: not shown)", entry.line, section,
                            entry.key, secret_key=True, hint="write name = <ip>, here or in another host section")]
    return [ConfigError(cfg.path, "host has no IP", entry.line, section, entry.key,
                        hint=f"write {name} = <ip>, here or in another host section")]


def parse_hosts(cfg: Config) -> list[ConfigError]:
    errors: list[ConfigError] = []
    by_name: dict[str, tuple[Host, int]] = {}
    by_ip: dict[str, tuple[Host, int]] = {}
    # (section, entry, host); host None: a bare name, resolved once every definition is known.
    entries: list[tuple[str, RawEntry, Host | None]] = []

    for section in HOST_SECTIONS:
        raw = cfg.raw.sections.get(section)
        if raw is None:
            continue
        for entry in raw.entries.values():
            host, errs = _define(cfg, section, entry)
            if errs and _pasted_secret(entry):
                errs = [replace(e, secret_key=True) for e in errs]
            errors += errs
            if errs:
                cfg.broken_hosts.add(entry.key.strip().lower())
                cfg.broken_sections.add(section)
                continue
            if host is None:
                entries.append((section, entry, None))
                continue
            if host.name and host.name in by_name and by_name[host.name][0].ip != host.ip:
                other, line = by_name[host.name]
                errors.append(ConfigError(cfg.path, f"host {host.name} already has IP {other.ip} (line {line})",
                                          entry.line, section, entry.key, entry.value, hint="one host, one IP"))
                continue
            known = by_ip.get(str(host.ip))
            if known and host.name and known[0].name and known[0].name != host.name:
                errors.append(ConfigError(cfg.path, f"the same IP is given to {known[0].name} (line {known[1]}) "
                                          f"and {host.name}", entry.line, section, entry.key, entry.value,
                                          hint="each host needs its own address"))
                continue
            if host.name:
                by_name.setdefault(host.name, (host, entry.line))
                by_ip[str(host.ip)] = (host, entry.line)
            else:
                by_ip.setdefault(str(host.ip), (host, entry.line))
            entries.append((section, entry, host))

    for section, entry, parsed in entries:
        if parsed is None:
            name = entry.key.strip().lower()
            if name not in by_name:
                errors += _unresolved(cfg, section, entry)
                continue
            host = by_name[name][0]
        else:
            host = by_ip[str(parsed.ip)][0]  # a bare IP names the host defined with that IP
        group = cfg.hosts.setdefault(section, [])
        if host in group:
            first = cfg.host_lines[(section, host)]
            errors.append(ConfigError(cfg.path, f"host {host} is listed twice in this section (first at line "
                                      f"{first})", entry.line, section, entry.key))
            continue
        group.append(host)
        cfg.host_lines[(section, host)] = entry.line
    return errors
