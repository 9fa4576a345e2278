"""./install.sh config.cfg diagnostics: the host-side collector (roles/diagnostics/files/collect.py,
run here on this machine over made-up configuration files), the archive the controller writes
from the hosts' parts (a secret under a name the host did not know is masked again, a missing
host is named with why), and what the command refuses. The run on a real cluster is in the e2e
cluster test."""

import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from installer.catalogue import CATALOGUE, FAMILIES
from installer.cli import main
from installer.config import load_config
from installer.diagnostics import RUN_FILES, assemble, parse_since, select_hosts, spec
from installer.secrets import Scrubber

TOP = Path(__file__).resolve().parents[2]
COLLECT = TOP / "roles" / "diagnostics" / "files" / "collect.py"
EXAMPLE = TOP / "config.cfg.example"


def _collector():
    loaded = importlib.util.spec_from_file_location("collect", COLLECT)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


collect = _collector()


@pytest.mark.parametrize(("line", "kept", "gone"), [
    ("    stats auth admin:Zq81pXw", "stats auth ", "Zq81pXw"),
    ('  "encrypt": "c2VjcmV0a2V5Cg==",', '"encrypt": "(redacted)",', "c2VjcmV0a2V5"),
    ('password = "Rk3p9vQ"', 'password = "(redacted)"', "Rk3p9vQ"),
    ("        auth_pass Hs8dK2m1", "auth_pass (redacted)", "Hs8dK2m1"),
    ('user = "admin:Pw9x2kLm"', 'user = "(redacted)"', "Pw9x2kLm"),
    ("MESOSPHERE_HTTP_CREDENTIALS=admin:Pw9x2kLm", "MESOSPHERE_HTTP_CREDENTIALS=(redacted)", "Pw9x2kLm"),
    ("ExecStart=/bin/x --token=Tk77aa --port=5050", "--token=(redacted) --port=5050", "Tk77aa"),
    ("MARATHON_ZK=zk://dcos:Zk9pass@10.0.0.1:2181,10.0.0.2:2181/marathon", "zk://dcos:(redacted)@10.0.0.1", "Zk9pass"),
])
def test_the_value_after_a_secret_key_is_redacted(line, kept, gone):
    out = collect.redact_line(line)
    assert kept in out and gone not in out, out


@pytest.mark.parametrize("line", [
    "authenticate_agents=true", "--credentials=/etc/dcos/mesos-master/credentials.json", "bind 0.0.0.0:80",
    "server master1 10.0.0.11:8080 check", "    option httpchk GET /v2/info", "tickTime=2000",
    '  "--credentials=/etc/dcos/mesos-master/credentials.json" \\', "        auth_type PASS",
    "deb http://10.0.0.10:8081/debian bookworm main"])
def test_what_is_no_secret_stays(line):
    assert collect.redact_line(line) == line


def test_json_values_under_a_secret_key_are_redacted_whole():
    text = json.dumps({"encrypt": "k3y", "acl": {"tokens": {"master": "m4st", "agent": "ag3nt"}},
                       "ports": {"dns": 8600}, "node_name": "master1", "enable": True})
    out = json.loads(collect.redact_text(text))
    assert out["acl"]["tokens"] == {"master": "(redacted)", "agent": "(redacted)"}
    assert out["encrypt"] == "(redacted)"
    assert out["ports"] == {"dns": 8600} and out["node_name"] == "master1" and out["enable"] is True


@pytest.mark.parametrize(("name", "data", "why"), [
    ("dcos.pem", b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n",
     "private key"),
    ("htpasswd", b"dcos:$2y$05$abc\n", "name"),
    ("marathon", b"# Managed\nS3cr3tValue0123\n", "bare value"),
    ("blob", b"\x00\x01", "not text"),
])
def test_files_that_are_secrets_whole_are_withheld(name, data, why):
    assert why in collect.withheld_reason(f"/etc/x/{name}", data)


def test_a_configuration_file_is_not_withheld():
    text = b"tickTime=2000\ndataDir=/var/lib/zookeeper\n"
    assert collect.withheld_reason("/etc/zookeeper/dcos/zoo.cfg", text) is None


