"""Each config knob is defined once, in the schema (installer/config/schema.py, which also
writes docs/config.md and is held against config.cfg.example): where group_vars hands a
key straight to a role variable, the role's default and its argument_specs default are the
schema's default, so a role run on its own (molecule, another playbook) behaves as the
installer's default does. The few that differ on purpose are listed here with the reason."""

import re
from pathlib import Path

import pytest
import yaml

from installer.config.schema import SECTIONS

TOP = Path(__file__).resolve().parents[2]
ROLES = TOP / "roles"
GROUP_VARS = (TOP / "playbooks" / "group_vars" / "all.yml").read_text()
# role variable: dcos.<section>.<key>, handed over as it is
DIRECT = re.findall(r'^(\w+): "\{\{ dcos\.(\w+)\.(\w+) \}\}"$', GROUP_VARS, re.MULTILINE)

# A role alone is off or anonymous where the installer's default turns something on: the
# installer always passes these (with their generated secrets), a role alone must not invent
# a user or a cluster name.
DIFFER_ON_PURPOSE = {
    "repo_bundle_dir": "the bundle folder is the installer's ([repo] bundle, beside config.cfg)",
    "repo_label": "[cluster] name is required: the role's label is only a fallback",
    "mesos_master_cluster": "[cluster] name is required: the role leaves --cluster out without it",
    "registry_username": "a role alone runs the registry without a login (the installer always sets one)",
    "zookeeper_acl_username": "a role alone sets no ACLs (the installer always does)",
    "marathon_username": "a role alone runs Marathon without credentials (the installer always sets them)",
    "haproxy_http_redirect_port": "a role alone opens no port 80 redirect (the installer's default does)",
}


def _role_of(var: str) -> str:
    return max((p.name for p in ROLES.iterdir() if var.startswith(p.name + "_")), key=len)


def test_group_vars_hands_over_many_keys_directly():
    assert len(DIRECT) > 40


@pytest.mark.parametrize(("var", "section", "key"), DIRECT, ids=[d[0] for d in DIRECT])
def test_the_role_default_is_the_schema_default(var, section, key):
    if var == "dcos_adopt":
        return  # the installer's own, no role's
    role = _role_of(var)
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    spec = specs["argument_specs"]["main"]["options"][var]
    schema = SECTIONS[section].model_fields[key].default

    def plain(value):
        return value if isinstance(value, list | dict | bool | int) else str(value)

    assert plain(defaults[var]) == plain(spec.get("default")), f"{role}: defaults and argument_specs differ"
    if var in DIFFER_ON_PURPOSE:
        assert plain(defaults[var]) != plain(schema), f"{var} now follows the schema: drop it from DIFFER_ON_PURPOSE"
        return
    assert plain(defaults[var]) == plain(schema), (
        f"roles/{role} {var} = {defaults[var]!r}, [{section}] {key} = {schema!r}")
