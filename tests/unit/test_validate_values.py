"""Validators of every key that reaches a host: the typed values (types.py), the files config.cfg
names (SSH key, certificates and keys), and the cross-key rules on folders and ports."""

import datetime
import ipaddress
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from installer.config import load_config, types, validate
from installer.config.redact import SECRET_KEYS
from installer.config.schema import SECTIONS

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"
FILES = Path(__file__).parent / "bad_configs" / "files"
MINIMAL = """[cluster]
name = t
ssh_user = ops
{cluster}
[installer]
i1 = 10.1.0.5

[masters]
m1 = 10.1.0.11

[agents]
a1 = 10.1.0.21
a2 = 10.1.0.22
{more}
"""


def _config(folder: Path, cluster: str = "", more: str = "") -> Path:
    path = folder / "config.cfg"
    path.write_text(MINIMAL.format(cluster=cluster, more=more))
    return path


def _messages(path: Path) -> list[str]:
    return [str(e) for e in validate(path)]


def _refused(parse, value) -> str:
    with pytest.raises(ValueError) as exc:
        parse(value)
    return str(exc.value)


# --- typed values -------------------------------------------------------------------------

@pytest.mark.parametrize("good", ["root", "ops", "_svc", "deploy-user", "a" * 32, "u1"])
def test_ssh_user_accepts_posix_names(good):
    assert types.parse_ssh_user(good) == good


@pytest.mark.parametrize("bad", ["Admin", "1ops", "ops team", "a" * 33, "ops;id", "ops:x", "-ops", "op$"])
def test_ssh_user_refuses_the_rest(bad):
    assert "POSIX user name" in _refused(types.parse_ssh_user, bad)


@pytest.mark.parametrize("good", ["auto", "/usr/bin/python3", "/opt/py3.11/bin/python3.11",
                                  "/usr/libexec/platform-python"])
def test_python_interpreter_accepts_auto_or_a_plain_absolute_path(good):
    assert types.parse_interpreter(good) == good


@pytest.mark.parametrize("bad", ["python3", "/usr/bin/python3 -u", "/usr/bin/python3;id", "/usr/bin/$(id)",
                                 "/usr/bin/'python'", "/usr/bin/py`id`", "/a/../python3", "/usr//bin/python3",
                                 "auto_silent", "/usr/bin/python3|x", "/usr/bin/python<3"])
def test_python_interpreter_refuses_the_rest(bad):
    assert "expected auto" in _refused(types.parse_interpreter, bad)


