"""Every precheck check: a passing, a warning (where the check has one) and a failing case,
and odd observations (missing facts, unparsable values) that must not crash the report."""

import pytest

from installer.bundle import BundleReport
from installer.precheck.evaluate import blocking, evaluate
from installer.precheck.model import Status
from tests.unit.precheck_helpers import GB, make_cfg, make_ctx


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


def results_for(ctx, check, host):
    return [r for r in evaluate(ctx) if r.check == check and r.host == host]


def status(ctx, check, host):
    found = results_for(ctx, check, host)
    assert found, f"{check} produced nothing on {host}"
    return found[0].status, found[0].message


def test_a_healthy_cluster_passes_every_check(cfg):
    results = evaluate(make_ctx(cfg))
    assert not blocking(results), [r for r in results if r.status == Status.FAIL]
    assert {r.check for r in results} >= {"os_supported", "kernel", "cpu", "memory", "disk_space", "ports_free",
                                          "existing_install", "clock", "hostname", "ip_address", "reachable"}


# --- os -----------------------------------------------------------------------------------
def test_unreachable_host_fails_reachable_and_skips_the_rest(cfg):
    ctx = make_ctx(cfg, {"a1": {"error": "ssh: connect to host 10.3.0.21 port 22: No route", "error_kind":
                                "unreachable"}})
    results = [r for r in evaluate(ctx) if r.host == "a1"]
    assert [(r.check, r.status) for r in results] == [("reachable", Status.FAIL)]
    assert "No route" in results[0].message and "ssh_key_file" in results[0].fix


def test_become_failure_is_named(cfg):
    ctx = make_ctx(cfg, {"m1": {"error": "Missing sudo password", "error_kind": "become"}})
    got, message = status(ctx, "become", "m1")
    assert got == Status.FAIL and "Missing sudo password" in message


def test_commands_not_running_as_root_fail_become(cfg):
    got, _ = status(make_ctx(cfg, {"m1": {"probe": {"euid": 1000}}}), "become", "m1")
    assert got == Status.FAIL


@pytest.mark.parametrize("facts,expected", [
    ({"distribution": "Rocky", "os_family": "RedHat", "distribution_major_version": "9"}, Status.PASS),
    ({"distribution": "CentOS", "os_family": "RedHat", "distribution_major_version": "7",
      "kernel": "3.10.0-1160.el7.x86_64"}, Status.PASS),
    ({"distribution": "Ubuntu", "os_family": "Debian", "distribution_version": "22.04"}, Status.PASS),
    ({"distribution": "Ubuntu", "os_family": "Debian", "distribution_version": "18.04"}, Status.FAIL),
    ({"distribution": "Debian", "distribution_major_version": "10"}, Status.FAIL),
    ({"distribution": "CentOS", "os_family": "RedHat", "distribution_major_version": "6"}, Status.FAIL),
    ({"distribution": "Fedora", "os_family": "RedHat", "distribution_major_version": "39"}, Status.FAIL),
    ({"distribution": None}, Status.FAIL),
])
def test_supported_operating_systems(cfg, facts, expected):
    assert status(make_ctx(cfg, {"a1": {"facts": facts}}), "os_supported", "a1")[0] == expected


def test_systemd_must_be_init(cfg):
    assert status(make_ctx(cfg, {"a1": {"probe": {"systemd": False}}}), "systemd", "a1")[0] == Status.FAIL


def test_python_too_old_fails(cfg):
    old = {"python": {"version": {"major": 2, "minor": 6, "micro": 6}}}
    assert status(make_ctx(cfg, {"a1": {"facts": old}}), "python", "a1")[0] == Status.FAIL
    el8 = {"python": {"version": {"major": 3, "minor": 6, "micro": 8}}}
    assert status(make_ctx(cfg, {"a1": {"facts": el8}}), "python", "a1")[0] == Status.PASS


