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


def test_validation_refuses_a_template_in_a_path_and_keeps_the_rest_as_text(tmp_path):
    """Each key on its own, with the payload: a path is refused (Ansible's file lookups on the
    controller evaluate Jinja in paths); a key that takes it keeps it as text (next test)."""
    accepted = set(_free_text_keys(tmp_path))
    from installer.config.schema import SECTIONS as sections

    paths = {(s, k) for s, m in sections.items() for k, f in m.model_fields.items()
             if "Path" in str(f.annotation) or k in ("tls_cert", "tls_key")}
    assert paths and not (paths & accepted), sorted(paths & accepted)


def test_no_config_value_is_ever_evaluated_as_a_template(tmp_path):
    """Past validation (as if a validator had let it through): every text value of every
    section, secrets included, set to the payload, then Ansible evaluates every variable."""
    from pydantic import SecretStr

    markers = tmp_path / "markers"
    markers.mkdir()
    cfg = load_config(EXAMPLE)
    payloads = {}
    for section in SECTIONS:
        model = getattr(cfg, section)
        if model is None:
            continue
        update = {}
        for key, field in type(model).model_fields.items():
            value = getattr(model, key)
            payload = _payload(markers / f"{section}.{key}")
            if "Secret" in str(field.annotation):
                update[key] = SecretStr(payload)
            elif isinstance(value, str) and key not in ("name", "tls_cert", "tls_key", "become_method",
                                                        "python_interpreter", "ssh_user"):
                update[key] = payload
            elif isinstance(value, list) and "dict" not in str(field.annotation) and key not in ("admin_networks",
                                                                                              "containerizers"):
                update[key] = [payload]
            else:
                continue
            payloads[(section, key)] = payload
        setattr(cfg, section, model.model_copy(update=update))
    assert len(payloads) > 20, sorted(payloads)

    secrets_file, _ = ensure_secrets(cfg, tmp_path / "runs")
    run = create_run_dir(cfg, tmp_path / "runs", secrets_file)
    names = [*sorted(yaml.safe_load((TOP / "playbooks" / "group_vars" / "all.yml").read_text())), "dcos",
             "dcos_secrets"]
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

    # The literal text is where the key lands: in the config Ansible sees, or in the secrets.
    values = json.loads((out / "master1.json").read_text())
    seen = json.dumps(values)
    missing = [(section, key) for (section, key), payload in payloads.items() if json.dumps(payload)[1:-1] not in seen]
    assert missing == []