def test_the_collector_writes_one_private_archive_with_no_secret(tmp_path):
    """The collector run on this machine: configuration copied redacted, secret files listed but
    not copied, the system's state as sections, every command bounded (a missing one is recorded,
    never fatal)."""
    etc = tmp_path / "etc"
    (etc / "svc").mkdir(parents=True)
    (etc / "svc" / "app.conf").write_text("port = 8080\npassword = Vx91kQz7\n")
    (etc / "svc" / "agent.json").write_text(json.dumps({"acl": {"tokens": {"agent": "0b3c-token-Yy"}}}))
    (etc / "svc" / "tls.key").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n")
    (etc / "svc" / "secret").write_text("Bare0nlyValue99\n")
    (etc / "big.cfg").write_text("x = 1\n" * 1000)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"units": ["dcos-no-such-unit"], "packages": ["dcos-no-such-package"],
                                     "versions_command": ["echo", "listed:"],
                                     "files": [str(etc / "svc"), str(etc / "big.cfg"), str(etc / "absent")],
                                     "records": str(tmp_path / "facts" / "dcos_*.fact"), "since": "-1h",
                                     "lines": "10", "max_file": "1024"}))  # as Ansible templates them
    out = tmp_path / "host.tar.gz"
    subprocess.run([sys.executable, str(COLLECT), str(spec_file), str(out)], check=True, timeout=300)
    assert out.stat().st_mode & 0o077 == 0
    with tarfile.open(out) as tar:
        members = {m.name: tar.extractfile(m).read().decode() for m in tar if m.isfile()}
    for part in ("host", "disk", "memory", "clock", "ports", "network", "firewall", "units-failed",
                 "journal-errors", "processes", "docker"):
        assert f"system/{part}.txt" in members, sorted(members)
    assert "listed: dcos-no-such-package" in members["versions.txt"] and "collect.json" in members
    conf = members[f"config{etc}/svc/app.conf"]
    assert "port = 8080" in conf and "password = (redacted)" in conf
    assert json.loads(members[f"config{etc}/svc/agent.json"])["acl"]["tokens"]["agent"] == "(redacted)"
    index = members["config/INDEX.txt"]
    assert f"{etc}/svc/tls.key" in index and "withheld: its name says" in index
    assert f"{etc}/svc/secret  " in index and f"config{etc}/svc/secret" not in members
    assert f"{etc}/big.cfg" in index and "larger than 1024 bytes" in index
    assert f"{etc}/absent  absent" in index
    assert not any(n.startswith("units/") for n in members)  # an absent unit is skipped
    assert not any(n.startswith("errors/") for n in members), [members[n] for n in members if n.startswith("errors/")]
    whole = "\n".join(members.values())
    for secret in ("Vx91kQz7", "0b3c-token-Yy", "AAAA", "Bare0nlyValue99"):
        assert secret not in whole, secret
    commands = json.loads(members["collect.json"])["commands"]
    assert commands and all("rc" in c or "error" in c for c in commands)


def test_the_spec_covers_every_component_of_the_catalogue():
    made = spec("-24h")
    for component in CATALOGUE:
        for family in FAMILIES:
            assert set(component.units[family]) <= set(made["units"][family]), component.name
        assert set(component.files) <= set(made["files"]), component.name
    assert made["since"] == "-24h"


@pytest.mark.parametrize(("given", "since"), [(None, "-24h"), ("90m", "-90min"), ("7d", "-7d"), (" 2H ", "-2h")])
def test_since(given, since):
    assert parse_since(given) == (since, None)


@pytest.mark.parametrize("given", ["yesterday", "0h", "-1h", "24", "400d", "1h; rm -rf /", "1w"])
def test_since_refuses_anything_else(given):
    value, error = parse_since(given)
    assert value is None and "--since" in error


@pytest.fixture
def cfg_file(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "config.cfg")
    return folder / "config.cfg"