# --- kernel -------------------------------------------------------------------------------
@pytest.mark.parametrize("facts,expected", [
    ({"kernel": "3.10.0-514.el7.x86_64", "distribution": "CentOS", "os_family": "RedHat",
      "distribution_major_version": "7"}, Status.PASS),
    ({"kernel": "3.10.0-327.el7.x86_64", "distribution": "CentOS", "os_family": "RedHat",
      "distribution_major_version": "7"}, Status.FAIL),
    ({"kernel": "3.8.0-29-generic"}, Status.FAIL),
    ({"kernel": "weird"}, Status.FAIL),
    ({"kernel": "5.15.0-91-generic"}, Status.PASS),
])
def test_kernel_versions(cfg, facts, expected):
    assert status(make_ctx(cfg, {"a1": {"facts": facts}}), "kernel", "a1")[0] == expected


# --- resources ----------------------------------------------------------------------------
@pytest.mark.parametrize("cpus,expected", [(1, Status.FAIL), (2, Status.WARN), (4, Status.PASS), (None, Status.WARN)])
def test_master_cpus(cfg, cpus, expected):
    assert status(make_ctx(cfg, {"m1": {"probe": {"cpus": cpus}}}), "cpu", "m1")[0] == expected


@pytest.mark.parametrize("gb,expected", [(2, Status.FAIL), (8, Status.WARN), (32, Status.PASS)])
def test_master_memory(cfg, gb, expected):
    assert status(make_ctx(cfg, {"m1": {"probe": {"memory_mb": gb * 1024}}}), "memory", "m1")[0] == expected


def test_thresholds_come_from_config(tmp_path):
    cfg = make_cfg(tmp_path, precheck_extra="agent_min_memory_gb = 128")
    got, message = status(make_ctx(cfg), "memory", "a1")
    assert got == Status.FAIL and "an agent needs at least 128 GB" in message


# --- disk and filesystem --------------------------------------------------------------------
def test_a_small_path_fails_disk_space_naming_it(cfg):
    small = {"exists": True, "checked": "/var/lib/mesos", "free_bytes": 1 * 1024**2, "total_bytes": 2 * 1024**2,
             "free_inodes": 10, "total_inodes": 100, "mount": "/var/lib/mesos", "fstype": "tmpfs", "options": []}
    ctx = make_ctx(cfg, {"a1": {"probe": {"paths": {"/var/lib/mesos/agent": small}}}})
    got, message = status(ctx, "disk_space", "a1")
    assert got == Status.FAIL and "/var/lib/mesos/agent (on /var/lib/mesos, 0.0 GB free)" in message
    got, message = status(ctx, "inodes", "a1")
    assert got == Status.FAIL and "10 inodes free" in message


def test_disk_space_without_numbers_warns(cfg):
    ctx = make_ctx(cfg, {"a1": {"probe": {"paths": {"/x": {"error": "permission denied"}}}}})
    assert status(ctx, "disk_space", "a1")[0] == Status.WARN


@pytest.mark.parametrize("fstype,ftype,expected", [
    ("xfs", 1, Status.PASS), ("xfs", 0, Status.FAIL), ("xfs", None, Status.WARN), ("ext4", None, Status.PASS),
])
def test_xfs_ftype_under_docker_root(cfg, fstype, ftype, expected):
    path = {"exists": True, "checked": "/var/lib/docker", "free_bytes": 50 * GB, "total_bytes": 100 * GB,
            "free_inodes": 10**6, "total_inodes": 10**6, "mount": "/var", "fstype": fstype, "xfs_ftype": ftype}
    ctx = make_ctx(cfg, {"a1": {"probe": {"paths": {"/var/lib/docker": path}}}})
    assert status(ctx, "xfs_ftype", "a1")[0] == expected


def test_swap_on_warns(cfg):
    assert status(make_ctx(cfg, {"a1": {"probe": {"swap_kb": 2048 * 1024}}}), "swap", "a1")[0] == Status.WARN


def test_selinux_and_firewall_are_reported(tmp_path):
    cfg = make_cfg(tmp_path, cluster_extra="firewall = off")
    ctx = make_ctx(cfg, {"a1": {"probe": {"selinux": "enforcing", "firewall": {"firewalld": "running"}}}})
    got, message = status(ctx, "selinux", "a1")
    assert got == Status.PASS and "enforcing" in message and "permissive" in message
    got, message = status(ctx, "firewall", "a1")
    assert got == Status.WARN and "firewalld" in message


