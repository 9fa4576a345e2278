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
    assert nft_rules(RULESET) == {"nft_rules": 2, "dcos_table": True,
                                  "dcos_admits": [{"proto": "tcp", "ports": [2181], "sources": []}]}
    assert nft_rules("") == {"nft_rules": 0, "dcos_table": False}


# `nft list ruleset` of an installer host (as loaded on the test cluster): what its table admits.
INSTALLER_TABLE = """table inet dcos_installer {
	set admin_sources {
		type ipv4_addr
		flags interval
		auto-merge
		elements = { 172.29.91.0/24 }
	}

	set cluster_sources {
		type ipv4_addr
		flags interval
		auto-merge
		elements = { 172.29.91.10-172.29.91.13, 172.29.91.21-172.29.91.22,
\t\t\t     172.29.91.250 }
	}

	chain input {
		type filter hook input priority filter - 10; policy accept;
		iif "lo" accept
		iifname "docker0" accept
		tcp dport 5000 ip saddr @admin_sources accept
		tcp dport 5000 counter packets 0 bytes 0 drop
		tcp dport { 8081, 8301, 8500 } ip saddr @cluster_sources accept
		tcp dport { 8081, 8301, 8500 } counter packets 3 bytes 180 drop
		udp dport { 123, 8301 } ip saddr @cluster_sources accept
		udp dport { 123, 8301 } counter packets 1 bytes 76 drop
	}
}
"""


def test_what_the_installers_table_admits_is_read_with_its_sets():
    found = nft_rules(INSTALLER_TABLE)
    assert found["nft_rules"] == 0 and found["dcos_table"] is True
    cluster = ["172.29.91.10-172.29.91.13", "172.29.91.21-172.29.91.22", "172.29.91.250"]
    assert found["dcos_admits"] == [
        {"proto": "tcp", "ports": [5000], "sources": ["172.29.91.0/24"]},
        {"proto": "tcp", "ports": [8081, 8301, 8500], "sources": cluster},
        {"proto": "udp", "ports": [123, 8301], "sources": cluster},
    ]
    assert "dcos_admits" not in nft_rules(RULESET.replace("dcos_installer", "someone_else"))


def test_the_path_to_a_port_is_open_or_says_why_not():
    import socket

    from ansible_collections.dcos.installer.plugins.modules.precheck_facts import tcp_open

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert tcp_open("127.0.0.1", server.getsockname()[1], 2) == {"open": True}
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = tcp_open("127.0.0.1", port, 2)
    assert refused["open"] is False and refused["error"]
