"""The pair as an operator checks it: a write on the master is read on the slave within
5 s, the slave refuses writes, mysql-vip.service.consul names the master, and names the
slave within 30 s of the master stopping. MariaDB and Consul are real."""

import time

MASTER, SLAVE = "172.29.18.21", "172.29.18.22"
APP = "mysql -uapp -papp-secret -h 127.0.0.1 -N -B"
VIP_LOOKUP = "dig +short @127.0.0.1 -p 8600 mysql-vip.service.consul"


def _name(host):
    return host.ansible.get_variables()["inventory_hostname"]


def _hosts(host):
    from testinfra import get_host

    inventory = host.backend.ansible_inventory
    return {name: get_host(f"ansible://{name}?ansible_inventory={inventory}") for name in ("mc1", "my1", "my2")}


def _until(what, probe, limit, step=0.5):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if probe():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"{what}: not within {limit} s")


def test_server_ids_differ_and_the_slave_is_read_only(host):
    if _name(host) == "mc1":
        return
    ids = host.check_output("mysql -N -B -e 'SELECT @@server_id, @@read_only, @@log_bin'").split()
    assert ids[2] == "1"
    assert ids[1] == ("1" if _name(host) == "my2" else "0")
    assert host.file("/root/.my.cnf").mode == 0o600
    users = host.check_output("mysql -N -B -e \"SELECT CONCAT(user,'@',host) FROM mysql.user\"").split()
    assert not [u for u in users if u.startswith("@")], users  # no anonymous account
    assert "test" not in host.check_output("mysql -N -B -e 'SHOW DATABASES'").split()


def test_replication_and_read_only_and_the_vip(host):
    if _name(host) != "mc1":
        return
    hosts = _hosts(host)
    master, slave = hosts["my1"], hosts["my2"]
    status = slave.check_output("mysql -e 'SHOW SLAVE STATUS\\G'")
    assert "Slave_IO_Running: Yes" in status and "Slave_SQL_Running: Yes" in status, status

    master.check_output(
        "mysql -e \"CREATE DATABASE IF NOT EXISTS appdb; CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY "
        "'app-secret'; GRANT ALL ON appdb.* TO 'app'@'%'; CREATE TABLE IF NOT EXISTS appdb.t (v VARCHAR(40))\"")
    token = f"written-{time.time_ns()}"
    master.check_output(f"{APP} -e \"INSERT INTO appdb.t VALUES ('{token}')\"")
    took = _until("the write on the slave",
                  lambda: token in slave.run(f"{APP} -e 'SELECT v FROM appdb.t'").stdout, 5, step=0.2)
    print(f"replicated to the slave in {took:.2f} s")

    refused = slave.run(f"{APP} -e \"INSERT INTO appdb.t VALUES ('on-the-slave')\"")
    assert refused.rc != 0 and "read-only" in refused.stderr, refused.stderr

    _until("mysql-vip naming the master", lambda: host.check_output(VIP_LOOKUP).split() == [MASTER], 30)

    master.check_output("systemctl stop mariadb")
    try:
        took = _until("mysql-vip naming the slave", lambda: host.check_output(VIP_LOOKUP).split() == [SLAVE], 30)
        print(f"mysql-vip moved to the slave {took:.1f} s after the master stopped")
    finally:
        master.check_output("systemctl start mariadb")
    took = _until("mysql-vip back on the master", lambda: host.check_output(VIP_LOOKUP).split() == [MASTER], 30)
    print(f"mysql-vip back on the master {took:.1f} s after it started")
