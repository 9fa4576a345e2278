"""Read config.cfg with configparser, keeping the line of every section and key so that
each error can point at it. File-level problems (missing, unreadable, empty, not UTF-8,
not INI, duplicates) are collected, not raised one by one."""

import configparser
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from installer.config.errors import ConfigError
from installer.config.types import is_ipv6

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*(?:[;#].*)?$")
_KEY = re.compile(r"^(?P<key>[^=:\s][^=:]*?)\s*(?:[=:]|$)")


@dataclass
class RawEntry:
    key: str
    value: str | None  # None: a bare key (a host named by its IP or name alone)
    line: int
    text: str = ""  # the line as written (keys are lowercased; this is not)


@dataclass
class RawSection:
    name: str
    line: int
    entries: dict[str, RawEntry] = field(default_factory=dict)


@dataclass
class RawConfig:
    path: Path
    sections: dict[str, RawSection]


def _parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        allow_no_value=True,
        interpolation=None,  # passwords may hold '%'
        inline_comment_prefixes=(";", "#"),  # only after whitespace: "a#b" stays a value
        strict=True,
        default_section="\x00no-defaults",  # a [DEFAULT] section is just an unknown section
        empty_lines_in_values=False,
    )
    parser.optionxform = str.lower  # keys (and host names) are case-insensitive
    return parser


def _scan_lines(path: Path, text: str) -> tuple[dict[str, int], dict[tuple[str, str], int], list[ConfigError]]:
    """Line numbers of sections and keys, and every duplicate (configparser stops at the first)."""
    sections: dict[str, int] = {}
    keys: dict[tuple[str, str], int] = {}
    errors: list[ConfigError] = []
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        section = _SECTION.match(line)
        if section:
            current = section.group("name").strip()
            if current in sections:
                errors.append(ConfigError(path, f"duplicate section (first at line {sections[current]})",
                                          line=number, section=current, hint="merge the two sections into one"))
            else:
                sections[current] = number
            continue
        if line[:1].isspace():
            errors.append(ConfigError(path, "indented line: INI would glue it to the value above", line=number,
                                      section=current, value=stripped, hint="remove the indentation"))
            continue
        if stripped.startswith("[") and not _SECTION.match(line):
            errors.append(ConfigError(path, "section header without its closing ']'", line=number, value=stripped,
                                      hint="write [name]"))
            continue
        if current is None:
            continue  # reported by configparser
        key = _KEY.match(line)
        if key:
            name = key.group("key").strip().lower()
            if (current, name) in keys:
                errors.append(ConfigError(path, f"duplicate key (first at line {keys[(current, name)]})",
                                          line=number, section=current, key=name, hint="keep one of the two"))
            else:
                keys[(current, name)] = number
    return sections, keys, errors


def _section_at(lines: list[str], lineno: int) -> str | None:
    for line in reversed(lines[: lineno - 1]):
        match = _SECTION.match(line)
        if match:
            return match.group("name").strip()
    return None


def _first_line(text: str) -> int:
    """The line of the first thing that is not blank or a comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.strip().startswith(("#", ";")):
            return number
    return 1


def other_format(text: str) -> str | None:
    """'JSON' or 'YAML' when the text is one of those rather than INI (whose first meaningful
    line is a [section])."""
    # Comment lines first (JSON has none, but an operator may have added some).
    stripped = "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith(("#", ";"))).strip()
    if stripped.startswith(("{", "[")):
        try:
            json.loads(stripped)
        except ValueError:
            if stripped.startswith("{"):
                return "JSON" if re.match(r'^\{\s*"', stripped) else None
        else:
            return "JSON"
    first = text.splitlines()[_first_line(text) - 1].strip()
    if first.startswith("["):
        return None
    if first == "---" or re.match(r"^[A-Za-z_][\w.-]*:\s*$", first):
        return "YAML"
    if len(text) > 200_000:
        return None  # no config is that long; not worth parsing as YAML
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    if isinstance(data, dict) and any(isinstance(v, dict | list) for v in data.values()):
        return "YAML"
    return None


def _line_endings(path: Path, text: str) -> list[ConfigError]:
    """Carriage returns that are no part of a CRLF pair: a file saved with old Mac line endings
    (CR only) reads as one long line."""
    lone = [m.start() for m in re.finditer(r"\r(?!\n)", text)]
    if not lone:
        return []
    if "\n" not in text:
        return [ConfigError(path, "has CR-only line endings (old Mac): INI reads the whole file as one line", line=1,
                            hint=f"convert them: sed -i 's/\\r/\\n/g' {path}")]
    line = text[: lone[0]].count("\n") + 1
    return [ConfigError(path, "holds a carriage return (CR) inside a line: mixed line endings", line=line,
                        hint=f"convert them: sed -i 's/\\r$//; s/\\r/\\n/g' {path}")]


def read_raw(path: Path) -> tuple[RawConfig | None, list[ConfigError]]:
    """Parse config.cfg. Returns the raw config, or None with the errors that stop parsing."""
    if not path.exists():
        return None, [ConfigError(path, "no such file", hint="copy config.cfg.example and edit it")]
    if path.is_dir():
        return None, [ConfigError(path, "is a folder, not a config file")]
    if not path.is_file() and not path.is_fifo():  # a device (/dev/zero): reading it may never end
        return None, [ConfigError(path, "is not a regular file", hint="copy config.cfg.example and edit it")]
    if path.is_file() and path.stat().st_size > 4 << 20:
        return None, [ConfigError(path, f"is {path.stat().st_size} bytes: too large for a config file",
                                  hint="copy config.cfg.example and edit it")]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [ConfigError(path, f"cannot be read: {exc.strerror}", hint="check its permissions")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [ConfigError(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x})", line=line,
                                  hint="save the file as UTF-8")]
    if "\x00" in text:
        return None, [ConfigError(path, "is a binary file, not an INI file")]
    if not text.strip() or all(not ln.strip() or ln.strip().startswith(("#", ";")) for ln in text.splitlines()):
        return None, [ConfigError(path, "is empty", hint="copy config.cfg.example and edit it")]
    endings = _line_endings(path, text)
    if endings:
        return None, endings
    kind = other_format(text)
    if kind:
        return None, [ConfigError(path, f"is a {kind} file, not an INI file: config.cfg is INI, see "
                                  "config.cfg.example", line=_first_line(text),
                                  hint="INI: [section] headers, then key = value lines")]

    section_lines, key_lines, errors = _scan_lines(path, text)
    if errors:
        return None, errors

    parser = _parser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        return None, [ConfigError(path, "is not an INI file: a key comes before any [section] header",
                                  line=exc.lineno, value=exc.line.strip() if exc.line else None,
                                  hint="start the file with a section such as [cluster]")]
    except configparser.ParsingError as exc:
        lines = text.splitlines()
        errors = []
        for lineno, _ in exc.errors:
            line = lines[lineno - 1].strip() if lineno <= len(lines) else ""
            section = _section_at(lines, lineno)
            if is_ipv6(line):
                errors.append(ConfigError(path, "IPv6 is not supported: give an IPv4 address such as 10.0.0.11",
                                          line=lineno, section=section, value=line))
            else:
                errors.append(ConfigError(path, "is not valid INI: this line is no key = value and no [section]",
                                          line=lineno, section=section, value=line,
                                          hint="write key = value, or [section]"))
        return None, errors
    except configparser.Error as exc:  # anything else configparser refuses
        return None, [ConfigError(path, f"is not valid INI: {exc.message}",
                                  line=getattr(exc, "lineno", None))]

    sections: dict[str, RawSection] = {}
    lines = text.splitlines()
    for name in parser.sections():
        raw = RawSection(name=name, line=section_lines.get(name, 0))
        for key, value in parser.items(name, raw=True):
            line = key_lines.get((name, key), raw.line)
            raw.entries[key] = RawEntry(key=key, value=value, line=line,
                                        text=lines[line - 1].strip() if 0 < line <= len(lines) else "")
        sections[name] = raw
    return RawConfig(path=path, sections=sections), []
