"""docs/config.md, generated from the schema (every key, its default, its meaning). A unit
test checks that the file is current and that config.cfg.example shows the same defaults.

    .venv/bin/python -m installer.config.reference > docs/config.md
"""

from pathlib import Path

from pydantic_core import PydanticUndefined

from installer.config.schema import HOST_SECTIONS, OPTIONAL_COMPONENT_SECTIONS, REQUIRED_HOST_SECTIONS, SECTIONS

HEADER = """\
# config.cfg reference

Generated from `installer/config/schema.py` by `python -m installer.config.reference`; a unit
test keeps it, the schema and `config.cfg.example` (same keys, same defaults) in step. The
example file is the place to start: it carries every key with its default and a comment.

Values: a key left out takes its default; a value may be followed by ` ; comment`; relative
paths are taken from the config file's folder; empty secrets are generated on the first run
and kept (mode 0600) in `runs/secrets/<cluster>.yml`. Any error is reported with file, line,
section and key, all at once, and the installer exits 2 without touching a host.

## Hosts

Sections {host_sections}; {required} are required. One host per line:

| line | meaning |
|---|---|
| `name = ip` | the host is given the name `name` |
| `ip` | the host keeps its own name |
| `name` | a host already given its ip in another host section (how `[lb]` names two masters) |
| `name = ip ssh=address` | Ansible connects to `address` (a management network); `ip` is what the cluster uses |

`[installer]`: exactly one host (package repo, registry, NTP). `[masters]`: 1, 3, 5 or 7
(ZooKeeper, Mesos masters, Marathon, Consul servers). `[agents]`: at least one. `[lb]`:
at least two, sharing the `[keepalived] vip`; leave it out to install without HAProxy and
Keepalived. Sections present only to install their component: {optional}.
"""


def _default(field) -> str:
    value = field.default
    if value is PydanticUndefined:
        return "(required)"
    if value is None or value in ("", []):
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def render() -> str:
    out = [HEADER.format(host_sections=", ".join(f"`[{s}]`" for s in HOST_SECTIONS),
                         required=", ".join(f"`[{s}]`" for s in REQUIRED_HOST_SECTIONS),
                         optional=", ".join(f"`[{s}]`" for s in (*OPTIONAL_COMPONENT_SECTIONS, "lb")))]
    for name, model in SECTIONS.items():
        out.append(f"\n## [{name}]\n\n| key | default | meaning |\n|---|---|---|")
        for key, field in model.model_fields.items():
            out.append(f"| `{key}` | `{_default(field)}` | {field.description} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