# --- time -----------------------------------------------------------------------------------
@pytest.mark.parametrize("offset,expected", [(12.0, Status.PASS), (-700.0, Status.WARN), (5000.0, Status.FAIL)])
def test_clock_offset_to_the_installer_ntp(cfg, offset, expected):
    ntp = {"server": "10.3.0.5", "answered": True, "offset_ms": offset, "stratum": 10}
    assert status(make_ctx(cfg, {"a1": {"probe": {"ntp": ntp}}}), "clock", "a1")[0] == expected


def test_before_ntp_exists_a_far_clock_warns_and_ntp_will_be_installed(cfg):
    ctx = make_ctx(cfg, {"a1": {"probe": {"now": 1_800_000_000.0 + 600}}})
    assert status(ctx, "clock", "a1")[0] == Status.WARN
    got, message = status(ctx, "ntp_reachable", "a1")
    assert got == Status.PASS and "will be installed" in message


def test_installed_ntp_server_that_does_not_answer_fails(cfg):
    ctx = make_ctx(cfg, {"inst": {"probe": {"local_facts": {"dcos_ntp": {"mode": "server"}}}}})
    assert status(ctx, "ntp_reachable", "a1")[0] == Status.FAIL
    assert status(ctx, "ntp_service", "inst")[0] == Status.FAIL


# --- network --------------------------------------------------------------------------------
def test_configured_ip_must_be_the_hosts_own(cfg):
    got, message = status(make_ctx(cfg, {"a1": {"facts": {"all_ipv4_addresses": ["10.3.0.99"]}}}), "ip_address", "a1")
    assert got == Status.FAIL and "10.3.0.21 is not an address of this host (it has: 10.3.0.99)" in message


def test_unnamed_hosts_need_valid_unique_hostnames(cfg):
    got, message = status(make_ctx(cfg, {"10.3.0.22": {"facts": {"hostname": "a1"}}}), "hostname", "10.3.0.22")
    assert got == Status.FAIL and "also the name of a1" in message
    got, _ = status(make_ctx(cfg, {"10.3.0.22": {"facts": {"hostname": "localhost"}}}), "hostname", "10.3.0.22")
    assert got == Status.FAIL
    got, _ = status(make_ctx(cfg, {"10.3.0.22": {"facts": {"hostname": "bad_name"}}}), "hostname", "10.3.0.22")
    assert got == Status.FAIL


def test_names_resolving_elsewhere_or_to_loopback_warn(cfg):
    ctx = make_ctx(cfg, {"a1": {"probe": {"dns": {"m1": ["10.9.9.9"]}}}})
    got, message = status(ctx, "name_resolution", "a1")
    assert got == Status.WARN and "m1 resolves to 10.9.9.9" in message
    ctx = make_ctx(cfg, {"a1": {"probe": {"dns": {"a1": ["127.0.1.1"]}}}})
    assert status(ctx, "name_resolution", "a1")[0] == Status.WARN


# --- ports and existing installs ------------------------------------------------------------
def test_a_taken_port_fails_with_its_process(cfg):
    sock = {"proto": "tcp", "address": "0.0.0.0", "port": 2181, "pid": 4242, "process": "python3"}
    got, message = status(make_ctx(cfg, {"m1": {"probe": {"listening": [sock]}}}), "ports_free", "m1")
    assert got == Status.FAIL and "2181/tcp (zookeeper client) is held by python3 pid 4242" in message


def test_a_port_held_by_our_own_component_passes(cfg):
    sock = {"proto": "tcp", "address": "0.0.0.0", "port": 2181, "pid": 7, "process": "java"}
    probe = {"listening": [sock], "local_facts": {"dcos_zookeeper": {"installed_by": "dcos-installer"}}}
    assert status(make_ctx(cfg, {"m1": {"probe": probe}}), "ports_free", "m1")[0] == Status.PASS


def test_every_port_of_our_haproxy_passes_on_a_rerun():
    """A re-run meets HAProxy on every port the lb phase gave it: the frontends, the stats page,
    the HTTP redirect and the extra frontends."""
    from installer.catalogue import by_name, owner_of_port

    haproxy = by_name("haproxy")
    assert haproxy.ports
    for port in haproxy.ports:
        assert owner_of_port(port.section, port.key) is haproxy, port.key
    assert owner_of_port("haproxy", "extra_frontends") is haproxy


