"""The `stamp` module (the fast path of a re-run), run as Ansible runs it: a role whose input
and state are as recorded is converged; any file, unit, package, command output, marker or
input that differs is named, and an unrecorded host is never converged."""

import json
import subprocess
import sys
from pathlib import Path

MODULES = Path(__file__).resolve().parents[2] / "collections/ansible_collections/dcos/installer/plugins/modules"


def run(tmp_path: Path, check: bool = False, **args) -> dict:
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check}}))
    proc = subprocess.run([sys.executable, str(MODULES / "stamp.py"), str(args_file)],
                          capture_output=True, text=True, check=False)
    result = json.loads(proc.stdout)
    assert ("failed" in result) == (proc.returncode != 0), proc.stderr
    return result


def _role(tmp_path: Path, **more) -> dict:
    conf = tmp_path / "chrony.conf"
    return {"role": "ntp", "input": "digest-1", "path": str(tmp_path / "stamps"), "files": [str(conf)],
            "commands": [["cat", str(conf)]], "markers": [str(tmp_path / "facts.d" / "*.restart-pending")],
            "run": "20261203-100000-demo", **more}


def test_an_unrecorded_host_is_not_converged_then_a_recorded_one_is(tmp_path):
    (tmp_path / "chrony.conf").write_text("server 10.0.0.10 iburst\n")
    first = run(tmp_path, **_role(tmp_path))
    assert not first["converged"] and first["differs"] == ["no record of an earlier run"]
    written = run(tmp_path, action="write", **_role(tmp_path))
    assert not written["changed"]
    record = tmp_path / "stamps" / "ntp.json"
    assert oct(record.stat().st_mode & 0o777) == "0o600" and oct(record.parent.stat().st_mode & 0o777) == "0o700"
    again = run(tmp_path, **_role(tmp_path))
    assert again["converged"] and again["differs"] == [] and again["since"] == "20261203-100000-demo"


def test_each_kind_of_difference_is_named(tmp_path):
    (tmp_path / "chrony.conf").write_text("server 10.0.0.10 iburst\n")
    run(tmp_path, action="write", **_role(tmp_path))
    (tmp_path / "chrony.conf").write_text("server 10.9.9.9 iburst\n")
    drifted = run(tmp_path, **_role(tmp_path))
    assert not drifted["converged"]
    assert f"file {tmp_path / 'chrony.conf'}: changed" in drifted["differs"], drifted
    assert f"command cat {tmp_path / 'chrony.conf'}: changed" in drifted["differs"], drifted
    run(tmp_path, action="write", **_role(tmp_path))
    assert run(tmp_path, **_role(tmp_path, input="digest-2"))["differs"] == [
        "input (config.cfg, the secrets, the bundle or the installer changed)"]
    (tmp_path / "facts.d").mkdir()
    (tmp_path / "facts.d" / "dcos_ntp.restart-pending").write_text("")
    pending = run(tmp_path, **_role(tmp_path))
    assert pending["differs"] == [f"pending: {tmp_path / 'facts.d' / 'dcos_ntp.restart-pending'}"]
    (tmp_path / "facts.d" / "dcos_ntp.restart-pending").unlink()
    (tmp_path / "chrony.conf").unlink()
    gone = run(tmp_path, **_role(tmp_path))
    assert f"file {tmp_path / 'chrony.conf'}: missing" in gone["differs"]
    more = run(tmp_path, **_role(tmp_path, packages=["surely-not-a-package-x"]))
    assert "package surely-not-a-package-x: not recorded" in more["differs"]


def test_check_mode_records_nothing_and_a_damaged_record_is_no_record(tmp_path):
    (tmp_path / "chrony.conf").write_text("server 10.0.0.10 iburst\n")
    dry = run(tmp_path, check=True, action="write", **_role(tmp_path))
    assert not dry["changed"] and not (tmp_path / "stamps" / "ntp.json").exists()
    run(tmp_path, action="write", **_role(tmp_path))
    (tmp_path / "stamps" / "ntp.json").write_text('{"format": 1, "items": "not a dict"}')
    assert run(tmp_path, **_role(tmp_path))["differs"] == ["no record of an earlier run"]
    refused = run(tmp_path, **_role(tmp_path, role="../escape"))
    assert refused["failed"] and "not a plain name" in refused["msg"]


def test_drift_the_role_did_not_bring_back_is_never_recorded_as_converged(tmp_path):
    conf = tmp_path / "chrony.conf"
    conf.write_text("server 10.0.0.10 iburst\n")
    run(tmp_path, action="write", **_role(tmp_path))
    conf.write_text("server 10.9.9.9 iburst\n")
    check = run(tmp_path, **_role(tmp_path))
    assert check["drifted"] == [f"command cat {conf}", f"file {conf}"], check
    # The role ran and left the file as it found it: nothing recorded, said, and run again next time.
    kept = run(tmp_path, action="write", drifted=check["drifted"], **_role(tmp_path))
    assert not kept["recorded"] and kept["unrepaired"] == check["drifted"], kept
    assert any("did not bring back" in w for w in kept.get("warnings", [])), kept
    assert not run(tmp_path, **_role(tmp_path))["converged"]
    # The role brought it back: recorded, and converged.
    conf.write_text("server 10.0.0.10 iburst\n")
    fixed = run(tmp_path, action="write", drifted=check["drifted"], **_role(tmp_path))
    assert fixed["recorded"] and fixed["unrepaired"] == []
    assert run(tmp_path, **_role(tmp_path))["converged"]
    # A new input may change any item: what the role leaves is recorded, and nothing is drift.
    conf.write_text("server 10.9.9.9 iburst\n")
    changed_input = run(tmp_path, **_role(tmp_path, input="digest-2"))
    assert changed_input["drifted"] == []
    assert run(tmp_path, action="write", drifted=check["drifted"], **_role(tmp_path, input="digest-2"))["recorded"]
    # A package the operator upgraded is not the role's to undo: recorded.
    pkg = _role(tmp_path, input="digest-2", packages=["surely-not-a-package-x"])
    run(tmp_path, action="write", **pkg)
    assert run(tmp_path, action="write", drifted=["package surely-not-a-package-x"], **pkg)["recorded"]


