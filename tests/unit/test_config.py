"""config.cfg reading and validation beyond the corpus: file-level failures, the example,
host naming, path resolution, and that every error is reported at once."""

import os
from pathlib import Path

import pytest

from installer.cli import main
from installer.config import ConfigInvalid, load_config
from installer.config.reader import read_raw
from installer.config.schema import HOST_SECTIONS, SECTIONS

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"
# The shape of a private key: what ssh_key_file must hold (never a real key in the tests).
FAKE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
MINIMAL = """[cluster]
name = t
{cluster_extra}
[installer]
10.1.0.5

[masters]
m1 = 10.1.0.11

[agents]
a1 = 10.1.0.21
"""


def _write(tmp_path: Path, text: str, name: str = "config.cfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigInvalid) as exc:
        load_config(path)
    return [str(e) for e in exc.value.errors]


def test_the_example_config_validates():
    cfg = load_config(EXAMPLE)
    assert [h.id for h in cfg.group("masters")] == ["master1", "master2", "master3"]
    assert [h.id for h in cfg.group("lb")] == ["master1", "master2"]
    assert cfg.mysql_master.id == "agent1"


def test_the_example_documents_every_key_and_only_known_keys():
    raw, errors = read_raw(EXAMPLE)
    assert not errors
    lines = EXAMPLE.read_text().splitlines()
    for name, model in SECTIONS.items():
        assert name in raw.sections, f"[{name}] missing from config.cfg.example"
        assert set(raw.sections[name].entries) == set(model.model_fields), name
        for entry in raw.sections[name].entries.values():
            # every key has a comment right above it (or above the line group it belongs to)
            above = lines[entry.line - 2].strip()
            assert above.startswith("#") or "=" in above, f"[{name}] {entry.key} has no comment"
    assert set(raw.sections) == set(SECTIONS) | set(HOST_SECTIONS)


def test_missing_file_is_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope.cfg")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("content,message", [
    ("", "is empty"),
    ("\n  \n# only a comment\n; and another\n", "is empty"),
    ("\x00\x01binary", "binary file"),
])
def test_empty_or_binary_files_are_refused(tmp_path, content, message):
    assert any(message in e for e in _errors(_write(tmp_path, content)))


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "config.cfg"
    path.write_bytes(b"[cluster]\nname = caf\xe9\n")
    (error,) = _errors(path)
    assert "config.cfg:2: is not UTF-8" in error


def test_an_unreadable_file_is_refused(tmp_path, monkeypatch):
    path = _write(tmp_path, MINIMAL.format(cluster_extra=""))

    def deny(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)
    (error,) = _errors(path)
    assert "cannot be read: Permission denied" in error


def test_a_folder_is_not_a_config(tmp_path):
    assert "is a folder" in _errors(tmp_path)[0]


def test_every_error_is_reported_at_once(tmp_path):
    text = MINIMAL.format(cluster_extra="ssh_port = 0\nbecome = perhaps\nflavour = x\n")
    errors = _errors(_write(tmp_path, text))
    assert len(errors) == 3
    assert any("[cluster] ssh_port = 0" in e for e in errors)
    assert any("[cluster] become = perhaps" in e for e in errors)
    assert any("[cluster] flavour = x: unknown key" in e for e in errors)


def test_hosts_by_ip_alone_or_by_name_with_ip(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL.format(cluster_extra="")))
    assert cfg.installer.id == "10.1.0.5" and cfg.installer.name is None
    assert cfg.group("masters")[0].name == "m1"


def test_a_bare_ip_of_a_named_host_is_that_host(tmp_path):
    text = MINIMAL.format(cluster_extra="") + "\n[lb]\n10.1.0.11\na1\n\n[keepalived]\nvip = 10.1.0.100\n"
    cfg = load_config(_write(tmp_path, text))
    assert [h.id for h in cfg.group("lb")] == ["m1", "a1"]


def test_an_all_in_one_host_may_be_master_and_agent(tmp_path):
    text = MINIMAL.format(cluster_extra="").replace("a1 = 10.1.0.21", "m1")
    cfg = load_config(_write(tmp_path, text))
    assert cfg.group("agents") == cfg.group("masters")


def test_ssh_key_readable_by_others_is_refused_with_the_fix(tmp_path):
    key = tmp_path / "id_rsa"
    key.write_text(FAKE_KEY)
    key.chmod(0o644)
    errors = _errors(_write(tmp_path, MINIMAL.format(cluster_extra="ssh_key_file = id_rsa")))
    assert any("readable by others; ssh refuses such keys: restrict it to its owner (its mode is 0644)" in e
               and f"chmod 600 {key}" in e for e in errors), errors


