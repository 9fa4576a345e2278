"""The two modules every role leans on, run as Ansible runs them (a Python process reading its
arguments): `claim` (who installed a component; refuse a foreign one) and `probe` (units,
paths, kernel settings, names in one round trip)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.plugins.filter.core import to_nice_json

MODULES = Path(__file__).resolve().parents[2] / "collections/ansible_collections/dcos/installer/plugins/modules"
sys.path.insert(0, str(MODULES.parents[4]))

from ansible_collections.dcos.installer.plugins.modules import probe  # noqa: E402


def run(module: str, tmp_path: Path, check: bool = False, **args) -> dict:
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check}}))
    proc = subprocess.run([sys.executable, str(MODULES / f"{module}.py"), str(args_file)],
                          capture_output=True, text=True, check=False)
    result = json.loads(proc.stdout)
    assert ("failed" in result) == (proc.returncode != 0), proc.stderr
    return result


@pytest.fixture()
def host(tmp_path):
    """A fake host root: the marker goes to facts.d under it (made by the module)."""
    return {"marker": str(tmp_path / "facts.d" / "dcos_zookeeper.fact"), "version": "1.2.3",
            "what": "ZooKeeper", "host": "master1", "hint": "Remove it, or set [cluster] adopt = zookeeper."}


def test_a_clean_host_is_marked_once_and_then_left_alone(tmp_path, host):
    jar = tmp_path / "zookeeper.jar"
    first = run("claim", tmp_path, footprint=[str(jar)], record={"myid": 2}, **host)
    assert first["changed"] and not first["marked"] and first["found"] == []
    marker = Path(host["marker"])
    assert json.loads(marker.read_text()) == {"installed_by": "dcos-installer", "version": "1.2.3",
                                              "myid": 2, "adopted": False}
    assert oct(marker.stat().st_mode & 0o777) == "0o644"
    assert oct(marker.parent.stat().st_mode & 0o777) == "0o755"
    jar.write_text("")  # the package is installed now: still ours
    again = run("claim", tmp_path, footprint=[str(jar)], record={"myid": 2}, version="9.9", **{
        k: v for k, v in host.items() if k != "version"})
    assert not again["changed"] and again["marked"] and again["found"] == [str(jar)]
    assert json.loads(marker.read_text())["version"] == "1.2.3"  # who installed it, kept


def test_a_foreign_install_is_refused_with_what_was_found_and_nothing_written(tmp_path, host):
    jar = tmp_path / "zookeeper.jar"
    jar.write_text("")
    result = run("claim", tmp_path, footprint=[str(jar), str(tmp_path / "absent")], **host)
    assert result["failed"]
    assert result["msg"] == (f"ZooKeeper is already installed on master1 ({jar}) and was not installed by the "
                             "DCOS installer. Remove it, or set [cluster] adopt = zookeeper.")
    assert not Path(host["marker"]).exists()


def test_adopting_marks_it_adopted_and_a_sibling_marker_makes_it_ours(tmp_path, host):
    binary = tmp_path / "mesos-master"
    binary.write_text("")
    adopted = run("claim", tmp_path, footprint=[str(binary)], adopt=True, **host)
    assert adopted["changed"] and adopted["adopted"]
    assert json.loads(Path(host["marker"]).read_text())["adopted"] is True

    sibling = tmp_path / "dcos_mesos_agent.fact"
    sibling.write_text("{}")
    other = dict(host, marker=str(tmp_path / "facts.d" / "dcos_mesos_master.fact"))
    ours = run("claim", tmp_path, footprint=[str(binary)], ours=[str(sibling)], **other)
    assert ours["changed"] and not ours["adopted"]


def test_a_record_is_rewritten_only_when_it_changes_and_matches_to_nice_json(tmp_path, host):
    marker = Path(host["marker"])
    marker.parent.mkdir()
    fact = {"installed_by": "dcos-installer", "version": "1.2.3", "mode": "client", "service": "chrony"}
    marker.write_text(to_nice_json(fact) + "\n")  # as the copy task of earlier versions wrote it
    same = run("claim", tmp_path, marker=str(marker), version="1.2.3", record={"mode": "client", "service": "chrony"})
    assert not same["changed"]
    checked = run("claim", tmp_path, check=True, marker=str(marker), version="1.2.3", record={"mode": "server"})
    assert checked["changed"] and json.loads(marker.read_text())["mode"] == "client"  # check mode wrote nothing
    changed = run("claim", tmp_path, marker=str(marker), version="1.2.3", record={"mode": "server"})
    assert changed["changed"] and json.loads(marker.read_text()) == {
        "installed_by": "dcos-installer", "version": "1.2.3", "mode": "server"}  # no "adopted" in a record


def test_probe_reads_paths_kernel_settings_names_and_modules(tmp_path):
    present = tmp_path / "here"
    present.write_text("")
    result = run("probe", tmp_path, paths=[str(present), str(tmp_path / "gone")],
                 sysctl=["kernel.ostype", "kernel.no_such_setting"],
                 resolve=["localhost", "no-such-host.invalid"], kernel_modules=["no_such_module_x"])
    assert not result["changed"]
    assert result["paths"] == {str(present): True, str(tmp_path / "gone"): False}
    assert result["sysctl"] == {"kernel.ostype": "Linux", "kernel.no_such_setting": None}
    assert result["addresses"]["localhost"][0] == "127.0.0.1"
    assert result["addresses"]["no-such-host.invalid"] == []
    assert result["kernel_modules"] == {"no_such_module_x": False}
    assert result["hostname"]


class FakeModule:
    def __init__(self, rc: int, out: str):
        self.rc, self.out, self.argv = rc, out, None

    def get_bin_path(self, name):
        return "/bin/" + name

    def run_command(self, argv):
        self.argv = argv
        return self.rc, self.out, ""

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs["msg"])


def test_probe_reads_one_systemctl_show_block_per_unit_in_order():
    out = ("Id=firewalld.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n\n"
           "Id=chrony.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n")
    fake = FakeModule(0, out)
    units, systemd = probe.describe_units(fake, ["firewalld.service", "chrony"])
    assert systemd and fake.argv[-2:] == ["firewalld.service", "chrony.service"]
    assert units["firewalld.service"]["load"] == "not-found"
    assert units["chrony"] == {"load": "loaded", "active": "active", "sub": "running", "enabled": "enabled"}
    with pytest.raises(AssertionError, match="answered for 1 of 2 units"):
        probe.describe_units(FakeModule(0, out.split("\n\n")[0]), ["a", "b"])


def test_probe_without_systemd_reports_every_unit_absent():
    units, systemd = probe.describe_units(FakeModule(1, "System has not been booted with systemd"), ["chrony"])
    assert not systemd and units["chrony"]["load"] == "not-found"


def _replace_as_dpkg_does(path: Path, data: bytes) -> None:
    """dpkg unpacks the new file beside the old one and renames it over: the old inode lives on
    in the processes that run it, marked "(deleted)"."""
    new = path.with_name(path.name + ".dpkg-new")
    new.write_bytes(data)
    new.chmod(path.stat().st_mode)
    new.replace(path)


def test_probe_finds_the_code_a_running_process_lost_to_an_upgrade(tmp_path):
    """A real process: its executable and a jar it holds open are replaced as dpkg replaces
    them, a file it wrote in /tmp is deleted; exactly the two files of its package are named,
    for the unit whose main process it is, and none once it runs the new code."""
    import shutil
    import time

    binary = tmp_path / "usr" / "bin" / "daemon"
    binary.parent.mkdir(parents=True)
    shutil.copy("/bin/sleep", binary)
    jar = tmp_path / "usr" / "share" / "daemon.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK old code")
    scratch = tmp_path / "scratch"
    scratch.write_text("temporary")
    # The two files stay open across the exec (inheritable), as a JVM holds its jars.
    code = (f"import os; fds = [os.open({str(jar)!r}, os.O_RDONLY), os.open({str(scratch)!r}, os.O_RDONLY)]; "
            f"[os.set_inheritable(fd, True) for fd in fds]; os.unlink({str(scratch)!r}); "
            f"os.execv({str(binary)!r}, ['daemon', '60'])")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not Path(f"/proc/{proc.pid}/exe").resolve().name.startswith("daemon"):
            time.sleep(0.05)
        assert probe.deleted_files(proc.pid) == {str(scratch)}  # a temporary file: gone, not code
        _replace_as_dpkg_does(binary, binary.read_bytes())
        _replace_as_dpkg_does(jar, b"PK new code")
        assert probe.deleted_files(proc.pid) == {str(binary), str(jar), str(scratch)}

        class Systemd(FakeModule):
            def run_command(self, argv):
                return 0, f"MainPID={proc.pid}\nControlGroup=\n", ""

        owned = {str(binary), str(jar), str(tmp_path / "usr" / "share" / "doc")}
        original = probe.package_files
        probe.package_files = lambda module, packages: owned if packages == ["daemon"] else set()
        try:
            found = probe.replaced_code(Systemd(0, ""), {"daemon": ["daemon"], "other": ["other"]})
        finally:
            probe.package_files = original
        assert found == {"daemon": sorted([str(binary), str(jar)]), "other": []}
    finally:
        proc.kill()
        proc.wait()


def test_probe_reads_a_packages_files_from_dpkgs_list():
    files = probe.package_files(FakeModule(1, ""), ["dpkg"])
    assert "/usr/bin/dpkg" in files and all(f.startswith("/") for f in files)
    assert probe.package_files(FakeModule(1, ""), ["no-such-package-here"]) == set()


class _Server:
    """A loopback HTTP server: /leader answers 503 twice then a JSON leader; /closed asks for a
    login (401) unless given user:secret; /old redirects to https."""

    def __init__(self):
        import base64
        import http.server
        import threading

        hits = self.hits = {"/leader": 0}
        good = "Basic " + base64.b64encode(b"user:secret").decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # http.server calls it by this name
                if self.path == "/leader":
                    hits["/leader"] += 1
                    code, body = (503, b"not yet") if hits["/leader"] <= 2 else (200, b'{"leader": "m1:8080"}')
                elif self.path == "/closed":
                    code, body = (200, b"[]") if self.headers.get("Authorization") == good else (401, b"")
                elif self.path == "/old":
                    self.send_response(301)
                    self.send_header("Location", "https://example.invalid/old")
                    self.end_headers()
                    return
                else:
                    code, body = 404, b""
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def server():
    srv = _Server()
    yield srv
    srv.httpd.shutdown()


def test_probe_checks_poll_each_until_it_settles_and_report_what_they_saw(tmp_path, server):
    """Every kind of check in one run: a URL answering 503 twice then its leader (asked again
    until it names one), a closed endpoint asked without and with the login, a redirect, a
    command whose output is searched, a name resolved; a check that never settles is returned
    as last seen after its tries, and the module does not fail for it."""
    result = run("probe", tmp_path, checks=[
        {"name": "leader", "url": server.url + "/leader", "until": "key:leader", "retries": 5, "delay": 0},
        {"name": "anonymous", "url": server.url + "/closed", "status": [401], "until": "status"},
        {"name": "login", "url": server.url + "/closed", "username": "user", "password": "secret",
         "until": "json"},
        {"name": "redirect", "url": server.url + "/old", "status": [301]},
        {"name": "down", "url": "http://127.0.0.1:9/", "retries": 2, "delay": 0},
        {"name": "mode", "command": ["printf", "Zookeeper\\nMode: follower\\n"], "until": "^Mode. (leader|follower)"},
        {"name": "never", "command": ["true"], "until": "^nothing", "retries": 3, "delay": 0},
        {"name": "local", "resolve": "localhost", "want": ["127.0.0.1"]},
        {"name": "first", "resolve": "localhost", "want": ["127.0.0.1", "10.0.0.1"], "until": "first"},
    ])
    assert "failed" not in result, result
    c = result["checks"]
    assert c["leader"]["ok"] and c["leader"]["attempts"] == 3 and c["leader"]["json"] == {"leader": "m1:8080"}
    assert server.hits["/leader"] == 3
    assert c["anonymous"]["ok"] and c["anonymous"]["status"] == 401
    assert c["login"]["ok"] and c["login"]["status"] == 200 and c["login"]["json"] == []
    assert c["redirect"]["ok"] and c["redirect"]["location"] == "https://example.invalid/old"
    assert not c["down"]["ok"] and c["down"]["attempts"] == 2 and c["down"]["status"] == -1 and c["down"]["msg"]
    assert c["mode"]["ok"] and c["mode"]["stdout_lines"] == ["Zookeeper", "Mode: follower"]
    assert not c["never"]["ok"] and c["never"]["attempts"] == 3 and c["never"]["rc"] == 0
    assert c["local"]["ok"] and c["local"]["addresses"] == ["127.0.0.1"]
    assert c["first"]["ok"]
    # The password is a no_log option: never in what the module returns.
    assert "secret" not in json.dumps({k: v for k, v in result.items() if k != "invocation"})
    assert "secret" not in json.dumps(result.get("invocation", {}))


def test_probe_checks_run_side_by_side_not_one_after_another():
    """Two checks that never settle, five tries each 1 s apart: about four sleeps in all, not
    eight (rounds, not a sum); a name that settles as a subset when the answer holds at most
    three records, and not when it holds a foreign address."""
    slept = []
    module = type("M", (), {"run_command": staticmethod(lambda argv: (1, "", ""))})()
    checks = [{"name": n, "command": ["x"], "until": "^never", "retries": 5, "delay": 1} for n in ("a", "b")]
    results = probe.poll_checks(module, checks, sleep=slept.append)
    assert slept == [1, 1, 1, 1] and {r["attempts"] for r in results.values()} == {5}
    many = {"name": "dns", "resolve": "x", "want": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"],
            "answers_at_most": 3, "until": None}
    assert probe._settled(many, {"addresses": ["10.0.0.2", "10.0.0.4", "10.0.0.1"]})
    assert not probe._settled(many, {"addresses": ["10.0.0.2", "10.0.0.9"]})
    assert not probe._settled(many, {"addresses": []})
    exact = {**many, "want": ["10.0.0.1", "10.0.0.2"]}
    assert not probe._settled(exact, {"addresses": ["10.0.0.1"]})
    assert probe._settled(exact, {"addresses": ["10.0.0.2", "10.0.0.1"]})


def test_probe_refuses_a_check_that_is_not_exactly_one_kind(tmp_path):
    both = run("probe", tmp_path, checks=[{"name": "x", "command": ["true"], "url": "http://127.0.0.1:9/"}])
    neither = run("probe", tmp_path, checks=[{"name": "x"}])
    assert both["failed"] and "mutually exclusive" in both["msg"]
    assert neither["failed"] and "one of the following is required" in neither["msg"]