def test_a_foreign_install_fails_with_the_adoption_hint(cfg):
    probe = {"components": {"zookeeper": {"present": True, "evidence": ["unit zookeeper.service"]}}}
    got, message = status(make_ctx(cfg, {"m1": {"probe": probe}}), "existing_install", "m1")
    assert got == Status.FAIL and "zookeeper (unit zookeeper.service)" in message
    result = results_for(make_ctx(cfg, {"m1": {"probe": probe}}), "existing_install", "m1")[0]
    assert "adopt = zookeeper" in result.fix


def test_adoption_and_our_own_installs_pass(tmp_path):
    cfg = make_cfg(tmp_path, cluster_extra="adopt = zookeeper")
    probe = {"components": {"zookeeper": {"present": True, "evidence": ["unit zookeeper.service"]},
                            "docker": {"present": True, "evidence": ["unit docker.service"]}},
             "local_facts": {"dcos_docker": {}}}
    got, message = status(make_ctx(cfg, {"m1": {"probe": probe}}), "existing_install", "m1")
    assert got == Status.PASS and "adopted: zookeeper" in message and "by this installer: docker" in message


# --- installer services -------------------------------------------------------------------------
def test_bundle_problems_are_named(cfg):
    report = BundleReport(path="b", problems=["packages/chrony.deb does not match its sha256 (corrupt or changed)"])
    got, message = status(make_ctx(cfg, bundle=report), "bundle", "inst")
    assert got == Status.FAIL and "packages/chrony.deb does not match its sha256" in message


def test_services_not_yet_installed_will_be_installed(cfg):
    ctx = make_ctx(cfg)
    for check, host in (("repo_service", "inst"), ("registry_service", "inst"), ("repo_reachable", "a1"),
                        ("registry_reachable", "a1")):
        got, message = status(ctx, check, host)
        assert got == Status.PASS and "will be installed" in message


def test_installed_repo_must_answer_and_list_the_bundle_packages(cfg):
    facts = {"dcos_repo": {}, "dcos_registry": {}}
    index = {"url": "http://10.3.0.5:8081/Packages", "status": 200, "body": "Package: chrony\nVersion: 4\n"}
    bundle = BundleReport(path="b", packages=["chrony", "zookeeper"])
    ctx = make_ctx(cfg, {"inst": {"probe": {"local_facts": facts, "urls": {"repo_index": index}}}}, bundle=bundle)
    got, message = status(ctx, "repo_service", "inst")
    assert got == Status.FAIL and "lacks zookeeper" in message
    down = {"repo": {"url": "http://10.3.0.5:8081/", "error": "Connection refused"},
            "registry": {"url": "https://10.3.0.5:5000/v2/", "error": "certificate verify failed"}}
    ctx = make_ctx(cfg, {"inst": {"probe": {"local_facts": facts}}, "a1": {"probe": {"urls": down}}})
    assert status(ctx, "repo_reachable", "a1") == (Status.FAIL, "package repo http://10.3.0.5:8081/ cannot be "
                                                    "reached from here: Connection refused")
    assert status(ctx, "registry_reachable", "a1")[0] == Status.FAIL


def test_registry_lacking_bundle_images_fails(cfg):
    catalog = {"url": "https://10.3.0.5:5000/v2/_catalog", "status": 200, "body": '{"repositories": ["a"]}'}
    ctx = make_ctx(cfg, {"inst": {"probe": {"local_facts": {"dcos_registry": {}}, "urls": {"registry_catalog":
                                                                                             catalog}}}},
                   bundle=BundleReport(path="b", images=["a:1", "mesos/agent:1.11"]))
    got, message = status(ctx, "registry_service", "inst")
    assert got == Status.FAIL and "lacks mesos/agent" in message


# --- waivers and odd input --------------------------------------------------------------------
def test_a_waived_failure_does_not_block(tmp_path):
    cfg = make_cfg(tmp_path, precheck_extra="waive = swap@*, ip_address@a1")
    ctx = make_ctx(cfg, {"a1": {"facts": {"all_ipv4_addresses": []}}})
    results = results_for(ctx, "ip_address", "a1")
    assert results[0].status == Status.FAIL and results[0].waived
    assert not [r for r in blocking(evaluate(ctx)) if r.host == "a1"]


