"""Every flag the Mesos and Marathon roles put on a command line is one the real programs
accept (demo/standins/reference/: Mesos 1.11.0 master and agent flag lists, Marathon's options).

The units are rendered by Ansible's own templating (role defaults + vars, like a play), and
the flags are read back from ExecStart as systemd splits it."""

import shlex
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from tests.unit.roles import ROLES, role_vars

REFERENCE = Path(__file__).resolve().parents[2] / "demo" / "standins" / "reference"
ZK = "zk://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/mesos"


def _flag_list(path: Path) -> dict[str, str]:
    """name -> type (bool|value|toggle|flag) from a reference list."""
    flags = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, kind = line.split("\t")[:2]
            flags[name] = kind
    return flags


MASTER_FLAGS = _flag_list(REFERENCE / "mesos-1.11.0" / "master-flags.txt")
AGENT_FLAGS = _flag_list(REFERENCE / "mesos-1.11.0" / "agent-flags.txt")
MARATHON_FLAGS = _flag_list(REFERENCE / "marathon" / "flags.txt")


def render_unit(role: str, unit: str, family: str = "Debian", **overrides) -> str:
    play = {"ansible_play_hosts_all": ["m1", "m2", "m3"], "inventory_hostname": "m1",
            "ansible_facts": {"os_family": family}}
    values = role_vars(role, family, **{**play, **overrides})
    templar = Templar(loader=DataLoader(), variables=values)
    source = (ROLES / role / "templates" / unit).read_text()
    return templar.template(source, escape_backslashes=False)


