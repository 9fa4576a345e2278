"""How the gather module tells an installed unit: a unit the installer masked (a link to
/dev/null, before the package could start it) is no sign of a foreign install. How it reads
a repo index of any size."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.dcos.installer.plugins.modules.precheck_facts import fetch, nft_rules, unit_exists


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


def test_a_repo_index_larger_than_the_body_limit_is_read_whole(tmp_path):
    import functools
    import http.server
    import threading

    names = [f"package-number-{i}" for i in range(3000)]
    (tmp_path / "Packages").write_text("".join(f"Package: {n}\nVersion: 1.0\nDescription: {'x' * 80}\n\n"
                                               for n in names))
    assert (tmp_path / "Packages").stat().st_size > 4 * 65536
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/Packages"
        whole = fetch(url, None, 5, "Package:")
        assert whole["status"] == 200
        assert [line.split(": ")[1] for line in whole["body"].splitlines()] == names
        assert len(fetch(url, None, 5)["body"]) == 65536  # without lines: the first 64 KiB
    finally:
        server.shutdown()


RULESET = """table ip nat {
	chain DOCKER {
		iifname "docker0" counter packets 0 bytes 0 return
	}
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 172.17.0.0/16 oifname != "docker0" counter packets 0 bytes 0 masquerade
	}
}
table inet dcos_installer {
	chain input {
		type filter hook input priority filter - 10; policy accept;
		iif "lo" accept
		tcp dport { 2181 } ip saddr @cluster_sources accept
	}
}
table inet operator {
	chain input {
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept
		ct state established,related accept
	}
}
"""


def test_the_operators_nft_rules_are_counted_not_the_installers_nor_dockers():
    assert nft_rules(RULESET) == {"nft_rules": 2, "dcos_table": True}
    assert nft_rules("") == {"nft_rules": 0, "dcos_table": False}