def test_missing_facts_and_garbage_do_not_crash_the_report(cfg):
    ctx = make_ctx(cfg, {"a1": {"facts": {"kernel": None, "python": {}, "all_ipv4_addresses": None},
                                "probe": {"listening": {"probe_error": "boom"}, "paths": {}}}})
    results = [r for r in evaluate(ctx) if r.host == "a1"]
    assert {r.check for r in results} >= {"kernel", "python", "ip_address", "ports_free"}
    assert all(r.status == Status.FAIL for r in results if r.check in ("kernel", "python", "ports_free"))


def test_a_raw_nftables_ruleset_is_left_to_the_operator_with_a_warning(cfg):
    ctx = make_ctx(cfg, {"a1": {"probe": {"firewall": {"nft_rules": 12}}}})
    got, message = status(ctx, "firewall", "a1")
    assert got == Status.WARN and "does not manage" in message


# --- a second OS release ------------------------------------------------------------------
def _bundle_of(**releases):
    """A verified bundle report: the first release the top one, the others its sub-bundles."""
    (top, top_versions), *subs = releases.items()
    report = BundleReport(path="/b", os=top, versions=dict(top_versions))
    report.targets = {name: BundleReport(path=f"/b/targets/{name}", os=name, versions=dict(v)) for name, v in subs}
    return report


BULLSEYE = {"distribution_major_version": "11", "distribution_version": "11.9"}


def test_each_host_needs_its_own_release_in_the_bundle(cfg):
    ctx = make_ctx(cfg, {"a1": {"facts": BULLSEYE}}, bundle=_bundle_of(debian12={}))
    got, message = status(ctx, "repo_release", "a1")
    assert got == Status.FAIL and message == "this host runs debian11; the bundle serves debian12 only"
    assert results_for(ctx, "repo_release", "a1")[0].fix.startswith(
        "on a machine with access: ./install.sh bundle --target debian11 --out /b/targets/debian11")
    assert status(ctx, "repo_release", "m1") == (Status.PASS, "debian12 packages from the top bundle")
    ctx = make_ctx(cfg, {"a1": {"facts": BULLSEYE}}, bundle=_bundle_of(debian12={}, debian11={}))
    assert status(ctx, "repo_release", "a1") == (Status.PASS, "debian11 packages from targets/debian11")
    rocky = {"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9"}
    got, message = status(make_ctx(cfg, {"a1": {"facts": rocky}}, bundle=_bundle_of(debian12={})), "repo_release",
                          "a1")
    assert got == Status.FAIL and "runs el9" in message and "one family" in message
    got, message = status(make_ctx(cfg, {"a1": {"facts": rocky}}, bundle=_bundle_of(el8={})), "repo_release", "a1")
    assert got == Status.FAIL and "serves el8 only" in message
    assert status(make_ctx(cfg), "repo_release", "a1")[0] == Status.PASS  # no phase needs the bundle


@pytest.mark.parametrize("master_facts, slave_facts, expected", [
    ({}, BULLSEYE, Status.FAIL),      # 10.11 master, 10.5 slave: refused
    (BULLSEYE, {}, Status.PASS),      # 10.5 master, 10.11 slave: replication's own direction
    (BULLSEYE, BULLSEYE, Status.PASS),
])
def test_a_mysql_slave_older_than_its_master_is_refused(tmp_path, master_facts, slave_facts, expected):
    cfg = make_cfg(tmp_path, cluster_extra="[mysql]\nmaster = m1\nslave = a1\n")
    bundle = _bundle_of(debian12={"mariadb-server": "1:10.11.6-0+deb12u1"},
                        debian11={"mariadb-server": "1:10.5.23-0+deb11u1"})
    ctx = make_ctx(cfg, {"m1": {"facts": master_facts}, "a1": {"facts": slave_facts}}, bundle=bundle)
    got, message = status(ctx, "mysql_versions", "a1")
    assert got == expected, message
    if expected == Status.FAIL:
        assert message == ("MariaDB 1:10.5.23-0+deb11u1 of debian11 here is older than 1:10.11.6-0+deb12u1 of "
                           "debian12 on the master m1: replication runs from an older master to a newer slave only")
    assert not results_for(ctx, "mysql_versions", "m1")