def exec_start(unit_text: str) -> list[str]:
    """ExecStart split into words the way systemd does (continuations, double quotes)."""
    joined = unit_text.replace("\\\n", " ")
    line = next(line for line in joined.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def mesos_flags(words: list[str]) -> dict[str, str]:
    flags = {}
    for word in words[1:]:
        assert word.startswith("--"), word
        name, _, value = word[2:].partition("=")
        assert name not in flags, f"--{name} given twice"
        flags[name] = value
    return flags


def unknown_mesos(flags: dict[str, str], known: dict[str, str]) -> list[str]:
    bad = []
    for name, value in flags.items():
        kind = known.get(name.removeprefix("no-")) if name.startswith("no-") else known.get(name)
        if kind is None or (kind == "bool" and value not in ("", "true", "false", "0", "1")):
            bad.append(name)
    return bad


def unknown_marathon(words: list[str]) -> list[str]:
    bad = []
    for word in words[1:]:
        name, has_value, _ = word[2:].partition("=")
        plain = name.removeprefix("disable_")
        kind = MARATHON_FLAGS.get(name) or (MARATHON_FLAGS.get(plain) if plain != name else None)
        if kind is None or (kind == "value") != bool(has_value) or (name != plain and kind != "toggle"):
            bad.append(name)
    return bad


@pytest.mark.parametrize("family", ["Debian", "RedHat"])
def test_master_unit_passes_only_known_flags_with_the_cluster_values(family):
    unit = render_unit("mesos_master", "dcos-mesos-master.service.j2", family, mesos_master_zk=ZK,
                       mesos_master_ip="10.0.0.11", mesos_master_hostname="master1", mesos_master_cluster="prod",
                       mesos_master_extra_flags={"hostname_lookup": False, "agent_ping_timeout": "30secs"})
    words = exec_start(unit)
    assert words[0] == "/usr/sbin/mesos-master"
    flags = mesos_flags(words)
    assert unknown_mesos(flags, MASTER_FLAGS) == []
    assert flags["zk"] == ZK
    assert flags["quorum"] == "2"  # three masters
    assert flags["work_dir"] == "/var/lib/mesos/master"
    assert (flags["ip"], flags["port"], flags["hostname"], flags["cluster"]) == ("10.0.0.11", "5050", "master1", "prod")
    assert flags["hostname_lookup"] == "false"  # Mesos refuses "False"


def test_master_quorum_is_a_majority_unless_given():
    for masters, quorum in ((["m1"], "1"), (["m1", "m2", "m3"], "2"), ([f"m{i}" for i in range(5)], "3")):
        unit = render_unit("mesos_master", "dcos-mesos-master.service.j2", mesos_master_zk=ZK,
                           ansible_play_hosts_all=masters)
        assert mesos_flags(exec_start(unit))["quorum"] == quorum
    unit = render_unit("mesos_master", "dcos-mesos-master.service.j2", mesos_master_zk=ZK, mesos_master_quorum=3)
    assert mesos_flags(exec_start(unit))["quorum"] == "3"


def test_agent_unit_passes_only_known_flags():
    unit = render_unit("mesos_agent", "dcos-mesos-agent.service.j2", mesos_agent_master=ZK, mesos_agent_ip="10.0.0.21",
                       mesos_agent_attributes="rack:r1;zone:a", mesos_agent_resources="cpus:4;mem:8192",
                       mesos_agent_docker_registry="https://10.0.0.5:5000",
                       mesos_agent_extra_flags={"reconfiguration_policy": "additive", "docker_stop_timeout": "30secs"})
    words = exec_start(unit)
    assert words[0] == "/usr/sbin/mesos-agent"
    flags = mesos_flags(words)
    assert unknown_mesos(flags, AGENT_FLAGS) == []
    assert flags["master"] == ZK
    assert flags["containerizers"] == "docker,mesos"
    assert flags["attributes"] == "rack:r1;zone:a"  # one word for systemd despite the ';'
    assert flags["executor_registration_timeout"] == "5mins"
    assert "Requires=docker.service" in unit
    assert "KillMode=process" in unit


def test_agent_without_docker_does_not_require_it():
    unit = render_unit("mesos_agent", "dcos-mesos-agent.service.j2", mesos_agent_master=ZK,
                       mesos_agent_containerizers=["mesos"])
    assert mesos_flags(exec_start(unit))["containerizers"] == "mesos"
    assert "docker.service" not in unit


def test_empty_values_are_left_out_not_passed_empty():
    unit = render_unit("mesos_agent", "dcos-mesos-agent.service.j2", mesos_agent_master=ZK)
    flags = mesos_flags(exec_start(unit))
    assert not {"ip", "hostname", "attributes", "resources", "docker_registry"} & set(flags)


def test_marathon_unit_passes_only_known_options_and_no_password():
    unit = render_unit("marathon", "dcos-marathon.service.j2", marathon_master=ZK,
                       marathon_zk=ZK.replace("/mesos", "/marathon"), marathon_hostname="master1",
                       marathon_http_address="10.0.0.11", marathon_username="ops", marathon_password="s3cret",
                       marathon_extra_flags={"checkpoint": True, "ha": True, "metrics": False,
                                             "task_launch_timeout": 600000})
    words = exec_start(unit)
    assert words[0] == "/usr/share/marathon/bin/marathon"
    assert unknown_marathon(words) == []
    assert "--master=" + ZK in words and "--zk=" + ZK.replace("/mesos", "/marathon") in words
    assert "--disable_metrics" in words and "--checkpoint" in words
    assert "s3cret" not in unit


def test_marathon_environment_carries_heap_and_credentials():
    env = render_unit("marathon", "dcos.env.j2", marathon_heap_mb=2048, marathon_username="ops",
                      marathon_password="s3cret")
    assert 'JAVA_OPTS="-Xms2048m -Xmx2048m' in env
    assert "MESOSPHERE_HTTP_CREDENTIALS=ops:s3cret" in env
    assert "MESOS_NATIVE_JAVA_LIBRARY=/usr/lib/libmesos.so" in env
    assert "MESOSPHERE_HTTP_CREDENTIALS" not in render_unit("marathon", "dcos.env.j2")


def test_the_checks_catch_a_misspelt_flag():
    # The checks above can fail: a typo in extra flags is reported, for each program.
    unit = render_unit("mesos_master", "dcos-mesos-master.service.j2", mesos_master_zk=ZK,
                       mesos_master_extra_flags={"agent_ping_timout": "30secs"})
    assert unknown_mesos(mesos_flags(exec_start(unit)), MASTER_FLAGS) == ["agent_ping_timout"]
    unit = render_unit("mesos_agent", "dcos-mesos-agent.service.j2", mesos_agent_master=ZK,
                       mesos_agent_extra_flags={"quorum": "2"})  # a master flag
    assert unknown_mesos(mesos_flags(exec_start(unit)), AGENT_FLAGS) == ["quorum"]
    unit = render_unit("marathon", "dcos-marathon.service.j2", marathon_master=ZK, marathon_zk=ZK,
                       marathon_extra_flags={"http_prot": 8080, "disable_http": False})
    assert sorted(unknown_marathon(exec_start(unit))) == ["disable_disable_http", "http_prot"]


def test_systemd_specials_in_values_are_escaped():
    unit = render_unit("mesos_master", "dcos-mesos-master.service.j2", mesos_master_zk=ZK,
                       mesos_master_cluster='a "b" 100% $HOME')
    assert '"--cluster=a \\"b\\" 100%% $$HOME"' in unit
