"""The uninstall's two own modules, run as Ansible runs them: `teardown` (many paths and units
in one round trip, check mode says the same) and `data_owner` (a kept data tree given back to
its service's user)."""

import grp
import os
import pwd
from pathlib import Path

import pytest

from tests.unit.test_module_claim_probe import run


def test_paths_and_globs_go_in_one_run_and_check_mode_says_the_same(tmp_path):
    facts = tmp_path / "facts.d"
    facts.mkdir()
    for name in ("dcos_zookeeper.fact", "dcos_consul.fact", "dcos_consul.restart-pending", "other.fact"):
        (facts / name).write_text("{}")
    conf = tmp_path / "etc-zookeeper"
    (conf / "conf").mkdir(parents=True)
    (conf / "conf" / "zoo.cfg").write_text("tickTime=2000")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "never-made")  # a dangling link still goes
    paths = [str(facts / "dcos_*.fact"), str(facts / "dcos_*.restart-pending"), str(conf), str(link),
             str(tmp_path / "absent")]
    dry = run("teardown", tmp_path, check=True, paths=paths)
    expected = [str(facts / "dcos_consul.fact"), str(facts / "dcos_zookeeper.fact"),
                str(facts / "dcos_consul.restart-pending"), str(conf), str(link)]
    assert dry["changed"] and dry["removed"] == expected and dry["stopped"] == []
    assert conf.exists() and (facts / "dcos_consul.fact").exists()  # check mode touched nothing
    done = run("teardown", tmp_path, paths=paths)
    assert done["removed"] == expected
    assert sorted(p.name for p in facts.iterdir()) == ["other.fact"]  # not ours: kept
    assert not conf.exists() and not link.is_symlink()
    again = run("teardown", tmp_path, paths=paths)
    assert not again["changed"] and again["removed"] == []


def test_a_relative_path_is_refused(tmp_path):
    result = run("teardown", tmp_path, paths=["etc/zookeeper"])
    assert result["failed"] and "not an absolute path" in result["msg"]


def test_units_that_are_not_there_need_nothing(tmp_path):
    result = run("teardown", tmp_path, check=True, units=["dcos-no-such-unit-here"])
    assert not result["changed"] and result["stopped"] == []


def _kept_tree(tmp_path):
    data = tmp_path / "zookeeper"
    (data / "version-2").mkdir(parents=True)
    (data / "version-2" / "snapshot.0").write_text("znodes")
    (data / "myid").write_text("1")
    return data


def test_check_mode_counts_the_entries_of_another_owner_and_changes_none(tmp_path):
    """Runs as any user: the files are this user's, the wanted owner is nobody."""
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid).gr_name
    data = _kept_tree(tmp_path)
    owners = {p: (p.stat().st_uid, p.stat().st_gid) for p in [data, *data.rglob("*")]}
    dry = run("data_owner", tmp_path, check=True, path=str(data), owner="nobody", group=group)
    assert dry["changed"] and dry["changed_entries"] == 4
    assert {p: (p.stat().st_uid, p.stat().st_gid) for p in owners} == owners
    me = pwd.getpwuid(os.geteuid())
    mine = run("data_owner", tmp_path, check=True, path=str(data), owner=me.pw_name,
               group=grp.getgrgid(os.getegid()).gr_name)
    assert not mine["changed"] and mine["changed_entries"] == 0


def test_a_kept_data_tree_is_given_to_the_users_ids_once(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("changing an owner needs root (CI runs as root)")
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid).gr_name
    data = _kept_tree(tmp_path)
    os.lchown(data / "myid", user.pw_uid, user.pw_gid)  # one already right
    dry = run("data_owner", tmp_path, check=True, path=str(data), owner="nobody", group=group)
    assert dry["changed"] and dry["changed_entries"] == 3
    assert (data / "version-2").stat().st_uid == 0
    done = run("data_owner", tmp_path, path=str(data), owner="nobody", group=group)
    assert done["changed_entries"] == 3
    assert {(p.stat().st_uid, p.stat().st_gid) for p in [data, *data.rglob("*")]} == {(user.pw_uid, user.pw_gid)}
    assert not run("data_owner", tmp_path, path=str(data), owner="nobody", group=group)["changed"]


def test_data_owner_names_an_unknown_user_and_skips_an_absent_folder(tmp_path):
    assert not run("data_owner", tmp_path, path=str(tmp_path / "absent"), owner="root", group="root")["changed"]
    unknown = run("data_owner", tmp_path, path=str(tmp_path), owner="dcos-nobody-here", group="root")
    assert unknown["failed"] and "no such user" in unknown["msg"]
    assert Path(tmp_path).exists()