def test_hosts_by_name_or_address(cfg_file):
    cfg = load_config(cfg_file)
    master = cfg.group("masters")[0]
    assert select_hosts(cfg, None) == (cfg.all_hosts(), [])
    chosen, errors = select_hosts(cfg, f"{master.name},{master.ip}")
    assert chosen == [master] and errors == []  # one master alone is fine: nothing changes
    chosen, errors = select_hosts(cfg, "nosuchhost")
    assert chosen == [] and "'nosuchhost' is not a host of config.cfg" in errors[0]


@pytest.mark.parametrize(("args", "message"), [
    (["diagnostics", "--since", "yesterday"], "--since 'yesterday'"),
    (["diagnostics", "--check"], "--check: not with diagnostics"),
    (["diagnostics", "--limit", "master1"], "--limit: not with diagnostics"),
    (["diagnostics", "--hosts", "nosuchhost"], "'nosuchhost' is not a host"),
    (["--since", "1h"], "--since and --out go with diagnostics"),
])
def test_the_command_refuses_bad_input_before_any_host(cfg_file, capsys, args, message):
    runs = cfg_file.parent / "runs"
    assert main([str(cfg_file), *args, "--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err
    assert not runs.exists()


def test_the_archive_masks_every_known_secret_and_names_the_missing_hosts(cfg_file, tmp_path):
    cfg = load_config(cfg_file)
    hosts = [h.id for h in cfg.all_hosts()]
    runs = tmp_path / "runs"
    run_dir = runs / f"20261201-100000-{cfg.cluster.name}"
    earlier = runs / f"20261130-090000-{cfg.cluster.name}"
    other = runs / "20261130-090000-another"
    for folder in (run_dir, earlier, other):
        (folder / "env").mkdir(parents=True)
    (earlier / "summary.json").write_text('{"status": "successful"}')
    (earlier / "env" / "extravars").write_text("not taken")
    (other / "summary.json").write_text("another cluster's")
    (run_dir / "events.jsonl").write_text(json.dumps(
        {"type": "host_result", "host": hosts[1], "status": "ok", "msg": "cannot be reached (timed out): ..."}) + "\n")
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    part = tmp_path / "part"
    (part / "units").mkdir(parents=True)
    (part / "units" / "x.journal.txt").write_text("a log line that printed Gh7secretValue by mistake\n")
    with tarfile.open(fetched / f"{hosts[0]}.tar.gz", "w:gz") as tar:
        tar.add(part / "units", arcname="units")
    run = SimpleNamespace(cfg=cfg, run_dir=SimpleNamespace(path=run_dir, events_file=run_dir / "events.jsonl"),
                          options=SimpleNamespace(runs_dir=runs, archive_out=None, limit=None,
                                                  extravars={"dcos_diagnostics_spec": {"since": "-24h"}}),
                          scrubber=Scrubber(["Gh7secretValue"]))
    path, manifest = assemble(run, fetched)
    assert path.parent == run_dir and path.stat().st_mode & 0o077 == 0
    with tarfile.open(path) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read().decode() for m in tar}
    assert "Gh7secretValue" not in "".join(members.values())
    assert "********" in members[f"hosts/{hosts[0]}/units/x.journal.txt"]
    assert manifest["hosts"][hosts[0]] == {"collected": True, "files": 1}
    assert manifest["hosts"][hosts[1]]["collected"] is False
    assert manifest["hosts"][hosts[1]]["why"].startswith("cannot be reached")
    assert "did not finish" in manifest["hosts"][hosts[2]]["why"]
    assert manifest["runs"] == [earlier.name]
    assert set(members) == {f"hosts/{hosts[0]}/units/x.journal.txt", f"runs/{earlier.name}/summary.json",
                            "manifest.json"}
    assert set(json.loads(members["manifest.json"])["sha256"]) == set(members) - {"manifest.json"}
    assert "summary.json" in RUN_FILES


def test_the_portal_api_refuses_the_same_input(cfg_file):
    from installer.api import ConfigInvalid, start_diagnostics

    with pytest.raises(ConfigInvalid) as raised:
        start_diagnostics(cfg_file, hosts="nosuchhost", since="yesterday", runs_dir=cfg_file.parent / "runs")
    messages = [e.message for e in raised.value.errors]
    assert any("nosuchhost" in m for m in messages) and any("--since" in m for m in messages)
    assert not (cfg_file.parent / "runs").exists()
