"""Each host's apt source names its own OS release's repository: the top bundle's release at
/debian (its path before there were sub-bundles), every other at /<release>; the installer
host reads its own from the folder. Rendered by Ansible itself (the role's vars read the
bundle's manifest with a lookup on the controller)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[2]
ROLE = TOP / "roles" / "repo"


def _sources(tmp_path: Path, bundle: str, mode: str) -> dict[str, str]:
    """release -> the rendered dcos.sources of a host of that release."""
    releases = {"debian12": "12", "debian11": "11"}
    tasks = [{"ansible.builtin.include_vars": str(ROLE / "vars" / name)} for name in ("main.yml", "Debian.yml")]
    for release, major in releases.items():
        tasks += [
            {"ansible.builtin.set_fact": {"ansible_facts": {"os_family": "Debian", "distribution": "Debian",
                                                            "distribution_major_version": major}}},
            {"ansible.builtin.debug": {"msg": "{{ lookup('ansible.builtin.template', '%s') }}"
                                       % (ROLE / "templates" / "dcos.sources.j2")},
             "register": f"out_{release}"}]
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": tasks,
             "vars": {"repo_bundle_dir": bundle, "repo_mode": mode, "repo_server_address": "10.0.0.5",
                      "repo_port": 8081, "repo_root": "/srv/dcos/repo"}}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_CALLBACKS_ENABLED": "",
           "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(tmp_path / "play.yml")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])  # a callback may print after
    results = [t for play in report["plays"] for t in play["tasks"]]
    shown = [t["hosts"]["localhost"]["msg"] for t in results if "msg" in t["hosts"]["localhost"]]
    return dict(zip(releases, shown, strict=True))


def _uri(source: str) -> str:
    return next(line.split(": ", 1)[1] for line in source.splitlines() if line.startswith("URIs: "))


def test_each_host_points_apt_at_its_own_releases_repository(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(json.dumps({"format": 1, "os": "debian12", "files": []}))
    clients = _sources(tmp_path, str(bundle), "client")
    assert {r: _uri(s) for r, s in clients.items()} == {"debian12": "http://10.0.0.5:8081/debian",
                                                        "debian11": "http://10.0.0.5:8081/debian11"}
    server = _sources(tmp_path, str(bundle), "server")
    assert {r: _uri(s) for r, s in server.items()} == {"debian12": "file:/srv/dcos/repo/debian",
                                                       "debian11": "file:/srv/dcos/repo/debian11"}
    # A bundle of Debian 11 at the top: Debian 11 hosts read /debian, Debian 12 ones /debian12.
    (bundle / "manifest.json").write_text(json.dumps({"format": 1, "os": "debian11", "files": []}))
    assert _uri(_sources(tmp_path, str(bundle), "client")["debian12"]) == "http://10.0.0.5:8081/debian12"


def test_without_a_manifest_every_host_reads_the_one_release_path(tmp_path):
    """A role run without a bundle folder (or before it is there: the precheck refuses that
    run) keeps the layout of one release instead of failing on the lookup."""
    for bundle in ("", str(tmp_path / "missing")):
        assert {_uri(s) for s in _sources(tmp_path, bundle, "client").values()} == {"http://10.0.0.5:8081/debian"}