def test_a_file_made_readable_to_all_is_drift_and_no_record_holds_a_plain_hash(tmp_path):
    """Mode and owner are state (a credential file chmod'ed 0644 is not converged), and the
    record holds no plain hash of any file (it would let its reader test guesses of a secret
    the file holds) nor the input itself, which keys every other item."""
    import hashlib

    conf = tmp_path / "chrony.conf"
    conf.write_text("zk://user:a-weak-password@10.0.0.11:2181/mesos\n")
    conf.chmod(0o600)
    run(tmp_path, action="write", **_role(tmp_path))
    conf.chmod(0o644)
    check = run(tmp_path, **_role(tmp_path))
    assert f"file {conf}: mode or owner changed" in check["differs"], check
    text = (tmp_path / "stamps" / "ntp.json").read_text()
    assert hashlib.sha256(conf.read_bytes()).hexdigest() not in text
    assert "digest-1" not in text and "a-weak-password" not in text
    conf.chmod(0o600)
    assert run(tmp_path, **_role(tmp_path))["converged"]


def test_what_a_command_prints_on_stderr_is_not_state(tmp_path):
    """nft 0.9.8 (Debian 11) warns "XT target DNAT not found" on stderr for every iptables-nft
    rule of another table, which come and go with Docker: found by the e2e cluster's Debian 11
    master, whose record of the firewall table held them and never compared again (the role ran
    on every re-run). The exit code and stdout are the state; stderr is not."""
    (tmp_path / "chrony.conf").write_text("server 10.0.0.10 iburst\n")
    noise = tmp_path / "noise"
    noise.write_text("XT target DNAT not found\n")
    command = ["sh", "-c", f"cat {tmp_path / 'chrony.conf'}; cat {noise} >&2"]
    run(tmp_path, action="write", **_role(tmp_path, commands=[command]))
    noise.write_text("")
    assert run(tmp_path, **_role(tmp_path, commands=[command]))["converged"]
    # The exit code still counts: the same output, now failing, differs.
    code = tmp_path / "code"
    code.write_text("0")
    exits = ["sh", "-c", f"echo same; exit $(cat {code})"]
    run(tmp_path, action="write", **_role(tmp_path, commands=[exits]))
    assert run(tmp_path, **_role(tmp_path, commands=[exits]))["converged"]
    code.write_text("3")
    assert f"command {' '.join(exits)}: changed" in run(tmp_path, **_role(tmp_path, commands=[exits]))["differs"]


def test_a_survey_asks_every_role_at_once_from_what_its_record_says_it_asked(tmp_path):
    (tmp_path / "chrony.conf").write_text("server 10.0.0.10 iburst\n")
    stamps = str(tmp_path / "stamps")
    run(tmp_path, action="write", **_role(tmp_path))
    answer = run(tmp_path, action="survey", path=stamps, inputs={"ntp": "digest-1", "docker": "digest-9"})
    assert not answer["changed"]
    assert answer["roles"]["ntp"] == {"converged": True, "differs": []}
    assert answer["roles"]["docker"] == {"converged": False, "differs": ["no record of an earlier run"]}
    assert "digest-1" not in json.dumps(answer)
    # Each kind of difference the check sees, the survey sees: an input, a file, a marker.
    assert not run(tmp_path, action="survey", path=stamps, inputs={"ntp": "digest-2"})["roles"]["ntp"]["converged"]
    (tmp_path / "chrony.conf").write_text("server 10.9.9.9 iburst\n")
    drifted = run(tmp_path, action="survey", path=stamps, inputs={"ntp": "digest-1"})["roles"]["ntp"]
    assert not drifted["converged"] and f"file {tmp_path / 'chrony.conf'}: changed" in drifted["differs"]
    run(tmp_path, action="write", **_role(tmp_path))
    (tmp_path / "facts.d").mkdir()
    (tmp_path / "facts.d" / "dcos_ntp.restart-pending").write_text("")
    pending = run(tmp_path, action="survey", path=stamps, inputs={"ntp": "digest-1"})["roles"]["ntp"]
    assert pending == {"converged": False,
                       "differs": [f"pending: {tmp_path / 'facts.d' / 'dcos_ntp.restart-pending'}"]}


def test_a_survey_never_takes_a_record_that_does_not_say_what_was_asked(tmp_path):
    (tmp_path / "chrony.conf").write_text("server 10.0.0.10 iburst\n")
    run(tmp_path, action="write", **_role(tmp_path))
    record = tmp_path / "stamps" / "ntp.json"
    older = json.loads(record.read_text())
    del older["asked"]  # as an older installer wrote it
    record.write_text(json.dumps(older))
    assert run(tmp_path, **_role(tmp_path))["converged"]  # the role's own check still takes it
    answer = run(tmp_path, action="survey", path=str(tmp_path / "stamps"), inputs={"ntp": "digest-1", "../x": "0" * 64})
    assert answer["roles"]["ntp"] == {"converged": False, "differs": ["the record does not say what the role asked"]}
    assert not answer["roles"]["../x"]["converged"]
    assert "required" in run(tmp_path, action="check", path=str(tmp_path / "stamps"), role="ntp")["msg"]