@pytest.mark.parametrize("good", ["", "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_timezone_accepts_names_of_the_iana_database(good):
    assert types.parse_timezone(good) == good


@pytest.mark.parametrize("bad,guess", [("Europe/Berln", "Europe/Berlin"), ("utc", "UTC"), ("Mars/Olympus", None),
                                       ("../../etc/passwd", None), ("UTC; reboot", None)])
def test_timezone_refuses_unknown_names_with_a_guess(bad, guess):
    message = _refused(types.parse_timezone, bad)
    assert "IANA database" in message
    if guess:
        assert f"did you mean {guess}?" in message


def test_timezone_falls_back_to_the_shape_without_the_database(monkeypatch):
    monkeypatch.setattr(types, "_timezones", lambda: frozenset())
    assert types.parse_timezone("Europe/Berlin") == "Europe/Berlin"
    assert types.parse_timezone("UTC") == "UTC"
    for bad in ("Europe/../etc", "utc; reboot", "$(id)", "Europe Berlin"):
        assert "expected a timezone" in _refused(types.parse_timezone, bad)


@pytest.mark.parametrize("good", ["0.pool.ntp.org", "ntp1.example.com, 192.0.2.1", "TIME.Example.org", ""])
def test_ntp_upstream_accepts_names_and_ipv4(good):
    types.parse_ntp_servers(good)


@pytest.mark.parametrize("bad,message", [("2001:db8::1", "IPv6 is not supported"), ("ntp_1.example", "expected NTP"),
                                         ("https://pool.ntp.org", "expected NTP"), ("1.2.3", "expected an IPv4"),
                                         ("224.0.1.1", "multicast"), ("pool.ntp.org;id", "expected NTP")])
def test_ntp_upstream_refuses_the_rest(bad, message):
    assert message in _refused(types.parse_ntp_servers, bad)


@pytest.mark.parametrize("good", ["", "1.11.0", "1.11.0-2.0.1.debian9", "2:1.4.2~rc1", "1.15.2+ent", "7"])
def test_version_accepts_debian_and_rpm_versions(good):
    assert types.parse_version(good) == good


@pytest.mark.parametrize("bad", ["latest", "v1.15.2", "1.10 beta", "1.0;id", "1" + ".0" * 40, "1.0/../x", "1.0'"])
def test_version_refuses_the_rest(bad):
    assert "expected a package version" in _refused(types.parse_version, bad)


@pytest.mark.parametrize("bad", ["0secs", "0mins", "0.0hrs", "00ms"])
def test_a_duration_of_zero_is_refused(bad):
    assert "must be longer than 0" in _refused(types.parse_duration, bad)


@pytest.mark.parametrize("good,normal", [("/var/lib/zookeeper", "/var/lib/zookeeper"), ("/data/zk/", "/data/zk"),
                                         ("/srv/mysql-data_1.0", "/srv/mysql-data_1.0"), ("/tmp/mesos", "/tmp/mesos"),
                                         ("/var/lib/docker-registry", "/var/lib/docker-registry")])
def test_a_remote_folder_accepts_plain_absolute_paths(good, normal):
    assert types.parse_absolute_remote_path(good) == normal


@pytest.mark.parametrize("bad,message", [
    ("var/lib/x", "absolute path"), ("/", "root folder"), ("//", "root folder"),
    *[(folder, "is a system folder") for folder in sorted(types.SYSTEM_FOLDERS)],
    *[(f"{tree}/x/y", f"is inside {tree}") for tree in types.SYSTEM_TREES],
    ("/var/lib/../x", "'..' is not allowed"), ("/var/./lib/x", "normalised"), ("/var//lib/x", "write /var/lib/x"),
    ("/var/lib/my data", "a blank"), ("/var/lib/x;id", "';'"), ("/var/lib/$(id)", "'$'"), ("/var/lib/x'y", "\"'\""),
    ("/var/lib/x`id`", "'`'"), ("/var/lib/x\\y", "holds"), ("/var/lib/" + "x" * 300, "too long"),
])
def test_a_remote_folder_refuses_system_folders_and_odd_paths(bad, message):
    assert message in _refused(types.parse_absolute_remote_path, bad)


@pytest.mark.parametrize("good", ["", "eth0", "ens192", "bond0.100", "eth0:1", "veth1@if2", "br-1a2b3c4d5e6f"])
def test_interface_accepts_linux_names(good):
    assert types.parse_interface(good) == good


@pytest.mark.parametrize("bad", ["eth0 eth1", "eth0/1", ".", "..", "enp0s31f6-external", "eth0;id", "eth'0"])
def test_interface_refuses_the_rest(bad):
    assert "network interface name" in _refused(types.parse_interface, bad)


@pytest.mark.parametrize("good", ["", "cadvisor", "cadvisor/cadvisor:v0.38.7", "google/cadvisor:latest", "a.b/c-d_e"])
def test_image_accepts_names_of_the_private_registry(good):
    assert types.parse_image(good) == good


@pytest.mark.parametrize("bad", ["Google/cadvisor", "registry:5000/cadvisor:v1", "cadvisor;id", "cadvisor:",
                                 "cadvisor:v1:v2", "cad visor", "/cadvisor", "cadvisor//x"])
def test_image_refuses_the_rest(bad):
    assert "expected an image name" in _refused(types.parse_image, bad)


@pytest.mark.parametrize("bad,message", [("registry_host", "expected a hostname"), ("10.0.0.5", "not an address"),
                                         ("fd00::5", "IPv6 is not supported"), ("-reg", "expected a hostname")])
def test_registry_hostname(bad, message):
    assert types.parse_optional_hostname("Registry.Example.org") == "registry.example.org"
    assert message in _refused(types.parse_optional_hostname, bad)


@pytest.mark.parametrize("bad", ['rack:"r1"', "rack:r1;zone:$(id)", "rack:r 1", "zone:a'b"])
def test_mesos_attributes_keep_to_mesos_grammar(bad):
    assert types.parse_attributes("rack:r1;zone:a;cores:[1-4];tags:{a,b}") == "rack:r1;zone:a;cores:[1-4];tags:{a,b}"
    assert "name:value pairs" in _refused(types.parse_attributes, bad)


@pytest.mark.parametrize("bad", ["cpus:4;disks:{$(id)}", "cpus:four", "mem:8192;x:{'a'}"])
def test_mesos_resources_keep_to_mesos_grammar(bad):
    assert types.parse_resources("cpus(*):4;mem:8192;ports:[31000-32000];disks:{a,b}")
    assert "name:value pairs" in _refused(types.parse_resources, bad)


@pytest.mark.parametrize("bad,message", [("g:3000:g:/x;id", "expected name:port"), ("g:3000:g:/x'y", "expected name"),
                                         ("g:70000:g", "expected name:port"), ("g:3000:g, g:3001:g", "given twice")])
def test_extra_frontends(bad, message):
    assert types.parse_frontends("grafana:3000:grafana:/api/health?x=1, db:5432:postgres")[0]["check"] == \
        "/api/health?x=1"
    assert message in _refused(types.parse_frontends, bad)


@pytest.mark.parametrize("good", ["Abcdefghij12", "a" * 128, "x.y_z+w=v~u^t*s?r!q-1"])
def test_a_password_of_the_allowed_characters_is_taken(good):
    assert types.password(12, 128)(good).get_secret_value() == good


@pytest.mark.parametrize("bad,message", [
    ("Abcdefghij1", "too short"), ("a" * 129, "too long"),
    *[(f"Abcdef{c}ghij12", "not allowed") for c in " '\"$`\\#%;:@&|<>(){}[]/,\t"],
    ("Abcdéfghij12", "not allowed"),
])
def test_a_password_is_12_to_128_safe_characters(bad, message):
    text = _refused(types.password(12, 128), bad)
    assert message in text and "letters, digits and . _ + = ~ ^ * ? ! -" in text
    assert bad not in text


def test_the_vrrp_password_is_8_to_64():
    vrrp = types.password(8, 64)
    assert vrrp("Abcd-123").get_secret_value() == "Abcd-123"
    assert "too short" in _refused(vrrp, "Abc-123")
    assert "too long" in _refused(vrrp, "a" * 65)


def test_every_secret_key_of_the_schema_is_known_to_the_secrets_file():
    from installer.secrets import SECRET_KEYS as EXPORTED
    from installer.secrets import SECRETS, is_secret_key

    assert EXPORTED == SECRET_KEYS == {(s.section, s.key) for s in SECRETS if s.key}
    assert is_secret_key("mysql", "root_pasword") and is_secret_key("cluster", "token")


def test_no_key_takes_a_template_as_its_value(tmp_path):
    """Every key refuses a Jinja payload: no config value reaches Ansible as a template."""
    payload = "{{ lookup('pipe', 'id') }}"
    base = EXAMPLE.read_text()
    accepted = []
    for section, model in SECTIONS.items():
        for key in model.model_fields:
            path = tmp_path / f"{section}-{key}.cfg"
            text = base.replace(f"[{section}]\n", f"[{section}]\n{key} = {payload}\n", 1)
            lines = [ln for ln in text.splitlines() if not (ln.startswith(f"{key} =") and payload not in ln)
                     or _section_of(text, ln) != section]
            path.write_text("\n".join(lines) + "\n")
            if not validate(path):
                accepted.append((section, key))
    assert accepted == []


def _section_of(text: str, line: str) -> str | None:
    current = None
    for ln in text.splitlines():
        if ln.startswith("[") and ln.endswith("]"):
            current = ln[1:-1]
        if ln == line:
            return current
    return None


# --- files on this machine ------------------------------------------------------------------

def _openssh_key(path: Path, mode: int = 0o600) -> Path:
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(mode)
    return path


def test_a_private_key_of_its_owner_is_taken(tmp_path):
    _openssh_key(tmp_path / "id_ed25519")
    assert _messages(_config(tmp_path, "ssh_key_file = id_ed25519")) == []
    rsa = tmp_path / "id_rsa"
    rsa.write_text("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
    rsa.chmod(0o600)
    assert _messages(_config(tmp_path, "ssh_key_file = id_rsa")) == []


def test_a_key_readable_by_others_next_to_the_config_gets_the_chmod_hint(tmp_path):
    (tmp_path / "keys").mkdir()
    key = _openssh_key(tmp_path / "keys" / "id", 0o640)
    (error,) = _messages(_config(tmp_path, "ssh_key_file = keys/id"))
    assert "readable by others; ssh refuses such keys: restrict it to its owner (its mode is 0640)" in error
    assert f"chmod 600 {key}" in error


def test_a_key_readable_by_others_elsewhere_gets_no_chmod(tmp_path):
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    key = _openssh_key(elsewhere / "id", 0o644)
    site = tmp_path / "site"
    site.mkdir()
    (error,) = _messages(_config(site, f"ssh_key_file = {key}"))
    assert "restrict it to its owner" in error and "chmod" not in error


@pytest.mark.parametrize("name,message", [
    ("id_ed25519.pub", "is an SSH public key (ssh-ed25519), not a private key"),
    ("keys.d", "is a folder"), ("empty_key", "is empty"), ("notes.txt", "does not hold a private key"),
    ("id_putty.ppk", "is a PuTTY key"), ("server.crt", "holds a certificate, not a private key"),
    ("yaml-instead.crt", "is a YAML file"), ("nope", "no such file"),
])
def test_what_is_not_a_private_key_is_named(tmp_path, name, message):
    (error,) = _messages(_config(tmp_path, f"ssh_key_file = {FILES / name}"))
    assert message in error and "[cluster] ssh_key_file" in error


def test_the_pub_of_a_key_points_at_the_key(tmp_path):
    _openssh_key(tmp_path / "id_ed25519")
    shutil.copy(FILES / "id_ed25519.pub", tmp_path / "id_ed25519.pub")
    (error,) = _messages(_config(tmp_path, "ssh_key_file = id_ed25519.pub"))
    assert f"give the private key: {tmp_path / 'id_ed25519'}" in error


def test_a_key_file_is_never_echoed(tmp_path):
    key = tmp_path / "id"
    key.write_text("Proc-Type: secret-material-here\n")
    key.chmod(0o600)
    (error,) = _messages(_config(tmp_path, "ssh_key_file = id"))
    assert "secret-material" not in error


def _pair(folder: Path, name: str, names: list[str], days: int = 365, issuer=None, ca: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
    cert = (x509.CertificateBuilder().subject_name(subject)
            .issuer_name(issuer[0].subject if issuer else subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer[1] if issuer else key, hashes.SHA256()))
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                                           serialization.NoEncryption()))
    return cert, key


def test_certificates_that_are_right_are_taken(tmp_path):
    ca = _pair(tmp_path, "ca", ["cluster CA"], ca=True)
    _pair(tmp_path, "registry", ["registry.example.org"], issuer=ca)
    _pair(tmp_path, "vip", ["10.1.0.100"], issuer=ca)
    _pair(tmp_path, "consul", ["server.dc1.consul"], issuer=ca)
    more = ("\n[registry]\nhostname = registry.example.org\ntls_cert = registry.crt\ntls_key = registry.key\n"
            "\n[lb]\nm1\na1\n\n[keepalived]\nvip = 10.1.0.100/24\n"
            "\n[haproxy]\ntls_cert = vip.crt\ntls_key = vip.key\n"
            "\n[consul]\ntls = true\ntls_ca_file = ca.crt\ntls_cert_file = consul.crt\ntls_key_file = consul.key\n")
    assert _messages(_config(tmp_path, more=more)) == []


def test_a_chain_in_the_certificate_file_leads_to_the_ca(tmp_path):
    ca = _pair(tmp_path, "ca", ["root"], ca=True)
    intermediate = _pair(tmp_path, "intermediate", ["intermediate"], issuer=ca, ca=True)
    _pair(tmp_path, "consul", ["server.dc1.consul"], issuer=intermediate)
    (tmp_path / "chain.crt").write_bytes((tmp_path / "consul.crt").read_bytes()
                                         + (tmp_path / "intermediate.crt").read_bytes())
    more = "\n[consul]\ntls = true\ntls_ca_file = ca.crt\ntls_cert_file = chain.crt\ntls_key_file = consul.key\n"
    assert _messages(_config(tmp_path, more=more)) == []
    more = more.replace("chain.crt", "consul.crt")
    assert any("was not issued by tls_ca_file" in e for e in _messages(_config(tmp_path, more=more)))


def test_a_certificate_not_yet_valid_is_refused(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "10.1.0.5")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now + datetime.timedelta(days=30))
            .not_valid_after(now + datetime.timedelta(days=60))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("10.1.0.5"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "r.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "r.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    errors = _messages(_config(tmp_path, more="\n[registry]\ntls_cert = r.crt\ntls_key = r.key\n"))
    assert any("is not valid before" in e for e in errors), errors


@pytest.mark.parametrize("cert,key,field,message", [
    ("expired.crt", "expired.key", "tls_cert", "expired on 2020-01-01"),
    ("server.crt", "other.key", "tls_key", "tls_key does not match tls_cert"),
    ("server.crt", "encrypted.key", "tls_key", "protected by a passphrase"),
    ("server.der", "server.key", "tls_cert", "is a DER file, not PEM"),
    ("server.crt", "server-key.der", "tls_key", "is a DER file, not PEM"),
    ("yaml-instead.crt", "server.key", "tls_cert", "is a YAML file"),
    ("json-instead.crt", "server.key", "tls_cert", "is a JSON file"),
    ("keys.d", "server.key", "tls_cert", "is a folder"),
    ("server.crt", "keys.d", "tls_key", "is a folder"),
    ("server.key", "server.crt", "tls_cert", "holds a private key, not a certificate"),
    ("server.crt", "id_ed25519.pub", "tls_key", "is an SSH public key"),
    ("wrong-name.crt", "wrong-name.key", "tls_cert", "is not valid for 10.1.0.5"),
    ("nope.crt", "server.key", "tls_cert", "no such file"),
    ("GENERATE", "server.key", "tls_cert", "tls_key is given without tls_cert"),
])
def test_the_registry_certificate_and_key(tmp_path, cert, key, field, message):
    more = f"\n[registry]\ntls_cert = {FILES / cert if cert != 'GENERATE' else cert}\ntls_key = {FILES / key}\n"
    errors = _messages(_config(tmp_path, more=more))
    assert any(message in e and f"[registry] {field}" in e for e in errors), errors


def test_the_certificate_checks_hold_for_haproxy_and_consul(tmp_path):
    more = ("\n[lb]\nm1\na1\n\n[keepalived]\nvip = 10.1.0.100/24\n"
            f"\n[haproxy]\ntls_cert = {FILES / 'expired.crt'}\ntls_key = {FILES / 'expired.key'}\n"
            f"\n[consul]\ntls = true\ntls_ca_file = {FILES / 'ca.crt'}\ntls_cert_file = {FILES / 'server.crt'}"
            f"\ntls_key_file = {FILES / 'other.key'}\n")
    errors = _messages(_config(tmp_path, more=more))
    assert any("[haproxy] tls_cert" in e and "expired" in e for e in errors), errors
    assert any("[consul] tls_key_file" in e and "tls_key_file does not match tls_cert_file" in e
               for e in errors), errors


# --- cross-key rules ------------------------------------------------------------------------

@pytest.mark.parametrize("more,key,message", [
    ("[zookeeper]\ndata_dir = /var/lib/mysql\n[mysql]\nmaster = m1\nslave = a1\n", "[zookeeper] data_dir",
     "is also MySQL's data ([mysql] data_dir) on host m1"),
    ("[zookeeper]\ndata_dir = /var/lib/mysql\n[mysql]\nmaster = m1\nslave = a1\n", "[mysql] data_dir",
     "is also ZooKeeper's data ([zookeeper] data_dir) on host m1"),
    ("[mysql]\nmaster = m1\nslave = a1\ndata_dir = /var/lib/zookeeper/mysql\n", "[mysql] data_dir",
     "is inside ZooKeeper's data"),
    ("[mesos]\nmaster_work_dir = /var/lib/docker/mesos\n", "[mesos] master_work_dir", "is inside Docker's data root"),
    ("[registry]\ndata_dir = /var/lib/consul\n", "[registry] data_dir", "is also Consul's data"),
])
def test_two_components_on_one_host_never_share_a_folder(tmp_path, more, key, message):
    errors = _messages(_config(tmp_path, more=more))
    assert any(key in e and message in e for e in errors), errors


def test_the_same_folder_on_different_hosts_is_fine(tmp_path):
    # ZooKeeper on the master, MySQL on the agents: one path, two hosts.
    more = "[zookeeper]\ndata_dir = /data/db\n[mysql]\nmaster = a1\nslave = a2\ndata_dir = /data/db\n"
    assert _messages(_config(tmp_path, more=more)) == []


@pytest.mark.parametrize("cluster,more,key", [
    ("ssh_port = 8080", "", "[marathon] port"),
    ("ssh_port = 2181", "", "[zookeeper] client_port"),
    ("ssh_port = 5051", "", "[mesos] agent_port"),
    ("ssh_port = 4194", "", "[cadvisor] port"),
    ("", "[repo]\nport = 22\n", "[repo] port"),
    ("", "[lb]\nm1\na1\n[keepalived]\nvip = 10.1.0.100/24\n[haproxy]\nstats_port = 22\n", "[haproxy] stats_port"),
])
def test_no_service_on_the_ssh_port(tmp_path, cluster, more, key):
    errors = _messages(_config(tmp_path, cluster, more))
    assert any(key in e and "is [cluster] ssh_port" in e for e in errors), errors


def test_a_waiver_names_a_known_check(tmp_path):
    errors = _messages(_config(tmp_path, more="[precheck]\nwaive = dsk_space@a1, disk_space@a1, *@a2, swap@*\n"))
    assert len(errors) == 1 and "unknown check 'dsk_space'" in errors[0] and "did you mean disk_space?" in errors[0]


# --- the good configs -----------------------------------------------------------------------

def test_the_demo_config_with_a_real_key_validates(tmp_path):
    from installer.demo import DemoCluster

    key = _openssh_key(tmp_path / "id_ed25519")
    (tmp_path / "bundle").mkdir()
    path = tmp_path / "config.cfg"
    path.write_text(DemoCluster(agents=3).config_text(key, tmp_path / "bundle"))
    assert _messages(path) == []
    assert load_config(path).cluster.ssh_key_file == key
