"""Helpers to read roles and render their templates the way Ansible does (trim_blocks)."""

from pathlib import Path
from typing import Any

import jinja2
import yaml

TOP = Path(__file__).resolve().parents[2]
ROLES = TOP / "roles"


def role_names() -> list[str]:
    return sorted(p.name for p in ROLES.iterdir() if (p / "tasks" / "main.yml").exists())


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


def role_vars(role: str, os_family: str, **overrides: Any) -> dict[str, Any]:
    """defaults + vars/main.yml + vars/<OS family>.yml + overrides, as Ansible layers them."""
    base = ROLES / role
    values: dict[str, Any] = {}
    for path in (base / "defaults" / "main.yml", base / "vars" / "main.yml", base / "vars" / f"{os_family}.yml"):
        if path.exists():
            values.update(load_yaml(path))
    values.update(overrides)
    return values


def render(role: str, template: str, values: dict[str, Any]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROLES / role / "templates")),
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["bool"] = ansible_bool
    return env.get_template(template).render(**values)


def ansible_bool(value: Any) -> bool:
    """Ansible's `bool` filter, for templates and conditions rendered outside Ansible."""
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