def test_relative_paths_are_taken_from_the_config_folder_not_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    key = folder / "id_ed25519"
    key.write_text(FAKE_KEY)
    key.chmod(0o600)
    path = _write(folder, MINIMAL.format(cluster_extra="ssh_key_file = id_ed25519"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(Path(os.path.relpath(path, elsewhere)))
    assert cfg.cluster.ssh_key_file == key
    assert cfg.repo.bundle == folder / "bundle"


def test_values_may_carry_a_comment_after_a_space_but_keep_hashes_inside(tmp_path):
    text = MINIMAL.format(cluster_extra="") + "\n[mysql]\nmaster = m1 ; the master\nslave = a1\n"
    cfg = load_config(_write(tmp_path, text))
    assert cfg.mysql_master.id == "m1"
    # a '#' or ';' without a blank before it stays in the value (here refused whole, and shown whole)
    text = MINIMAL.format(cluster_extra="").replace("name = t", "name = a#b;c")
    assert any("[cluster] name = a#b;c: expected a name" in e for e in _errors(_write(tmp_path, text, "hash.cfg")))


def test_secrets_are_never_shown_by_the_model(tmp_path):
    text = MINIMAL.format(cluster_extra="") + "\n[mysql]\nmaster = m1\nslave = a1\nroot_password = s3cret-pw-long\n"
    cfg = load_config(_write(tmp_path, text))
    assert "s3cret-pw" not in repr(cfg.mysql)
    assert cfg.mysql.root_password.get_secret_value() == "s3cret-pw-long"


def test_a_host_may_be_reached_over_ssh_at_another_address(tmp_path):
    text = MINIMAL.format(cluster_extra="").replace("a1 = 10.1.0.21", "a1 = 10.1.0.21 ssh=192.168.5.21")
    cfg = load_config(_write(tmp_path, text))
    agent = cfg.group("agents")[0]
    assert str(agent.ip) == "10.1.0.21" and agent.ssh_address == "192.168.5.21"
    bad = MINIMAL.format(cluster_extra="").replace("a1 = 10.1.0.21", "a1 = 10.1.0.21 via=x")
    assert any("unexpected 'via=x' after the address" in e for e in _errors(_write(tmp_path, bad, "bad.cfg")))


def test_a_bad_gossip_key_is_refused_without_printing_it(tmp_path, capsys):
    cfg = tmp_path / "config.cfg"
    example = (Path(__file__).resolve().parents[2] / "config.cfg.example").read_text()
    cfg.write_text(example.replace("gossip_key =\n", "gossip_key = dG9vLXNob3J0LXNlY3JldA==\n", 1))
    assert main([str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "[consul] gossip_key = (hidden)" in err and "dG9vLXNob3J0LXNlY3JldA" not in err


def test_the_config_reference_is_current_and_the_example_shows_every_default():
    from installer.config.reference import _default, render

    assert (TOP / "docs" / "config.md").read_text() == render(), \
        "docs/config.md is stale: .venv/bin/python -m installer.config.reference > docs/config.md"
    raw, _ = read_raw(EXAMPLE)
    # Keys the example fills in on purpose (a cluster needs them); every other key shows its default.
    filled = {("cluster", "name"), ("keepalived", "vip"), ("mysql", "master"), ("mysql", "slave")}
    for name, model in SECTIONS.items():
        for key, field in model.model_fields.items():
            if (name, key) in filled:
                continue
            shown = raw.sections[name].entries[key].value.strip()
            default = _default(field)
            assert shown == ("" if default == "(empty)" else default), \
                f"[{name}] {key}: example {shown!r}, default {default!r}"


def test_every_config_key_reaches_something():
    """A key that validates but that nothing reads is a lie to the operator ([zookeeper] version
    once was one): each is read by the playbooks (dcos.<section>.<key>), by the installer's
    Python, or is a secret (installer/secrets.py)."""
    import re

    from installer.config.schema import SECTIONS
    from installer.secrets import SECRET_KEYS

    top = Path(__file__).resolve().parents[2]
    playbooks = "".join(p.read_text() for p in (top / "playbooks").rglob("*.yml"))
    python = "".join(p.read_text() for d in ("installer", "precheck") for p in (top / d).rglob("*.py")
                     if p.name != "schema.py")
    from collections import Counter

    shared = {k for k, n in Counter(k for m in SECTIONS.values() for k in m.model_fields).items() if n > 1}
    unused = []
    for section, model in SECTIONS.items():
        for key in model.model_fields:
            if (section, key) in SECRET_KEYS:
                continue
            used = (f"dcos.{section}.{key}" in playbooks
                    or re.search(rf"\b{section}\.{key}\b", python)  # cfg.<section>.<key>
                    or f'"{section}", "{key}"' in python)  # the port table
            if not used and key not in shared:  # a name only one section has: found by name alone
                used = re.search(rf"\.{key}\b", python) or f'"{key}"' in python

            if not used:
                unused.append(f"[{section}] {key}")
    assert unused == []