def test_package_versions_compare_by_their_upstream_numbers():
    from installer.precheck.checks.repo import upstream_version

    assert upstream_version("1:10.11.6-0+deb12u1") == (10, 11, 6)
    assert upstream_version("10.5.23-0+deb11u1") == (10, 5, 23)
    assert upstream_version("3.8.0") == (3, 8, 0)
    assert upstream_version("2.6.12-1+deb12u1") > upstream_version("2.2.9-2+deb11u6")
    assert upstream_version("weird") == ()


# --- a host added to a running cluster ---------------------------------------------------------
def _grown(admitted: list[str], ssh_open: bool | None, registry: dict | None = None):
    """The installer host's services installed and its firewall table loaded, admitting
    `admitted` on the repo's, the registry's and NTP's ports; a1 times out on all three."""
    facts = {"dcos_repo": {}, "dcos_registry": {}, "dcos_ntp": {"mode": "server"}}
    rules = [{"proto": "tcp", "ports": [5000], "sources": admitted},
             {"proto": "tcp", "ports": [8081], "sources": admitted},
             {"proto": "udp", "ports": [123], "sources": admitted}]
    urls = {"repo": {"url": "http://10.3.0.5:8081/", "error": "timed out"},
            "registry": registry or {"url": "https://10.3.0.5:5000/v2/", "error": "timed out"}}
    probe: dict = {"urls": urls}
    if ssh_open is not None:
        probe["tcp"] = {"installer_ssh": {"open": True} if ssh_open else {"open": False, "error": "timed out"}}
    return {"inst": {"probe": {"local_facts": facts, "firewall": {"dcos_table": True, "dcos_admits": rules}}},
            "a1": {"probe": probe}}


def test_a_host_the_installers_firewall_does_not_admit_yet_passes_when_the_path_answers(cfg):
    """A host added to config.cfg since the last run: the installer host's table (written by the
    hosts phase) does not list it, so the repo, registry and NTP time out from it; the repo
    phase admits it before it uses them. Not a failure; a host the table admits that times out
    is one, and so is a host with no path to the installer host at all (a warning: unproven)."""
    ctx = make_ctx(cfg, _grown(["10.3.0.5", "10.3.0.11", "10.3.0.22"], ssh_open=True))
    for check in ("repo_reachable", "registry_reachable", "ntp_reachable"):
        got, message = status(ctx, check, "a1")
        assert got == Status.PASS and "admits this host from this run on" in message, (check, message)
    ctx = make_ctx(cfg, _grown(["10.3.0.5", "10.3.0.11", "10.3.0.22"], ssh_open=False))
    assert status(ctx, "repo_reachable", "a1")[0] == Status.WARN
    # admitted (a range, a network) and still timing out: the network's fault, as before
    for admitted in (["10.3.0.20-10.3.0.22"], ["10.3.0.0/24"]):
        ctx = make_ctx(cfg, _grown(admitted, ssh_open=True))
        for check in ("repo_reachable", "registry_reachable", "ntp_reachable"):
            assert status(ctx, check, "a1")[0] == Status.FAIL, (admitted, check)
    # no table loaded on the installer host: nothing of ours is in the way
    bends = _grown([], ssh_open=True)
    bends["inst"]["probe"]["firewall"] = {"dcos_table": False}
    assert status(make_ctx(cfg, bends), "repo_reachable", "a1")[0] == Status.FAIL


def test_a_registry_that_answers_before_its_ca_is_on_the_host_passes_and_says_so(cfg):
    answered = {"url": "https://10.3.0.5:5000/v2/", "status": 401,
                "ca_missing": "/etc/docker/certs.d/10.3.0.5:5000/ca.crt"}
    got, message = status(make_ctx(cfg, _grown(["10.3.0.0/24"], ssh_open=True, registry=answered)),
                          "registry_reachable", "a1")
    assert got == Status.PASS and "certificate not checked" in message and "registry phase" in message
