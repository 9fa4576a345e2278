"""config.cfg: read, type-check every key, apply the cross-key rules, report every error.

    cfg = load_config(Path("config.cfg"))   # raises ConfigInvalid with all errors
"""

import difflib
import re
from pathlib import Path

from pydantic import ValidationError

from installer.config.errors import ConfigError, ConfigInvalid
from installer.config.hosts import parse_hosts
from installer.config.model import Config, Host
from installer.config.reader import RawConfig, read_raw
from installer.config.rules import RULES
from installer.config.schema import HOST_SECTIONS, REQUIRED_HOST_SECTIONS, REQUIRED_SECTIONS, SECTIONS
from installer.config.types import IPV6_REFUSED, is_ipv6

__all__ = ["Config", "ConfigError", "ConfigInvalid", "Host", "load_config", "validate"]


def _closest(word: str, choices: list[str]) -> str | None:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return match[0] if match else None


def _unknown_sections(raw: RawConfig) -> list[ConfigError]:
    known = list(SECTIONS) + list(HOST_SECTIONS)
    errors = []
    for name, section in raw.sections.items():
        if is_ipv6(name):
            errors.append(ConfigError(raw.path, f"{IPV6_REFUSED} (a bracketed address on a line of its own starts "
                                      "a section)", section.line, name))
            continue
        if name not in known:
            guess = _closest(name.lower(), known)
            errors.append(ConfigError(raw.path, "unknown section", section.line, name,
                                      hint=f"did you mean [{guess}]?" if guess else f"known: {', '.join(known)}"))
    return errors


def _missing_sections(raw: RawConfig) -> list[ConfigError]:
    return [ConfigError(raw.path, "required section missing", None, name,
                        hint="see config.cfg.example")
            for name in (*REQUIRED_SECTIONS, *REQUIRED_HOST_SECTIONS) if name not in raw.sections]


def _validation_message(error: dict, value: str | None = None) -> str:
    if error["type"] == "missing":
        return "required key missing"
    message = error["msg"].removeprefix("Value error, ")
    if value and "IPv6" not in message and any(is_ipv6(part) for part in re.split(r"[\s,;=@]+", value)):
        message = f"IPv6 is not supported; {message}"
    return message


def _parse_section(cfg: Config, name: str) -> list[ConfigError]:
    model = SECTIONS[name]
    raw = cfg.raw.sections.get(name)
    entries = raw.entries if raw else {}
    errors: list[ConfigError] = []
    fields = list(model.model_fields)
    data = {}
    for key, entry in entries.items():
        if key not in model.model_fields:
            guess = _closest(key, fields)
            errors.append(ConfigError(cfg.path, "unknown key", entry.line, name, key, entry.value,
                                      hint=f"did you mean {guess!r}?" if guess else f"known keys: {', '.join(fields)}"))
            continue
        data[key] = entry.value if entry.value is not None else ""
    if raw is None and any(f.is_required() for f in model.model_fields.values()):
        return errors  # an optional component left out (for example [mysql])
    try:
        parsed = model.model_validate(data, context={"base_dir": cfg.path.parent})
    except ValidationError as exc:
        bad_keys = set()
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else None
            bad_keys.add(key)
            entry = entries.get(key) if key else None
            hint = model.model_fields[key].description if key in model.model_fields else None
            errors.append(ConfigError(cfg.path, _validation_message(err, entry.value if entry else None),
                                      entry.line if entry else cfg.line_of(name),
                                      name, key, entry.value if entry else None,
                                      hint=hint.rstrip(".") if hint else None))
        # Keep checking the rest: the bad keys fall back to their defaults for the cross-key rules.
        try:
            parsed = model.model_validate({k: v for k, v in data.items() if k not in bad_keys},
                                          context={"base_dir": cfg.path.parent})
        except ValidationError:
            return errors
    setattr(cfg, name, parsed)
    return errors


def _resolve_mysql(cfg: Config) -> list[ConfigError]:
    if cfg.mysql is None:
        return []
    errors = []
    for key in ("master", "slave"):
        ref = getattr(cfg.mysql, key)
        host = cfg.find_host(ref)
        if host is None and ref.strip().lower() in cfg.broken_hosts:
            pass  # the host's own line is refused: said there
        elif host is None and is_ipv6(ref):
            errors.append(ConfigError(cfg.path, IPV6_REFUSED, cfg.line_of("mysql", key), "mysql", key, ref))
        elif host is None:
            errors.append(ConfigError(cfg.path, "not a host of this cluster", cfg.line_of("mysql", key), "mysql",
                                      key, ref, hint="name a host of [masters] or [agents] by its name or IP"))
        setattr(cfg, f"mysql_{key}", host)
    return errors


def load_config(path: Path) -> Config:
    """Parse and validate config.cfg. Touches nothing but the file itself."""
    path = Path(path).expanduser()
    raw, errors = read_raw(path)
    if raw is None:
        raise ConfigInvalid(errors)
    cfg = Config(path=path.resolve(), raw=raw)
    errors = _unknown_sections(raw) + _missing_sections(raw)
    for name in SECTIONS:
        errors += _parse_section(cfg, name)
    errors += parse_hosts(cfg)
    errors += _resolve_mysql(cfg)
    for name in REQUIRED_HOST_SECTIONS:
        if name in raw.sections and not cfg.group(name) and name != "agents" and name not in cfg.broken_sections:
            errors.append(ConfigError(cfg.path, "expected at least one host", cfg.line_of(name), name))
    for rule in RULES:
        try:
            errors += rule(cfg)
        except Exception as exc:  # a rule that fails says so; its message could hold a value: not shown
            errors.append(ConfigError(cfg.path, f"could not be checked by rule {rule.__name__} "
                                      f"({type(exc).__name__}): please report it"))
    if errors:
        raise ConfigInvalid(sorted(errors, key=lambda e: (e.line or 0, e.section or "", e.key or "")))
    return cfg


def validate(path: Path) -> list[ConfigError]:
    """Every error of config.cfg (none: valid). Reads the config file and the files it names
    (keys, certificates); writes nothing and contacts no host."""
    try:
        load_config(path)
    except ConfigInvalid as exc:
        return list(exc.errors)
    return []
