"""The fast path of a re-run (installer/stamps.py, roles/stamp): the inputs' digest per host
changes with anything a role could read and with nothing else, the run's inventory carries it
only for install runs, and a stamped role can end the play for a host only where nothing else
of the play would be skipped with it."""

from pathlib import Path

import pytest
import yaml

from installer.config import load_config
from installer.rundir import create_run_dir, read_yaml
from installer.secrets import ensure_secrets
from installer.stamps import host_digests, run_digest

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"
STAMPED = sorted(p.parents[1].name for p in (TOP / "roles").glob("*/tasks/main.yml")
                 if "tasks_from: check" in p.read_text() and "name: stamp" in p.read_text())


def _inventory(tmp_path: Path, stamps: str, config: Path = EXAMPLE):
    cfg = load_config(config)
    secrets_file, _ = ensure_secrets(cfg, tmp_path)
    run = create_run_dir(cfg, tmp_path, secrets_file, stamps=stamps)
    return read_yaml(run.path / "inventory" / "hosts.yml")["all"]


def test_the_hosts_phase_roles_are_stamped():
    assert STAMPED == ["common", "docker", "ntp"]


def test_an_install_run_gives_every_host_its_digest_and_operations_none(tmp_path):
    checked = _inventory(tmp_path / "a", "check")
    assert checked["vars"]["dcos_stamp_check"] is True
    digests = {h: v["dcos_stamp_input"] for h, v in checked["hosts"].items()}
    assert len(set(digests.values())) == len(digests) and all(len(d) == 64 for d in digests.values())
    full = _inventory(tmp_path / "b", "record")
    assert full["vars"]["dcos_stamp_check"] is False and all("dcos_stamp_input" in v for v in full["hosts"].values())
    off = _inventory(tmp_path / "c", "off")
    assert "dcos_stamp_check" not in off["vars"] and not any("dcos_stamp_input" in v for v in off["hosts"].values())


def test_the_digest_follows_the_inputs_and_not_the_run(tmp_path):
    installer = tmp_path / "installer"
    (installer / "roles" / "ntp" / "templates").mkdir(parents=True)
    template = installer / "roles" / "ntp" / "templates" / "chrony.conf.j2"
    template.write_text("server {{ x }}\n")
    secrets, state, bundle = tmp_path / "secrets.yml", tmp_path / "state", tmp_path / "bundle"
    secrets.write_text("a: 1\n")
    state.mkdir()
    (state / "ca.crt").write_text("CA 1")
    bundle.mkdir()
    (bundle / "manifest.json").write_text('{"v": 1}')
    extravars = {"dcos": {"ntp": {"upstream": "a"}}, "dcos_run_id": "run-1"}

    def digest(**changed) -> str:
        return run_digest(changed.get("extravars", extravars), secrets, state, bundle, installer=installer)

    base = digest()
    assert digest(extravars={**extravars, "dcos_run_id": "run-2"}) == base  # another run, same inputs
    assert digest(extravars={**extravars, "dcos": {"ntp": {"upstream": "b"}}}) != base
    for path, text in ((template, "server {{ y }}\n"), (secrets, "a: 2\n"), (state / "ca.crt", "CA 2"),
                       (bundle / "manifest.json", '{"v": 2}')):
        before = path.read_text()
        path.write_text(text)
        assert digest() != base, path
        path.write_text(before)
    assert digest() == base
    # A certificate the config names by its path: replaced in place, a new input.
    cert = tmp_path / "operator-ca.crt"
    cert.write_text("CA of the operator 1")
    named = {**extravars, "dcos": {"registry": {"tls_cert": str(cert)}}}
    with_cert = digest(extravars=named)
    cert.write_text("CA of the operator 2")
    assert digest(extravars=named) != with_cert
    inventory = {"all": {"vars": {"ansible_user": "dcos"}, "children": {"agents": {"hosts": {"a1": None}}},
                         "hosts": {"a1": {"dcos_ip": "10.0.0.21"}, "a2": {"dcos_ip": "10.0.0.22"}}}}
    first = host_digests(base, inventory)
    assert first["a1"] != first["a2"]
    inventory["all"]["children"]["agents"]["hosts"]["a2"] = None  # a host joins a group: all change
    assert all(host_digests(base, inventory)[h] != first[h] for h in first)


@pytest.mark.parametrize("playbook", sorted((TOP / "playbooks").glob("*.yml")), ids=lambda p: p.name)
def test_a_stamped_role_is_alone_in_its_play_or_not_stamped_there(playbook):
    """meta: end_host in roles/stamp/tasks/check.yml ends the whole play for the host: a stamped
    role shares its play with no other role and no task, or its invocation turns the stamp off."""
    for play in yaml.safe_load(playbook.read_text()) or []:
        roles = play.get("roles", [])
        for entry in roles:
            name = entry if isinstance(entry, str) else entry.get("role")
            if name not in STAMPED:
                continue
            off = isinstance(entry, dict) and entry.get("vars", {}).get("dcos_stamp_input") == ""
            alone = len(roles) == 1 and not any(play.get(k) for k in ("tasks", "post_tasks", "pre_tasks"))
            assert alone or off, f"{playbook.name}: play {play.get('name')!r}: {name} is stamped but not alone"
