"""Helpers to read roles and render their templates the way Ansible does (trim_blocks)."""

from pathlib import Path
from typing import Any

import jinja2
import yaml

TOP = Path(__file__).resolve().parents[2]
ROLES = TOP / "roles"


def role_names() -> list[str]:
    return sorted(p.name for p in ROLES.iterdir() if (p / "tasks" / "main.yml").exists())


def _task_names(tasks: Any, names: set[str]) -> None:
    """Names a task list makes while it runs: registered results, loop variables, set facts,
    task and block vars."""
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        if task.get("register"):
            names.add(task["register"])
        names.add((task.get("loop_control") or {}).get("loop_var", "item"))
        names |= set(task.get("vars") or {})
        for key in ("ansible.builtin.set_fact", "set_fact"):
            if isinstance(task.get(key), dict):
                names |= set(task[key])
        for key in ("block", "rescue", "always"):
            _task_names(task.get(key), names)


def runtime_names(role: str) -> set[str]:
    """What a role's tasks and handlers make while they run (not inputs of the role)."""
    names = {"item", "ansible_loop", "ansible_check_mode"}
    for path in (ROLES / role).glob("*/*.yml"):
        if path.parent.name in ("tasks", "handlers"):
            _task_names(yaml.safe_load(path.read_text()), names)
    return names


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
