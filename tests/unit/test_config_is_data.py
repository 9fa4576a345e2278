"""A config value is data, never a Jinja template: every key that takes free text holds a
payload that would create a marker file if Ansible evaluated it. After validation, and after
Ansible evaluated every variable of playbooks/group_vars/all.yml for every host (what every
phase does), no marker exists and the literal text arrived where the key lands."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from installer.config import ConfigInvalid, load_config
from installer.config.schema import SECTIONS
from installer.rundir import create_run_dir
from installer.secrets import ensure_secrets

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"
PLAYBOOK = """
- hosts: all
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out }}/{{ inventory_hostname }}.json"
        content: "{{ dict(names | zip(query('vars', *names))) | to_json }}"
      delegate_to: localhost
"""


def _payload(marker: Path) -> str:
    return "{{ lookup('pipe', 'touch " + str(marker) + "') }}"


def _with(text: str, section: str, key: str, value: str) -> str:
    """The example with section/key set to value (added when the example does not show it)."""
    lines, current, done = [], None, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if current == section and not done:
                lines.append(f"{key} = {value}")
                done = True
            current = stripped[1:-1]
        elif current == section and stripped.split("=")[0].strip() == key and not stripped.startswith("#"):
            lines.append(f"{key} = {value}")
            done = True
            continue
        lines.append(line)
    if not done:
        lines += [f"[{section}]", f"{key} = {value}"] if current != section else [f"{key} = {value}"]
    return "\n".join(lines) + "\n"


def _free_text_keys(tmp_path: Path) -> list[tuple[str, str]]:
    """Every (section, key) that accepts the payload: those reach Ansible as free text."""
    base = EXAMPLE.read_text()
    accepted = []
    for section, model in SECTIONS.items():
        for key in model.model_fields:
            config = tmp_path / f"probe-{section}-{key}.cfg"
            config.write_text(_with(base, section, key, _payload(tmp_path / "never")))
            try:
                load_config(config)
            except ConfigInvalid:
                continue
            accepted.append((section, key))
    return accepted


def test_no_config_value_is_ever_evaluated_as_a_template(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    keys = _free_text_keys(tmp_path)
    assert keys, "no free-text key found: the probe is broken"
    text = EXAMPLE.read_text()
    payloads = {}
    for section, key in keys:
        payloads[(section, key)] = _payload(markers / f"{section}.{key}")
        text = _with(text, section, key, payloads[(section, key)])
    config = tmp_path / "config.cfg"
    config.write_text(text)
    cfg = load_config(config)  # validation evaluates nothing
    assert list(markers.iterdir()) == []

    secrets_file, _ = ensure_secrets(cfg, tmp_path / "runs")
    run = create_run_dir(cfg, tmp_path / "runs", secrets_file)
    names = [*sorted(yaml.safe_load((TOP / "playbooks" / "group_vars" / "all.yml").read_text())), "dcos"]
    (tmp_path / "play").mkdir()
    (tmp_path / "play" / "group_vars").symlink_to(TOP / "playbooks" / "group_vars")
    (tmp_path / "play" / "probe.yml").write_text(PLAYBOOK)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "facts"))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(run.path / "inventory" / "hosts.yml"),
         "-e", f"@{run.path / 'env' / 'extravars'}", "-e", json.dumps({"out": str(out), "names": names}),
         str(tmp_path / "play" / "probe.yml")],
        env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in markers.iterdir()) == [], "a config value was run as a template"

    # The literal text is where the key lands: in the config Ansible sees, and in the secrets.
    values = json.loads((out / "master1.json").read_text())
    seen = json.dumps(values)
    for (section, key), payload in payloads.items():
        in_vars = values["dcos"].get(section, {}).get(key)
        if isinstance(in_vars, list):  # a list key: the payload split at blanks and commas, each item as written
            landed = bool(in_vars) and all(item in payload for item in in_vars)
        else:
            landed = in_vars is not None and payload in json.dumps(in_vars)
        assert landed or payload in seen or (section, key) in _secret_keys(), (section, key, in_vars)
    # A secret given in config.cfg reaches the playbooks through the secrets file, as it is.


def _secret_keys():
    from installer.secrets import SECRET_KEYS

    return SECRET_KEYS
