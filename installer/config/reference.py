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

## Validation

`./install.sh config.cfg` validates first; `./install.sh config.cfg --validate` only
validates (exit 0 and `config.cfg: valid`, or 2 and every error), and with `--json` prints
one document, `{{"valid": bool, "errors": [{{"file", "line", "section", "key", "value",
"message", "hint"}}]}}`. A portal calls `installer.api.validate("config.cfg")` (the same list,
`[]` when valid). Neither contacts a host nor writes anything (no `runs/`). Beyond each key's
type (the tables below), validation checks:

- Addresses: IPv4 only (an IPv6 address anywhere is refused in words); host names RFC 1123.
- `ssh_user`: a POSIX user name; `python_interpreter`: `auto` or an absolute path of plain
  characters; `timezone`: a name of the IANA database; every `version`: a Debian/RPM version.
- Durations longer than 0. Folders on the hosts (`data_dir`, `*_work_dir`): absolute,
  normalised, of plain characters, not `/`, not a system folder (`/etc`, `/var/lib`, `/usr`...)
  nor inside `/proc`, `/sys`, `/dev`, `/boot`, `/etc`; two components on one host never share
  a folder or keep one inside the other's.
- Ports: unique on each host, and never `[cluster] ssh_port`.
- Files on this machine: `ssh_key_file` holds a private key (not its `.pub`) readable by its
  owner only; certificates and keys (`[registry]`, `[haproxy]` `tls_cert`/`tls_key`,
  `[consul]` `tls_*_file`) are PEM, the key without a passphrase, the certificate valid now,
  holding the key's public key (and issued by `tls_ca_file`; the registry's names
  `[registry] hostname`, or the installer's IP).
- Passwords given in the file: 12 to 128 characters of letters, digits and `. _ + = ~ ^ * ? ! -`
  (they land in environment files, haproxy.cfg, my.cnf, `zk://` URLs, HTTP Basic);
  `[keepalived] auth_pass`: 8 to 64 of those (VRRP uses 8); `[consul] gossip_key`: the base64
  of 32 bytes. Leave them empty to have them generated.

Messages never show a secret: the value of a secret key, of a key whose name says secret
(misspelt, or in the wrong section), or of anything that looks like a password where names and
addresses belong, is `(hidden)`. Values longer than 200 characters are cut, control
characters escaped; a YAML or JSON file, old Mac (CR) line endings or a folder are named as
such.
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
