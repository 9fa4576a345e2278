"""How the gather module tells an installed unit: a unit the installer masked (a link to
/dev/null, before the package could start it) is no sign of a foreign install."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.dcos.installer.plugins.modules.precheck_facts import unit_exists


def test_a_unit_file_or_an_init_script_counts(tmp_path):
    (tmp_path / "lib/systemd/system").mkdir(parents=True)
    (tmp_path / "lib/systemd/system/mesos-slave.service").write_text("[Service]\n")
    (tmp_path / "etc/init.d").mkdir(parents=True)
    (tmp_path / "etc/init.d/zookeeper").write_text("#!/bin/sh\n")
    assert unit_exists("mesos-slave.service", root=str(tmp_path))
    assert unit_exists("zookeeper.service", root=str(tmp_path))
    assert not unit_exists("marathon.service", root=str(tmp_path))


def test_a_masked_unit_alone_does_not_count(tmp_path):
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/systemd/system/mesos-master.service").symlink_to("/dev/null")
    assert not unit_exists("mesos-master.service", root=str(tmp_path))
    # masked, but the package's unit is there: the package is installed
    (tmp_path / "lib/systemd/system").mkdir(parents=True)
    (tmp_path / "lib/systemd/system/mesos-master.service").write_text("[Service]\n")
    assert unit_exists("mesos-master.service", root=str(tmp_path))
