"""./install.sh config.cfg uninstall: the hosts it takes, the plan it prints, what it refuses,
and the role's choice of what goes, made from a host's own records (Ansible's templating of
roles/uninstall/vars over made-up records): never a component without a record of ours, never
the package of an adopted one. The run itself is in the e2e cluster test (its last step)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from installer.catalogue import CATALOGUE, FAMILIES
from installer.cli import main
from installer.config import load_config
from installer.uninstall import catalogue_vars, plan, render, select_hosts
from tests.unit.roles import role_vars

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"


@pytest.fixture
def cfg_file(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "config.cfg")
    return folder / "config.cfg"


@pytest.fixture
def cfg(cfg_file):
    return load_config(cfg_file)


def test_every_removed_component_says_what_goes_for_both_families(cfg):
    entries = catalogue_vars(cfg)
    assert [e["name"] for e in entries] == [c.name for c in CATALOGUE]
    for entry in entries:
        for key in ("units", "packages", "family_files"):
            assert set(entry[key]) == set(FAMILIES), (entry["name"], key)
        if entry["keep"]:
            continue
        for family in FAMILIES:
            # Something that is the component: its package, or the files a package would hold.
            assert entry["packages"][family] or entry["files"] or entry["family_files"][family], (entry["name"], family)
        assert all(d["path"] or d["record"] for d in entry["data"])


def test_the_data_folders_follow_the_hosts_records_first(cfg):
    zookeeper = next(e for e in catalogue_vars(cfg) if e["name"] == "zookeeper")
    assert zookeeper["data"] == [{"what": "ZooKeeper's data", "path": cfg.zookeeper.data_dir, "record": "zookeeper",
                                 "identity": []}]


def test_hosts_by_name_or_address_and_the_masters_all_or_none(cfg):
    every, errors = select_hosts(cfg, None)
    assert errors == [] and every == cfg.all_hosts()
    agent = cfg.group("agents")[0]
    chosen, errors = select_hosts(cfg, f"{agent.id},{agent.ip}")
    assert errors == [] and chosen == [agent]
    _, errors = select_hosts(cfg, "nosuchhost")
    assert errors and "not a host of config.cfg" in errors[0]
    master = cfg.group("masters")[0]
    _, errors = select_hosts(cfg, master.id)
    assert errors and "not every master" in errors[0]
    masters = ",".join(h.id for h in cfg.group("masters"))
    assert select_hosts(cfg, masters)[1] == []


def test_the_plan_names_each_host_what_goes_and_the_data(cfg):
    hosts = cfg.all_hosts()
    text = render(cfg, plan(cfg, hosts), purge_data=False, everything=True)
    for host in hosts:
        assert f"  {host.id} (" in text
    assert "zookeeper" in text and "keep data: " in text and "DELETE" not in text
    assert "keep installed" in text and "chrony" in text  # the time service stays
    purged = render(cfg, plan(cfg, hosts), purge_data=True, everything=True)
    assert "DELETE data: " in purged and cfg.zookeeper.data_dir in purged
    assert "drained" not in text  # every host goes: nothing to drain to


def test_agents_uninstalled_while_the_masters_stay_are_drained_first(cfg):
    agent = cfg.group("agents")[0]
    text = render(cfg, plan(cfg, [agent]), purge_data=False, everything=False)
    assert f"First drained: {agent.id} (Mesos maintenance" in text
    lb_only = [h for h in cfg.all_hosts() if h not in cfg.group("agents") and h not in cfg.group("masters")]
    assert "drained" not in render(cfg, plan(cfg, lb_only), purge_data=False, everything=False)


def test_bad_uninstall_commands_are_refused_before_any_host(cfg_file, capsys, monkeypatch):
    import installer.runner

    def refuse(*args, **kwargs):
        raise AssertionError("a run was started")

    monkeypatch.setattr(installer.runner.Run, "start", refuse)
    assert main([str(cfg_file), "uninstall", "--phases", "zookeeper"]) == 2
    assert "not with uninstall" in capsys.readouterr().err
    # The command may come after options too (as the e2e tests and scripts write it).
    assert main([str(cfg_file), "--runs-dir", str(cfg_file.parent / "runs"), "uninstall", "--hosts", "nosuchhost"]) == 2
    assert "not a host of config.cfg" in capsys.readouterr().err
    assert main([str(cfg_file), "--purge-data"]) == 2
    assert "go with uninstall" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(cfg_file), "unistall"])
    assert exit_.value.code == 2 and "invalid choice: 'unistall'" in capsys.readouterr().err
    # Not on a terminal and no --yes: the plan, then a refusal (nothing asked, nothing run).
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main([str(cfg_file), "uninstall"]) == 2
    out = capsys.readouterr()
    assert "stop and remove:" in out.out and "pass --yes" in out.err


def test_purging_data_asks_for_the_clusters_name(cfg, cfg_file, capsys, monkeypatch):
    import installer.runner

    started = []
    monkeypatch.setattr(installer.runner.Run, "start", lambda *a, **k: started.append(a) or (_ for _ in ()).throw(
        installer.runner.RunBusy("stop here")))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main([str(cfg_file), "uninstall", "--purge-data"]) == 1  # "y" is not the cluster's name
    assert started == []
    monkeypatch.setattr("builtins.input", lambda prompt: cfg.cluster.name)
    assert main([str(cfg_file), "uninstall", "--purge-data"]) == 2  # RunBusy: the run was asked for
    assert len(started) == 1


def _chosen(cfg, records: dict, family: str = "Debian") -> dict:
    values = role_vars("uninstall", family, uninstall_catalogue=catalogue_vars(cfg), ansible_local=records,
                       ansible_facts={"os_family": family})
    templar = Templar(loader=DataLoader(), variables=values)
    get = lambda name: templar.template("{{ " + name + " }}")  # noqa: E731
    return {"remove": [e["name"] for e in get("__uninstall_remove")], "kept": get("__uninstall_kept"),
            "clients": get("__uninstall_clients"), "packages": get("__uninstall_packages"),
            "units": get("__uninstall_units"), "files": get("__uninstall_files") + get("__uninstall_identity_paths"),
            "data": get("__uninstall_data_paths")}


def test_only_what_the_host_records_goes_dependents_first(cfg):
    mine = {"installed_by": "dcos-installer", "adopted": False}
    client = {"mode": "client"}
    chosen = _chosen(cfg, {"dcos_docker": mine, "dcos_zookeeper": mine, "dcos_marathon": mine, "dcos_ntp": client,
                           "dcos_common": {}, "dcos_repo": client, "dcos_registry": client})
    assert chosen["remove"] == ["firewall", "marathon", "zookeeper", "docker"]  # the reverse of the install
    assert chosen["kept"] == ["chrony"]
    assert chosen["clients"] == ["nginx", "docker-registry"]  # their servers are on the installer host
    assert "nginx" not in chosen["packages"] and "haproxy" not in chosen["packages"]
    assert {"zookeeper", "libzookeeper-java", "marathon", "docker.io"} <= set(chosen["packages"])
    assert chosen["units"] == ["dcos-firewall", "dcos-marathon", "zookeeper", "docker"]


def test_an_adopted_component_keeps_its_package_and_service(cfg):
    chosen = _chosen(cfg, {"dcos_haproxy": {"adopted": True}, "dcos_keepalived": {"adopted": False}}, "RedHat")
    assert chosen["remove"] == ["keepalived"]
    assert chosen["kept"] == ["haproxy"]
    assert chosen["packages"] == ["keepalived"] and "haproxy" not in chosen["units"]


def test_a_host_without_records_loses_nothing(cfg):
    chosen = _chosen(cfg, {"other_fact": {"x": 1}})
    assert chosen == {"remove": [], "kept": [], "clients": [], "packages": [], "units": [], "files": [], "data": []}


def test_redhat_hosts_lose_the_files_their_packages_would_hold(cfg):
    chosen = _chosen(cfg, {"dcos_consul": {}, "dcos_cadvisor": {}}, "RedHat")
    assert "/usr/local/bin/consul" in chosen["files"] and "/usr/local/bin/cadvisor" in chosen["files"]
    assert chosen["packages"] == []


def test_the_portals_api_refuses_the_same_host_lists(cfg, cfg_file):
    from installer import api
    from installer.config import ConfigInvalid

    master = cfg.group("masters")[0]
    with pytest.raises(ConfigInvalid) as refused:
        api.start_uninstall(cfg_file, hosts=master.id)
    assert "not every master" in refused.value.errors[0].message


def test_one_run_options_for_the_cli_and_the_api(cfg, tmp_path):
    from installer.uninstall import run_options

    agent = cfg.group("agents")[0]
    some = run_options(cfg, [agent], True, runs_dir=tmp_path)
    assert some.operation == "uninstall" and some.limit == agent.id and some.runs_dir == tmp_path
    assert some.extravars["dcos_uninstall_purge_data"] is True
    assert [e["name"] for e in some.extravars["dcos_catalogue"]] == [c.name for c in CATALOGUE]
    assert run_options(cfg, cfg.all_hosts(), False).limit is None  # every host: no --limit at all


def test_the_plan_warns_when_the_installer_host_goes_alone(cfg):
    text = render(cfg, plan(cfg, [cfg.installer]), purge_data=False, everything=False)
    assert "The installer host goes" in text and "the others stay" in text
    assert "The installer host goes" not in render(cfg, plan(cfg, cfg.all_hosts()), False, True)


def test_with_json_the_plan_goes_to_stderr(cfg_file, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main([str(cfg_file), "uninstall", "--json"]) == 2  # no --yes on a non-terminal
    out = capsys.readouterr()
    assert out.out == "" and "stop and remove:" in out.err


def test_the_data_folders_held_from_the_purge_are_where_the_records_say(cfg):
    records = {"dcos_zookeeper": {}, "dcos_consul": {}, "dcos_docker": {},
               "dcos_cluster": {"data_dirs": {"zookeeper": "/data/zk"}}}
    chosen = _chosen(cfg, records)
    assert chosen["data"] == ["/var/lib/consul", "/data/zk", "/var/lib/docker"]  # dependents first


def test_a_kept_agent_work_dir_loses_the_agents_id(cfg):
    chosen = _chosen(cfg, {"dcos_mesos_agent": {}, "dcos_cluster": {"data_dirs": {"mesos_agent": "/data/agent"}}})
    assert "/data/agent" in chosen["data"]
    assert "/data/agent/meta/slaves/latest" in chosen["files"]


HOLD = TOP / "roles" / "uninstall" / "files" / "hold-data.sh"


def _hold(*args, state: Path, holds: Path) -> subprocess.CompletedProcess:
    script = HOLD.read_text().replace("state=/var/lib/dcos-uninstall-held", f"state={state}")
    script = script.replace("holds=/run/dcos-uninstall-held", f"holds={holds}")
    return subprocess.run(["sh", "-c", script, "hold-data.sh", *args], capture_output=True, text=True, check=False)


def test_held_data_folders_survive_a_purge_script_and_come_back(tmp_path):
    """What Debian's zookeeper postrm does on purge (rm -rf /var/lib/zookeeper), between a hold
    and a release: the data is back, the state forgotten, and a second release does nothing."""
    state, holds = tmp_path / "held", tmp_path / "holds"
    data = tmp_path / "var-lib-zookeeper"
    (data / "version-2").mkdir(parents=True)
    (data / "version-2" / "snapshot.0").write_text("znodes")
    absent = tmp_path / "never-made"
    done = _hold("hold", str(data), str(absent), state=state, holds=holds)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"held {data} at {data}.dcos-uninstall-held"
    assert not data.exists()
    shutil.rmtree(data, ignore_errors=True)  # the purge script
    data.mkdir()  # a package that makes its folder again, empty
    done = _hold("release", state=state, holds=holds)
    assert done.returncode == 0, done.stderr
    assert (data / "version-2" / "snapshot.0").read_text() == "znodes"
    assert not state.exists() and not Path(f"{data}.dcos-uninstall-held").exists()
    assert _hold("release", state=state, holds=holds).stdout == ""


def test_a_hold_left_by_a_failed_run_is_released_before_the_next(tmp_path):
    state, holds = tmp_path / "held", tmp_path / "holds"
    data = tmp_path / "consul"
    data.mkdir()
    (data / "raft.db").write_text("peers")
    assert _hold("hold", str(data), state=state, holds=holds).returncode == 0
    again = _hold("hold", str(data), state=state, holds=holds)  # the run died; the next one holds again
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"released {data}", f"held {data} at {data}.dcos-uninstall-held"]
    assert _hold("release", state=state, holds=holds).returncode == 0
    assert (data / "raft.db").read_text() == "peers"


def test_a_folder_in_the_way_of_the_release_stops_it_and_keeps_the_data(tmp_path):
    state, holds = tmp_path / "held", tmp_path / "holds"
    data = tmp_path / "mysql"
    data.mkdir()
    (data / "ibdata1").write_text("rows")
    assert _hold("hold", str(data), state=state, holds=holds).returncode == 0
    data.mkdir()
    (data / "new").write_text("something made meanwhile")
    done = _hold("release", state=state, holds=holds)
    assert done.returncode == 1 and "is not empty" in done.stderr
    assert (Path(f"{data}.dcos-uninstall-held") / "ibdata1").read_text() == "rows"
    assert state.exists()  # a later release still knows where it is


def test_the_operator_is_told_which_config_lines_name_the_uninstalled_hosts(cfg_file):
    from installer.uninstall import config_lines, render_followup

    text = cfg_file.read_text()  # the example has agent2, the MySQL slave
    cfg = load_config(cfg_file)
    agent2 = next(h for h in cfg.all_hosts() if h.id == "agent2")
    lines = config_lines(text, [agent2])
    assert [(section, line) for _, section, line in lines] == [("agents", "agent2 = 10.0.0.22"),
                                                              ("mysql", "slave = agent2")]
    number = lines[0][0]
    assert text.splitlines()[number - 1] == "agent2 = 10.0.0.22"
    said = render_followup("site/config.cfg", lines, [agent2])
    assert said.splitlines()[0].startswith("agent2 uninstalled; the other hosts still list it. Take these lines out")
    assert f"  line {number} [agents]: agent2 = 10.0.0.22" in said
    master1 = next(h for h in cfg.all_hosts() if h.id == "master1")
    assert ("lb", "master1") in [(s, line) for _, s, line in config_lines(text, [master1])]  # a bare name too


STOP_LEAVING = TOP / "roles" / "uninstall" / "files" / "stop-leaving.sh"


def test_a_mesos_agent_is_stopped_before_its_tasks_are_killed(tmp_path):
    """The agent's unit restarts by itself after a kill (and was given the killed task again):
    stop-leaving.sh stops it first, then kills what works in its sandboxes; a process elsewhere
    is left alone, and a second call (the unit stopped, nothing left) does nothing."""
    bin_dir, work = tmp_path / "bin", tmp_path / "agent"
    bin_dir.mkdir()
    sandbox = work / "slaves" / "S0" / "executors" / "e2e_sleeper" / "runs" / "1"
    sandbox.mkdir(parents=True)
    state, calls = tmp_path / "state", tmp_path / "calls"
    state.write_text("active")
    systemctl = bin_dir / "systemctl"  # answers as systemd would for a running agent, then a stopped one
    systemctl.write_text(f"""#!/bin/sh
echo "$*" >> {calls}
case $1 in
  is-active) cat {state} ;;
  stop) echo inactive > {state} ;;
  show) echo ;;
esac
""")
    systemctl.chmod(0o755)
    task = subprocess.Popen(["sleep", "300"], cwd=sandbox)
    bystander = subprocess.Popen(["sleep", "300"], cwd=tmp_path)
    try:
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
        done = subprocess.run(["sh", str(STOP_LEAVING), "dcos-mesos-agent", str(work)], env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["stopped dcos-mesos-agent.service", f"killed {task.pid} (sleep)"]
        assert task.wait(timeout=5) == -9
        assert bystander.poll() is None
        assert calls.read_text().splitlines()[:2] == ["is-active dcos-mesos-agent.service",
                                                      "stop dcos-mesos-agent.service"]
        again = subprocess.run(["sh", str(STOP_LEAVING), "dcos-mesos-agent", str(work)], env=env,
                               capture_output=True, text=True, check=False)
        assert (again.returncode, again.stdout) == (0, "")
    finally:
        for proc in (task, bystander):
            proc.kill()
            proc.wait()
