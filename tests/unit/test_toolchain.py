"""The pinned toolchain and ansible.cfg are what the project depends on."""

import configparser
import json
import re
from pathlib import Path

import ansible_collections
import yaml

TOP = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line)
        if m:
            pins[re.sub(r"\[.*\]", "", m.group(1)).lower()] = m.group(2)
    return pins


def test_ansible_core_is_pinned_to_216_with_the_reason():
    text = (TOP / "requirements.txt").read_text()
    assert _pins(TOP / "requirements.txt")["ansible-core"] == "2.16.19"
    assert "3.6" in text and "EL8" in text, "the reason for the 2.16 pin must stay beside it"


def test_every_direct_requirement_is_pinned_and_agrees_with_the_constraints():
    constraints = _pins(TOP / "constraints.txt")
    for req in ("requirements.txt", "requirements-dev.txt"):
        for raw in (TOP / req).read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", "-r")):
                continue
            assert "==" in line, f"{req}: unpinned requirement {line!r}"
        for name, version in _pins(TOP / req).items():
            found = constraints.get(name)
            assert found == version, f"{req} pins {name}=={version}, constraints say {found}"


def test_requirements_yml_matches_the_collections_ansible_bundles():
    wanted = yaml.safe_load((TOP / "requirements.yml").read_text())["collections"]
    # ansible_collections is a namespace package: find the part the `ansible` package installed.
    base = next(Path(p) for p in ansible_collections.__path__ if (Path(p) / "community" / "docker").is_dir())
    for entry in wanted:
        namespace, name = entry["name"].split(".")
        manifest = json.loads((base / namespace / name / "MANIFEST.json").read_text())
        assert manifest["collection_info"]["version"] == entry["version"], entry["name"]


def test_ansible_cfg_uses_a_per_user_control_path_and_pipelining():
    cfg = configparser.ConfigParser()
    cfg.read(TOP / "ansible.cfg")
    ssh = cfg["ssh_connection"]
    assert ssh.getboolean("pipelining")
    assert ssh.get("control_path_dir")
    assert "ControlPath" not in ssh.get("ssh_args", "")
    assert cfg["defaults"]["roles_path"] == "roles"
    assert cfg["defaults"]["collections_path"] == "collections"
    assert int(cfg["defaults"]["forks"]) >= 20
